"""Validate the source tables a score month reads, before any variable is computed.

    dmde validate --month 2026-02 [--data-dir DIR]

Every source table has a suite in `expectations/` (schema and row rules). A row that
breaks a rule (a bad code, a negative amount, a duplicated key, an orphan payment…) is
set aside whole with the rule's name: `dmde score` writes it to the `quarantine` table
and scores with the valid rows. A table-level failure (a missing column, a wrong type, an
empty month partition, more rejected rows than `quality.max_quarantine_share`) stops the
run before anything is written, with one paragraph per failure saying which table, which
rule, how many rows, example keys and what to do.

Great Expectations reports on the same rules: its JSON results (and HTML data docs) go
with the job's own summary to <data-dir>/<quality.results_dir>/<run_id>/. This command
only validates and reports; it writes no table.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import reduce
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

import expectations
from expectations.gx_suite import SCHEMA_RULE, gx_suite
from expectations.rules import Parameters, TableSuite
from jobs import delta
from jobs.cli import Progress, job_main, load_job_config
from jobs.config import Config
from jobs.sources import FEATURE_TABLES, SOURCE_TABLES, Sources, months, read_controls, read_sources
from jobs.spark import get_spark
from transforms import quality
from transforms.columns import month_start
from transforms.features import Calendar

PERIOD_RULE = "partition_not_empty"
SHARE_RULE = "max_quarantine_share"


class DataQualityError(RuntimeError):
    """A source table cannot be trusted as a whole: nothing is written. The message is one
    paragraph per failure, meant to be read by whoever is paged."""

    def __init__(self, paragraphs: Sequence[str], results_path: Path | None = None) -> None:
        self.paragraphs = list(paragraphs)
        self.results_path = results_path
        super().__init__("\n\n".join(self.paragraphs))


@dataclass(frozen=True)
class TableCounts:
    read: int
    used: int
    quarantined: int
    by_rule: dict[str, int]
    by_period: dict[str, int]

    @property
    def share(self) -> float:
        return self.quarantined / self.read if self.read else 0.0


@dataclass
class Validation:
    """The valid rows of every source table, the rejected ones and what was found."""

    run_id: str
    score_month: date
    sources: Sources  # valid rows only, same shape as read_sources'
    controls: DataFrame  # valid rows only
    quarantine: DataFrame  # quality.QUARANTINE_COLUMNS
    counts: dict[str, TableCounts]
    results_path: Path
    notes: list[str] = field(default_factory=list)
    _cached: list[DataFrame] = field(default_factory=list, repr=False)

    def rows(self, kind: str) -> dict[str, int]:
        """{table: rows} for kind read, used or quarantined (the `runs` maps)."""
        return {table: getattr(counts, kind) for table, counts in self.counts.items()}

    def unpersist(self) -> None:
        for df in self._cached:
            df.unpersist()

    def summary(self) -> str:
        return format_summary(self.score_month, self.run_id, self.counts, self.results_path, self.notes)


# ---------------------------------------------------------------------------------------
# Parameters and schemas


def parameters(config: Config, cal: Calendar) -> Parameters:
    ceilings = config.quality.ceilings
    return Parameters(
        score_month=cal.score_month, snapshot_month=cal.snapshot_month, as_of=cal.as_of,
        w12_months=tuple(months(cal.w12_start, cal.snapshot_month)),
        w24_months=tuple(months(cal.w24_start, cal.snapshot_month)),
        prefill_starts={caf.code: caf.prefill_start for caf in config.cafs},
        max_payment_eur=ceilings.payment_eur, max_resources_eur=ceilings.resources_eur,
        max_declaration_eur=ceilings.declaration_eur, max_control_eur=ceilings.control_eur,
        max_overpayment_months=ceilings.overpayment_months,
        earliest_birth_date=config.quality.earliest_birth_date,
    )


def results_path(config: Config, run_id: str) -> Path:
    return config.data_dir / config.quality.results_dir / run_id


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


def schema_problems(suite: TableSuite, schema: StructType) -> list[SchemaProblem]:
    """Missing columns and wrong types (nullability aside); extra columns are allowed."""
    found = {f.name: f.dataType for f in schema}
    unexpected = tuple(name for name in found if name not in suite.schema)
    problems = []
    for column, expected in suite.schema.items():
        if column not in found:
            problems.append(SchemaProblem(suite.table, column, expected.simpleString(), None, unexpected))
        elif found[column] != expected:
            problems.append(SchemaProblem(suite.table, column, expected.simpleString(),
                                          found[column].simpleString(), unexpected))
    return problems


def check_source_schemas(spark: SparkSession, config: Config, cal: Calendar, run_id: str) -> None:
    """The schema of every source table, from its Delta log (no data read): a drifted
    column stops the run before `read_sources` filters on it."""
    suites = expectations.suites(parameters(config, cal))
    missing = [name for name in SOURCE_TABLES if not delta.table_exists(config.source_path(name))]
    if missing:
        month = f"{cal.score_month:%Y-%m}"
        raise DataQualityError([
            f"Source table {name}: there is no Delta table at {config.source_path(name)} (rule table_exists), "
            f"so score month {month} cannot be validated and the run stopped: nothing was written and the output "
            f"tables are unchanged. What to do: check conf `sources.{name}` and --data-dir, load the extract "
            f"(or `dmde generate` for a synthetic population), then rerun `dmde score --month {month}`."
            for name in missing])
    frames = {name: delta.read_table(spark, config.source_path(name)) for name in SOURCE_TABLES}
    _raise_on_schema_drift(config, cal, run_id, suites, {t: df.schema for t, df in frames.items()}, frames)


def _raise_on_schema_drift(config: Config, cal: Calendar, run_id: str, suites: Mapping[str, TableSuite],
                           schemas: Mapping[str, StructType], frames: Mapping[str, DataFrame] | None = None) -> None:
    problems = {table: schema_problems(suites[table], schemas[table]) for table in suites}
    problems = {table: found for table, found in problems.items() if found}
    if not problems:
        return
    path = results_path(config, run_id)
    gx_results = {}
    if frames is not None:
        # GX's schema expectations run no Spark job: its report of the drift comes free.
        gx_results = run_great_expectations({t: frames[t] for t in problems}, suites, run_id=run_id,
                                            docs_dir=None, examples=0, schema_only=True)
    paragraphs = [_schema_paragraph(config, cal, table, found, path) for table, found in problems.items()]
    _write_results(path, run_id=run_id, score_month=cal.score_month, suites=suites, counts={},
                   gx_results=gx_results, failures=paragraphs, notes=[], examples={},
                   schema={t: [str(p) for p in found] for t, found in problems.items()})
    raise DataQualityError(paragraphs, path)


def _schema_paragraph(config: Config, cal: Calendar, table: str, problems: list[SchemaProblem],
                      path: Path) -> str:
    source = config.source_path(table)
    try:
        rows = f"all {delta.table_rows(source):,} rows of the table are affected"
    except Exception:  # noqa: BLE001 - the count only decorates the message
        rows = "every row of the table is affected"
    return (f"Source table {table} ({source}) does not have the schema of expectations/{table}.py "
            f"(rule {SCHEMA_RULE}): {'; '.join(str(p) for p in problems)}. {rows.capitalize()}, so the "
            f"run stopped before reading it: nothing was written and the output tables are unchanged. "
            f"What to do: have the extract deliver the columns and types of DATA.md again; if the change is "
            f"intended, update expectations/{table}.py and the code that reads the column, then rerun "
            f"`dmde validate --month {cal.score_month:%Y-%m}` and `dmde score --month {cal.score_month:%Y-%m}`. "
            f"Details: {path / 'summary.json'}.")


# ---------------------------------------------------------------------------------------
# Validation


def validate(spark: SparkSession, config: Config, sources: Sources, controls: DataFrame, cal: Calendar,
             run_id: str, progress: Progress | None = None) -> Validation:
    """Split every source table into valid and quarantined rows, report with Great
    Expectations, and raise DataQualityError on a table-level failure (nothing cached
    is left behind then). `progress` times each step as a stage "validate: <step>"."""
    progress = progress or Progress("validate")
    suites = expectations.suites(parameters(config, cal))
    frames = {**sources.as_dict(), "controls": controls}
    _raise_on_schema_drift(config, cal, run_id, suites, {t: df.schema for t, df in frames.items()}, frames)
    path = results_path(config, run_id)
    codes = [caf.code for caf in config.cafs]

    # Referential integrity needs the snapshots of every month the payments and DTR cover.
    snapshots = delta.read_table(spark, config.source_path("households"),
                                 where={"month": months(cal.w24_start, cal.snapshot_month)})
    snapshots = snapshots.select("household_id", "month", "caf")
    # The lookups of the rules that compare rows (duplicated keys, orphans, pre-filling
    # starts) are computed once, from key columns only; cached, their real size lets Spark
    # broadcast them to the rows. The rows themselves are not cached: reading them again
    # costs less than caching them (measured).
    lookups = {table: {rule: lookup.persist(StorageLevel.MEMORY_AND_DISK) for rule, lookup in
                       quality.lookups(df, suites[table], snapshots).items()} for table, df in frames.items()}
    cached = [lookup for by_rule in lookups.values() for lookup in by_rule.values()]
    try:
        progress.stage("validate: lookups", _materialize, cached)
        tagged = {table: quality.tag(df, suites[table], lookups[table]) for table, df in frames.items()}
        valid = {table: quality.valid_rows(tagged[table], frames[table].columns) for table in frames}
        scored_cafs = valid["households"].where(F.col("month") == F.lit(cal.snapshot_month)).select("household_id", "caf")
        rejected = [quality.quarantine_rows(tagged[table], suites[table], frames[table].columns,
                                            score_month=cal.score_month, run_id=run_id) for table in frames]
        quarantine = quality.with_caf(reduce(DataFrame.unionByName, rejected), scored_cafs, codes)
        quarantine = quarantine.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(quarantine)
        counts = progress.stage("validate: quarantine", table_counts, frames, quarantine, suites)
        examples = rule_examples(quarantine, config.quality.examples_per_rule) \
            if any(c.quarantined for c in counts.values()) else {}
        failures, notes = table_level_findings(config, cal, suites, counts, examples, path)
        gx_results = progress.stage(
            "validate: great expectations", run_great_expectations,
            tagged, suites, run_id=run_id, docs_dir=path / "data_docs" if config.quality.data_docs else None,
            examples=config.quality.gx_unexpected_examples, schema_only=not config.quality.gx_row_rules)
        notes += disagreements(counts, gx_results)
        _write_results(path, run_id=run_id, score_month=cal.score_month, suites=suites, counts=counts,
                       gx_results=gx_results, failures=failures, notes=notes, examples=examples)
        if failures:
            raise DataQualityError(failures, path)
    except BaseException:
        for df in cached:
            df.unpersist()
        raise
    return Validation(
        run_id=run_id, score_month=cal.score_month,
        sources=Sources(**{table: valid[table] for table in FEATURE_TABLES}), controls=valid["controls"],
        quarantine=quarantine, counts=counts, results_path=path, notes=notes, _cached=cached)


def _materialize(frames: Sequence[DataFrame]) -> None:
    """Fill the caches of `frames` in one Spark job."""
    if frames:
        reduce(DataFrame.union, [df.select(F.lit(1).alias("one")) for df in frames]).count()


def table_counts(frames: Mapping[str, DataFrame], quarantine: DataFrame, suites: Mapping[str, TableSuite]
                 ) -> dict[str, TableCounts]:
    """Rows read (and per period) of every table, from its period column only, and rows
    quarantined per rule, from the quarantine: the one pass over the tagged rows, which
    fills its cache. Two Spark jobs."""
    read = reduce(DataFrame.unionByName, [quality.read_counts(df, suites[table]) for table, df in frames.items()])
    by_rule: dict[str, dict[str | None, int]] = {table: {} for table in frames}
    for row in quality.rule_counts(quarantine).collect():
        by_rule[row.table][row.rule] = row.rows
    out = {}
    for row in read.collect():
        rules = by_rule[row.table]
        quarantined = rules.pop(None, 0)
        out[row.table] = TableCounts(read=row.rows_read, used=row.rows_read - quarantined, quarantined=quarantined,
                                     by_rule={rule.name: rules.get(rule.name, 0) for rule in suites[row.table].rules},
                                     by_period=dict(row.by_period))
    return out


def rule_examples(quarantine: DataFrame, per_rule: int) -> dict[tuple[str, str], list[str]]:
    """{(table, rule): a few keys of rows quarantined for that rule}: one Spark job."""
    out: dict[tuple[str, str], list[str]] = {}
    for row in quality.examples(quarantine, per_rule).collect():
        out.setdefault((row.table, row.rule), []).append(row.key)
    return {key: sorted(keys) for key, keys in out.items()}


def table_level_findings(config: Config, cal: Calendar, suites: Mapping[str, TableSuite],
                         counts: Mapping[str, TableCounts], examples: Mapping[tuple[str, str], list[str]],
                         path: Path) -> tuple[list[str], list[str]]:
    """(failures, notes): empty partitions and shares of rejected rows above the threshold
    fail the run; a history that starts inside the window is only noted."""
    failures, notes = [], []
    month = f"{cal.score_month:%Y-%m}"
    for table, suite in suites.items():
        table_counts_ = counts[table]
        if suite.periods is not None:
            failure, note = _period_findings(config, month, table, suite, table_counts_, path)
            failures += failure
            notes += note
        limit = config.quality.max_quarantine_share
        if table_counts_.read and table_counts_.share > limit:
            failures.append(_share_paragraph(config, month, table, suite, table_counts_, examples, limit, path))
    return failures, notes


def _period_findings(config: Config, month: str, table: str, suite: TableSuite, counts: TableCounts,
                     path: Path) -> tuple[list[str], list[str]]:
    """An empty partition between two that hold rows (or at the end, when the last one is
    required) fails; empty partitions before the first rows are a history starting later."""
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
    if gaps:
        filled = [n for _, n in rows if n]
        usual = (f"about {sum(filled) // len(filled):,} rows in each of its other {periods.column} partitions"
                 if filled else "no rows in any of them")
        failures.append(
            f"Source table {table} ({config.source_path(table)}) has no rows for {periods.column} "
            f"{', '.join(gaps)} (rule {PERIOD_RULE}), which score month {month} reads; the table has {usual}. "
            f"An empty partition means an incomplete extract, and variables computed without it would be "
            f"silently wrong, so the run stopped: nothing was written and the output tables are unchanged. "
            f"What to do: reload {table} for {', '.join(gaps)} (check the extraction of that period), then "
            f"rerun `dmde validate --month {month}` and `dmde score --month {month}`. "
            f"Details: {path / 'summary.json'}.")
    return failures, notes


def _share_paragraph(config: Config, month: str, table: str, suite: TableSuite, counts: TableCounts,
                     examples: Mapping[tuple[str, str], list[str]], limit: float, path: Path) -> str:
    broken = sorted(((n, name) for name, n in counts.by_rule.items() if n), reverse=True)
    details = "; ".join(
        f"{name} {n:,} row(s) ({suite.rule(name).description}), e.g. "
        f"{' | '.join(examples.get((table, name), [])[:3]) or 'see the quarantine rows'}"
        for n, name in broken[:4])
    more = f"; and {len(broken) - 4} other rule(s)" if len(broken) > 4 else ""
    return (f"Source table {table} ({config.source_path(table)}): {counts.quarantined:,} of its "
            f"{counts.read:,} rows read for score month {month} ({counts.share:.2%}) break row rules, more than "
            f"quality.max_quarantine_share ({limit:.2%}; rule {SHARE_RULE}). By rule: {details}{more}. "
            f"So many rejected rows point at the extract or at a rule rather than at a few bad rows, so the run "
            f"stopped: nothing was written and the output tables are unchanged. What to do: look at the rows "
            f"(summary {path / 'summary.json'}, Great Expectations' {path / f'{table}.gx.json'}); if the "
            f"extract is wrong, fix and reload it; if a rule is wrong (a new code, a higher ceiling), change "
            f"expectations/{table}.py or conf quality.ceilings; then rerun `dmde score --month {month}`. "
            f"To score with these rows set aside anyway, raise quality.max_quarantine_share with --conf.")


# ---------------------------------------------------------------------------------------
# Great Expectations


def run_great_expectations(frames: Mapping[str, DataFrame], suites: Mapping[str, TableSuite], *, run_id: str,
                           docs_dir: Path | None, examples: int, schema_only: bool = False) -> dict[str, dict]:
    """Each table's suite through GX (1.24, ephemeral context, Spark data source, one
    whole-dataframe batch per table); {table: {"json": describe_dict with each
    expectation's rule, "rules": {rule: {"success", "unexpected_count"}}}}."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig,
    )

    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False, progress_bars=ProgressBarsConfig(globally=False)))
    if docs_dir is not None:
        context.add_data_docs_site("dmde", {"class_name": "SiteBuilder", "store_backend": {
            "class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)}})
    source = context.data_sources.add_spark("sources", persist=False)
    gx_run = gx.RunIdentifier(run_name=run_id)
    out = {}
    for table, df in frames.items():
        suite = suites[table]
        batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(table)
        definition = context.validation_definitions.add(gx.ValidationDefinition(
            name=table, data=batch, suite=context.suites.add(gx_suite(suite, schema_only=schema_only))))
        if examples and not schema_only:
            result_format = {"result_format": "SUMMARY", "partial_unexpected_count": examples,
                             "unexpected_index_column_names": list(suite.key)}
        else:
            result_format = {"result_format": "BASIC", "partial_unexpected_count": 0}
        result = definition.run(batch_parameters={"dataframe": df}, result_format=result_format, run_id=gx_run)
        described = result.describe_dict()
        rules: dict[str, dict] = {}
        for entry, outcome in zip(described["expectations"], result.results):
            rule = outcome.expectation_config.meta.get("rule")
            entry["rule"] = rule
            if rule == SCHEMA_RULE:
                rules.setdefault(rule, {"success": True})
                rules[rule]["success"] &= bool(outcome.success)
            else:
                rules[rule] = {"success": bool(outcome.success),
                               "unexpected_count": (outcome.result or {}).get("unexpected_count")}
        out[table] = {"json": described, "rules": rules}
    if docs_dir is not None:
        try:
            context.build_data_docs(site_names=["dmde"])
        except Exception as err:  # noqa: BLE001 - the HTML is a convenience; the JSON is kept
            print(f"[validate] GX data docs not rendered ({err}); the JSON results are kept.", file=sys.stderr)
    return out


def disagreements(counts: Mapping[str, TableCounts], gx_results: Mapping[str, dict]) -> list[str]:
    """Rules whose GX count differs from the job's filter: their two translations disagree."""
    notes = []
    for table, result in gx_results.items():
        for rule, outcome in result["rules"].items():
            ours = counts[table].by_rule.get(rule) if table in counts else None
            theirs = outcome.get("unexpected_count")
            if rule != SCHEMA_RULE and ours is not None and theirs is not None and ours != theirs:
                notes.append(f"{table}.{rule}: Great Expectations counts {theirs:,} row(s), the job's filter "
                             f"{ours:,}: compare expectations/gx_suite.py with transforms/quality.py.")
    return notes


# ---------------------------------------------------------------------------------------
# Results: JSON, HTML and the printed summary


def _write_results(path: Path, *, run_id: str, score_month: date, suites: Mapping[str, TableSuite],
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
                         quarantined_share=c.share, rows_per_partition=c.by_period)
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


# ---------------------------------------------------------------------------------------
# dmde validate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=month_start, required=True, help="score month YYYY-MM")


def validate_month(spark: SparkSession, config: Config, month: date, progress: Progress | None = None) -> Validation:
    """What `dmde score` does before computing anything, alone."""
    progress = progress or Progress("validate")
    cal = Calendar(month, config.windows.short_months, config.windows.long_months)
    run_id = f"validate-{month:%Y-%m}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    progress.stage("check schemas", check_source_schemas, spark, config, cal, run_id)
    sources = progress.stage("read sources", read_sources, spark, config, cal)
    controls = read_controls(spark, config, month)
    return progress.stage("validate", validate, spark, config, sources, controls, cal, run_id, progress)


def run(args: argparse.Namespace) -> int:
    config = load_job_config(args)
    spark = get_spark(config.spark.app_name, config.spark.master, config.spark.conf)
    try:
        validation = validate_month(spark, config, args.month)
    except DataQualityError as err:
        print(f"dmde validate: {err}", file=sys.stderr)
        return 1
    print(validation.summary())
    validation.unpersist()
    return 0


__all__ = ["DataQualityError", "TableCounts", "Validation", "check_source_schemas", "parameters",
           "schema_problems", "validate", "validate_month"]

if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
