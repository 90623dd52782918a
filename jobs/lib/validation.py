"""The one read-and-validate pipeline every job goes through.

`read_validated` reads the source partitions a span of score months needs, checks every
row against its table's suite in `expectations/` (the job's own filter,
`transforms/quality.py`, and the Great Expectations report, `jobs/lib/gx.py`), and returns
the valid rows, the rejected ones (for the `quarantine` table) and the counts. A
table-level failure (a drifted schema, a missing, empty or thin partition, too many
rejected rows in a table or in one of its source months) raises `DataQualityError`, one
paragraph per failure (`jobs/lib/quality_report.py`), before anything is written.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import reduce
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

import expectations
from domain.calendar import Span
from domain.errors import DmdeError
from expectations.rules import Parameters, TableSuite
from jobs.lib import quality_report as report
from jobs.lib import tables
from jobs.lib.config import Config
from jobs.lib.gx import disagreements, run_great_expectations
from jobs.lib.runner import Progress
from jobs.lib.sources import SOURCE_TABLES, Sources, read_source, read_sources, require_sources
from transforms import quality


class DataQualityError(DmdeError):
    """A source table cannot be trusted as a whole: nothing is written. The message is one
    paragraph per failure, meant to be read by whoever is paged."""

    def __init__(self, paragraphs: Sequence[str], results_path: Path | None = None) -> None:
        self.paragraphs = list(paragraphs)
        self.results_path = results_path
        super().__init__("\n\n".join(self.paragraphs))


@dataclass
class Validation:
    """The valid rows of every source table, the rejected ones and what was found."""

    run_id: str
    score_month: date
    sources: Sources  # valid rows only
    quarantine: DataFrame  # quality.QUARANTINE_COLUMNS
    counts: dict[str, report.TableCounts]
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
        return report.format_summary(self.score_month, self.run_id, self.counts, self.results_path, self.notes)


def parameters(config: Config, span: Span, month: date | None = None) -> Parameters:
    """The suites' parameters for the score months of `span`, for a run of `month` (default:
    the span's last score month), whose controls are read before it."""
    ceilings = config.quality.ceilings
    return Parameters(
        score_month=span.last.score_month, snapshot_month=span.last.snapshot_month, as_of=span.last.as_of,
        controls_before=month or span.last.score_month,
        w12_months=tuple(span.w12_months), w24_months=tuple(span.w24_months),
        prefill_starts=config.prefill_starts,
        max_payment_eur=ceilings.payment_eur, max_resources_eur=ceilings.resources_eur,
        max_declaration_eur=ceilings.declaration_eur, max_control_eur=ceilings.control_eur,
        max_overpayment_months=ceilings.overpayment_months,
        earliest_birth_date=config.quality.earliest_birth_date,
    )


def results_path(config: Config, run_id: str) -> Path:
    return config.folder("validation") / run_id


def read_validated(spark: SparkSession, config: Config, span: Span, run_id: str, progress: Progress, *,
                   month: date | None = None) -> Validation:
    """Read what the score months of `span` need, and validate it (see the module doc), for
    a run of `month` (default: the span's last score month; a labelled sample's run is for
    the month after its last control month). The controls read are dated before `month`;
    the quarantine rows carry it as their score_month."""
    month = month or span.last.score_month
    require_sources(config)
    suites = expectations.suites(parameters(config, span, month))
    progress.stage("check schemas", check_source_schemas, spark, config, month, suites, run_id)
    sources = progress.stage("read sources", read_sources, spark, config, span, month)
    return progress.stage("validate", validate, spark, config, sources, span, month, suites, run_id, progress)


# ---------------------------------------------------------------------------------------
# Schemas


def schema_problems(suite: TableSuite, schema: StructType) -> list[report.SchemaProblem]:
    """Missing columns and wrong types (nullability aside); extra columns are allowed."""
    found = {f.name: f.dataType for f in schema}
    unexpected = tuple(name for name in found if name not in suite.schema)
    problems = []
    for column, expected in suite.schema.items():
        if column not in found:
            problems.append(report.SchemaProblem(suite.table, column, expected.simpleString(), None, unexpected))
        elif found[column] != expected:
            problems.append(report.SchemaProblem(suite.table, column, expected.simpleString(),
                                                 found[column].simpleString(), unexpected))
    return problems


