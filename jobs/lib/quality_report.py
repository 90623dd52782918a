"""What validation tells people: the paragraph a paged engineer reads when a table fails,
the summary printed after every validation, and the results written per run
(`<data-dir>/<paths.validation>/<run_id>/`: summary.json, index.html, GX results).

Every failure paragraph names the table, the rule, how many rows, example keys and what
to do, and says that nothing was written.
"""
from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from expectations.gx_suite import SCHEMA_RULE
from expectations.rules import TableSuite
from jobs.lib.config import Config

PERIOD_RULE = "partition_not_empty"
THIN_RULE = "partition_not_thin"
SHARE_RULE = "max_quarantine_share"
NOTHING_WRITTEN = "so the run stopped: nothing was written and the output tables are unchanged"


@dataclass(frozen=True)
class TableCounts:
    read: int
    used: int
    quarantined: int
    by_rule: dict[str, int]
    by_period: dict[str, int]  # rows read per expected period (partitioned tables)
    quarantined_by_period: dict[str, int]

    @property
    def share(self) -> float:
        return self.quarantined / self.read if self.read else 0.0


@dataclass(frozen=True)
class SchemaProblem:
    table: str
    column: str
    expected: str
    found: str | None  # None: the column is missing
    unexpected_columns: tuple[str, ...]

    def __str__(self) -> str:
        if self.found is not None:
            return f"column {self.column} is {self.found}, expected {self.expected}"
        renamed = (f" (the table has unexpected column(s) {', '.join(self.unexpected_columns)}: renamed?)"
                   if self.unexpected_columns else "")
        return f"column {self.column} ({self.expected}) is missing{renamed}"


@dataclass(frozen=True)
class Subject:
    """What a validation was run for, as its paragraphs say it: the month (`what`) and the
    command that runs it again once the sources are fixed (`rerun`)."""
    what: str
    rerun: str


def subject(job: str, month: date) -> Subject:
    """`dmde ingest` validates one source month; every other job, a score month's window."""
    m = f"{month:%Y-%m}"
    if job == "ingest":
        return Subject(f"source month {m}", f"`dmde ingest --month {m}`")
    return Subject(f"score month {m}", f"`dmde validate --month {m}` and `dmde score --month {m}`")


def missing_table_paragraph(config: Config, name: str, run: Subject) -> str:
    return (f"Source table {name}: there is no Delta table at {config.source_path(name)} (rule table_exists), "
            f"so {run.what} cannot be validated and the run stopped: nothing was written and the "
            f"output tables are unchanged. What to do: check conf `sources.{name}` and --data-dir, load the "
            f"extract (or `dmde generate` for a synthetic population), then rerun {run.rerun}.")


def schema_paragraph(config: Config, run: Subject, table: str, problems: Sequence[SchemaProblem], rows: str,
                     path: Path) -> str:
    return (f"Source table {table} ({config.source_path(table)}) does not have the schema of expectations/{table}.py "
            f"(rule {SCHEMA_RULE}): {'; '.join(str(p) for p in problems)}. {rows.capitalize()}, so the "
            f"run stopped before reading it: nothing was written and the output tables are unchanged. "
            f"What to do: have the extract deliver the columns and types of the data contract again; if the change "
            f"is intended, update expectations/{table}.py and the code that reads the column, then rerun "
            f"{run.rerun}. Details: {path / 'summary.json'}.")