def check_source_schemas(spark: SparkSession, config: Config, month: date, suites: Mapping[str, TableSuite],
                         run_id: str, *, job: str = "score") -> None:
    """The schema of every source table, from its Delta log (no data read): a drifted
    column stops the run before the reads filter on it. `job`: the job whose `month` it is
    (the messages name it and the command to rerun)."""
    run = report.subject(job, month)
    missing = [name for name in SOURCE_TABLES if not tables.exists(config.source_path(name))]
    if missing:
        raise DataQualityError([report.missing_table_paragraph(config, name, run) for name in missing])
    frames = {name: read_source(spark, config, name) for name in SOURCE_TABLES}
    _raise_on_schema_drift(config, month, run_id, suites, frames, run)


def _raise_on_schema_drift(config: Config, score_month: date, run_id: str, suites: Mapping[str, TableSuite],
                           frames: Mapping[str, DataFrame], run: report.Subject) -> None:
    problems = {table: schema_problems(suites[table], frames[table].schema) for table in suites}
    problems = {table: found for table, found in problems.items() if found}
    if not problems:
        return
    path = results_path(config, run_id)
    # GX's schema expectations run no Spark job: its report of the drift comes free.
    gx_results = run_great_expectations({t: frames[t] for t in problems}, suites, run_id=run_id,
                                        docs_dir=None, examples=0, schema_only=True)
    paragraphs = []
    for table, found in problems.items():
        try:
            rows = f"all {tables.row_count(config.source_path(table)):,} rows of the table are affected"
        except Exception:  # noqa: BLE001 - the count only decorates the message
            rows = "every row of the table is affected"
        paragraphs.append(report.schema_paragraph(config, run, table, found, rows, path))
    report.write_results(path, run_id=run_id, score_month=score_month, suites=suites, counts={},
                         gx_results=gx_results, failures=paragraphs, notes=[], examples={},
                         schema={t: [str(p) for p in found] for t, found in problems.items()})
    raise DataQualityError(paragraphs, path)


# ---------------------------------------------------------------------------------------
# Rows


def validate(spark: SparkSession, config: Config, sources: Sources, span: Span, month: date,
             suites: Mapping[str, TableSuite], run_id: str, progress: Progress, *,
             snapshot_months: Sequence[date] | None = None) -> Validation:
    """Split every source table read into valid and quarantined rows, report with Great
    Expectations, and raise DataQualityError on a table-level failure (nothing cached
    is left behind then). Each step is timed as a stage "validate: <step>". The schemas
    were checked before the read (`check_source_schemas`). The rules that look a row's
    household up in the snapshots read those of `snapshot_months` (default: W24 of `span`)."""
    score_month = month
    frames = sources.as_dict()
    path = results_path(config, run_id)
    codes = [caf.code for caf in config.cafs]

    # Referential integrity needs the snapshots of every month the payments and DTR cover.
    snapshots = tables.read_source(spark, config, "households",
                                   where={"month": list(snapshot_months or span.w24_months)})
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
        scored_cafs = valid["households"].where(F.col("month") == F.lit(span.last.snapshot_month)) \
            .select("household_id", "caf")
        rejected = [quality.quarantine_rows(tagged[table], suites[table], frames[table].columns,
                                            score_month=score_month, job=progress.job, run_id=run_id)
                    for table in frames]
        quarantine = quality.with_caf(reduce(DataFrame.unionByName, rejected), scored_cafs, codes)
        quarantine = quarantine.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(quarantine)
        counts = progress.stage("validate: quarantine", table_counts, frames, quarantine, suites)
        examples = rule_examples(quarantine, config.quality.examples_per_rule) \
            if any(c.quarantined for c in counts.values()) else {}
        failures, notes = report.table_level_findings(config, report.subject(progress.job, score_month), suites,
                                                       counts, examples, path)
        gx_results = progress.stage(
            "validate: great expectations", run_great_expectations,
            tagged, suites, run_id=run_id, docs_dir=path / "data_docs" if config.quality.data_docs else None,
            examples=config.quality.gx_unexpected_examples, schema_only=not config.quality.gx_row_rules)
        notes += disagreements({t: c.by_rule for t, c in counts.items()}, gx_results)
        report.write_results(path, run_id=run_id, score_month=score_month, suites=suites, counts=counts,
                             gx_results=gx_results, failures=failures, notes=notes, examples=examples)
        if failures:
            raise DataQualityError(failures, path)
    except BaseException:
        for df in cached:
            df.unpersist()
        raise
    return Validation(run_id=run_id, score_month=score_month,
                      sources=Sources(**{name: valid.get(name) for name in SOURCE_TABLES}), quarantine=quarantine,
                      counts=counts, results_path=path, notes=notes, _cached=cached)


def _materialize(frames: Sequence[DataFrame]) -> None:
    """Fill the caches of `frames` in one Spark job."""
    if frames:
        reduce(DataFrame.union, [df.select(F.lit(1).alias("one")) for df in frames]).count()


def table_counts(frames: Mapping[str, DataFrame], quarantine: DataFrame, suites: Mapping[str, TableSuite]
                 ) -> dict[str, report.TableCounts]:
    """Rows read (and per period) of every table, from its period column only, and rows
    quarantined per rule and per period, from the quarantine: the one pass over the
    tagged rows, which fills its cache. Two Spark jobs."""
    read = reduce(DataFrame.unionByName, [quality.read_counts(df, suites[table]) for table, df in frames.items()])
    by_rule: dict[str, dict[str | None, int]] = {table: {} for table in frames}
    by_period: dict[str, dict[str, int]] = {table: {} for table in frames}
    for row in quality.rule_counts(quarantine).collect():
        if row.rule is not None:
            by_rule[row.table][row.rule] = by_rule[row.table].get(row.rule, 0) + row.rows
        else:
            by_rule[row.table][None] = by_rule[row.table].get(None, 0) + row.rows
            if row.source_month is not None:
                by_period[row.table][row.source_month.isoformat()] = row.rows
    out = {}
    for row in read.collect():
        rules = by_rule[row.table]
        quarantined = rules.pop(None, 0)
        out[row.table] = report.TableCounts(
            read=row.rows_read, used=row.rows_read - quarantined, quarantined=quarantined,
            by_rule={rule.name: rules.get(rule.name, 0) for rule in suites[row.table].rules},
            by_period=dict(row.by_period), quarantined_by_period=by_period[row.table])
    return out


def rule_examples(quarantine: DataFrame, per_rule: int) -> dict[tuple[str, str], list[str]]:
    """{(table, rule): a few keys of rows quarantined for that rule}: one Spark job."""
    out: dict[tuple[str, str], list[str]] = {}
    for row in quality.examples(quarantine, per_rule).collect():
        out.setdefault((row.table, row.rule), []).append(row.key)
    return {key: sorted(keys) for key, keys in out.items()}


# ---------------------------------------------------------------------------------------
# The rows a published run used (the monitoring reads the sources as the scoring did)


def as_validated(spark: SparkSession, config: Config, frames: Mapping[str, DataFrame], span: Span, month: date,
                 run_id: str, ingests: Mapping[date, str] | None = None) -> dict[str, DataFrame]:
    """`frames` (source table → rows read for the score months of `span`) without the rows
    that the run `run_id` of `month` put in quarantine, nor those that the ingest runs
    `ingests` ({source month: run id}, when that run scored from their summaries) did: the
    rows that run used. A table with no quarantined row is returned as it is."""
    path = config.output_path("quarantine")
    if not tables.exists(path):
        return dict(frames)
    ingests = dict(ingests or {})
    rejected = (tables.read_output(spark, config, "quarantine", where={"job": ["score", "ingest"],
                                                                       "score_month": [month, *ingests]})
                .where(F.col("run_id").isin(run_id, *ingests.values())).select("table", "key"))
    counts = {r.table: r["count"] for r in rejected.groupBy("table").count().collect()}  # ≤ one row per table
    suites = expectations.suites(parameters(config, span, month))
    out = {}
    for name, df in frames.items():
        if not counts.get(name):
            out[name] = df
            continue
        keys = rejected.where(F.col("table") == name).select(F.col("key").alias("dq_key"))
        out[name] = (df.join(keys, on=quality.row_key(suites[name].key) == F.col("dq_key"),
                             how="left_anti"))
    return out