def period_findings(config: Config, run: Subject, table: str, suite: TableSuite, counts: TableCounts,
                    path: Path) -> tuple[list[str], list[str]]:
    """(failures, notes) of the partitions a month reads: an empty partition between two
    that hold rows (or at the end, when the last one is required) fails, and so does a
    partition far thinner than the others (an extract cut short); empty partitions before
    the first rows are a history starting later, only noted."""
    periods = suite.periods
    rows = [(period.isoformat(), counts.by_period.get(period.isoformat(), 0)) for period in periods.expected]
    present = [i for i, (_, n) in enumerate(rows) if n]
    failures, notes = [], []
    if not present:
        gaps = [p for p, _ in rows] if periods.last_required else []
        if not periods.last_required and rows:
            notes.append(f"{table}: no rows in any of the {len(rows)} {periods.column} partitions the month reads.")
    else:
        first, last = present[0], present[-1]
        gaps = [p for p, n in rows[first:last + 1] if not n]
        trailing = [p for p, _ in rows[last + 1:]]
        if periods.last_required:
            gaps += trailing
        elif trailing:
            notes.append(f"{table}: no rows yet for {periods.column} {', '.join(trailing)}.")
        if first > 0:
            notes.append(f"{table}: no rows before {rows[first][0]} ({first} of the {len(rows)} {periods.column} "
                         f"partitions the month reads, {rows[0][0]} … {rows[first - 1][0]}): the history starts "
                         "later, the variables see fewer months.")
    filled = [n for _, n in rows if n]
    if gaps:
        usual = (f"about {sum(filled) // len(filled):,} rows in each of its other {periods.column} partitions"
                 if filled else "no rows in any of them")
        failures.append(
            f"Source table {table} ({config.source_path(table)}) has no rows for {periods.column} "
            f"{', '.join(gaps)} (rule {PERIOD_RULE}), which {run.what} reads; the table has {usual}. "
            f"An empty partition means an incomplete extract, and variables computed without it would be "
            f"silently wrong, {NOTHING_WRITTEN}. What to do: reload {table} for {', '.join(gaps)} (check the "
            f"extraction of that period), then rerun {run.rerun}. Details: {path / 'summary.json'}.")
    ratio = config.quality.min_month_rows_ratio
    thin = []
    for i, (period, n) in enumerate(rows):
        others = sorted(m for j, (_, m) in enumerate(rows) if m and j != i)
        if n and others:
            median = others[len(others) // 2] if len(others) % 2 else (others[len(others) // 2 - 1]
                                                                       + others[len(others) // 2]) / 2
            if n < ratio * median:
                thin.append((period, n, median))
    if thin:
        listed = ", ".join(f"{period} ({n:,} rows against a median of {median:,.0f})" for period, n, median in thin)
        failures.append(
            f"Source table {table} ({config.source_path(table)}) has far fewer rows in {periods.column} {listed} "
            f"than in its other partitions (rule {THIN_RULE}: at least quality.min_month_rows_ratio = {ratio:.0%} "
            f"of the median). A partition cut short means an incomplete extract, and the variables of every "
            f"household missing from it would be silently wrong, {NOTHING_WRITTEN}. What to do: check the "
            f"extraction of {', '.join(p for p, _, _ in thin)} and reload it, then rerun {run.rerun}. If the "
            f"drop is real (a change of scope), lower quality.min_month_rows_ratio with --conf. "
            f"Details: {path / 'summary.json'}.")
    return failures, notes


def share_paragraph(config: Config, run: Subject, table: str, suite: TableSuite, counts: TableCounts,
                    examples: Mapping[tuple[str, str], list[str]], path: Path, period: str | None = None) -> str:
    """The paragraph of a table (or one of its source months) with too many rejected rows."""
    limit = config.quality.max_quarantine_share
    broken = sorted(((n, name) for name, n in counts.by_rule.items() if n), reverse=True)
    details = "; ".join(
        f"{name} {n:,} row(s) ({suite.rule(name).description}), e.g. "
        f"{' | '.join(examples.get((table, name), [])[:3]) or 'see the quarantine rows'}"
        for n, name in broken[:4])
    more = f"; and {len(broken) - 4} other rule(s)" if len(broken) > 4 else ""
    if period is None:
        scope, bad, read = "", counts.quarantined, counts.read
    else:
        scope = f" of {suite.periods.column} {period}"
        bad, read = counts.quarantined_by_period.get(period, 0), counts.by_period.get(period, 0)
    return (f"Source table {table} ({config.source_path(table)}): {bad:,} of its {read:,} rows{scope} read for "
            f"{run.what} ({bad / read:.2%}) break row rules, more than quality.max_quarantine_share "
            f"({limit:.2%}, per table and per source month; rule {SHARE_RULE}). Rules broken in the table: "
            f"{details}{more}. So many rejected rows point at the extract or at a rule rather than at a few bad "
            f"rows, {NOTHING_WRITTEN}. What to do: look at the rows (summary {path / 'summary.json'}, Great "
            f"Expectations' {path / f'{table}.gx.json'}); if the extract is wrong, fix and reload it; if a rule "
            f"is wrong (a new code, a higher ceiling), change expectations/{table}.py or conf quality.ceilings; "
            f"then rerun {run.rerun}. To go on with these rows set aside anyway, raise "
            f"quality.max_quarantine_share with --conf.")


def table_level_findings(config: Config, run: Subject, suites: Mapping[str, TableSuite],
                         counts: Mapping[str, TableCounts], examples: Mapping[tuple[str, str], list[str]],
                         path: Path) -> tuple[list[str], list[str]]:
    """(failures, notes): empty or thin partitions and shares of rejected rows above the
    threshold (per table, and per source month of a partitioned table) fail the run; a
    history that starts inside the window is only noted."""
    failures, notes = [], []
    limit = config.quality.max_quarantine_share
    for table, suite in suites.items():
        c = counts[table]
        if suite.periods is not None:
            failure, note = period_findings(config, run, table, suite, c, path)
            failures += failure
            notes += note
        if c.read and c.share > limit:
            failures.append(share_paragraph(config, run, table, suite, c, examples, path))
        elif suite.periods is not None:
            for period, bad in sorted(c.quarantined_by_period.items()):
                read = c.by_period.get(period, 0)
                if read and bad / read > limit:
                    failures.append(share_paragraph(config, run, table, suite, c, examples, path, period))
    return failures, notes


# ---------------------------------------------------------------------------------------
# Results: JSON, HTML and the printed summary


def write_results(path: Path, *, run_id: str, score_month: date, suites: Mapping[str, TableSuite],
                  counts: Mapping[str, TableCounts], gx_results: Mapping[str, dict], failures: list[str],
                  notes: list[str], examples: Mapping[tuple[str, str], list[str]],
                  schema: Mapping[str, list[str]] | None = None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    tables = {}
    for table, suite in suites.items():
        entry: dict = {"suite": f"expectations/{table}.py"}
        if table in counts:
            c = counts[table]
            entry.update(rows_read=c.read, rows_used=c.used, rows_quarantined=c.quarantined,
                         quarantined_share=c.share, rows_per_partition=c.by_period,
                         quarantined_per_partition=c.quarantined_by_period)
            entry["rules"] = [{
                "rule": rule.name, "description": rule.description, "rows": c.by_rule.get(rule.name, 0),
                "gx_unexpected_count": gx_results.get(table, {}).get("rules", {}).get(rule.name, {})
                .get("unexpected_count"),
                "examples": examples.get((table, rule.name), []),
            } for rule in suite.rules]
        if schema and table in schema:
            entry["schema_problems"] = schema[table]
        if table in gx_results:
            entry["great_expectations"] = f"{table}.gx.json"
            (path / f"{table}.gx.json").write_text(json.dumps(gx_results[table]["json"], indent=1, default=str))
        tables[table] = entry
    summary = {"run_id": run_id, "score_month": score_month.isoformat(), "status": "failed" if failures else "passed",
               "written_at": datetime.now(timezone.utc).isoformat(), "failures": failures, "notes": notes,
               "tables": tables,
               "data_docs": "data_docs/index.html" if (path / "data_docs" / "index.html").exists() else None}
    (path / "summary.json").write_text(json.dumps(summary, indent=1, default=str, ensure_ascii=False))
    (path / "index.html").write_text(_html(summary), encoding="utf-8")


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.3%}"


def _html(summary: dict) -> str:
    """A self-contained page (no CDN): GX's data docs need network access for their styles."""
    e = html.escape
    rows = []
    for table, entry in summary["tables"].items():
        rows.append(f"<tr><th>{e(table)}</th><td>{entry.get('rows_read', '')}</td><td>{entry.get('rows_used', '')}"
                    f"</td><td>{entry.get('rows_quarantined', '')}</td><td>"
                    f"{_percent(entry.get('quarantined_share'))}</td>"
                    f"<td>{e('; '.join(entry.get('schema_problems', [])))}</td></tr>")
    rules = []
    for table, entry in summary["tables"].items():
        for rule in entry.get("rules", []):
            css = ' class="bad"' if rule["rows"] else ""
            rules.append(f"<tr{css}><td>{e(table)}</td><td>{e(rule['rule'])}</td><td>{rule['rows']}</td>"
                         f"<td>{'' if rule['gx_unexpected_count'] is None else rule['gx_unexpected_count']}</td>"
                         f"<td>{e(rule['description'])}</td><td>{e(' | '.join(rule['examples']))}</td></tr>")
    failures = "".join(f"<p class='failure'>{e(f)}</p>" for f in summary["failures"]) or "<p>None.</p>"
    notes = "".join(f"<li>{e(n)}</li>" for n in summary["notes"]) or "<li>None.</li>"
    links = " ".join(f"<a href='{e(t['great_expectations'])}'>{e(name)}</a>"
                     for name, t in summary["tables"].items() if t.get("great_expectations"))
    docs = f" · <a href='{summary['data_docs']}'>GX data docs</a>" if summary["data_docs"] else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>DMDE validation {e(summary['run_id'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:.3em .6em;text-align:left}}.bad{{background:#fde8e8}}.failure{{background:#fde8e8;padding:.6em}}</style></head>
<body><h1>Source validation, score month {e(summary['score_month'][:7])}: {e(summary['status'])}</h1>
<p>Run {e(summary['run_id'])}, {e(summary['written_at'])}. Great Expectations results: {links or 'none'}{docs}</p>
<h2>Table-level failures</h2>{failures}<h2>Notes</h2><ul>{notes}</ul>
<h2>Rows</h2><table><tr><th>table</th><th>read</th><th>used</th><th>quarantined</th><th>share</th><th>schema</th></tr>
{''.join(rows)}</table>
<h2>Rules</h2><table><tr><th>table</th><th>rule</th><th>rows</th><th>GX count</th><th>expected</th><th>examples</th></tr>
{''.join(rules)}</table></body></html>
"""


def format_summary(score_month: date, run_id: str, counts: Mapping[str, TableCounts], path: Path,
                   notes: Sequence[str]) -> str:
    lines = [f"[validate] {score_month:%Y-%m} (run {run_id}): source rows checked against expectations/",
             f"  {'table':<14}{'read':>12}{'used':>12}{'quarantined':>13}{'share':>9}"]
    for table, c in counts.items():
        lines.append(f"  {table:<14}{c.read:>12,}{c.used:>12,}{c.quarantined:>13,}{c.share:>9.2%}")
    broken = [(table, rule, n) for table, c in counts.items() for rule, n in c.by_rule.items() if n]
    if broken:
        lines.append("  rows set aside, by rule (a row may break several):")
        lines += [f"    {table}.{rule}: {n:,}" for table, rule, n in broken]
    lines += [f"  note: {note}" for note in notes]
    lines.append(f"  results: {path / 'summary.json'}, {path / 'index.html'}")
    if (path / "data_docs" / "index.html").exists():
        lines.append(f"  Great Expectations data docs: {path / 'data_docs' / 'index.html'}")
    return "\n".join(lines)
