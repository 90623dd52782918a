"""The household × month summaries (`household_months`, issue 10): each source month read
and validated once, and summarised (`transforms/household_months.py`).

`ingest_month(S)` reads source month S's partitions only — the snapshot of S, the payments
of benefit month S, the DTRs of a quarter starting in S, the events dated in S — and
validates them with the suites of the first score month that reads them (M = S+1, its
windows cut to the one month S): the rows it rejects go to `quarantine` (job `ingest`),
its counts to `runs` (job `ingest`; for this job `score_month` is the source month), and
the summary of the valid rows replaces partition S of `household_months`, its commit
recording the Delta version of every source table it was read at (`source_versions`).

What validation then sees differently from a score month's own (24 months at once):
- a DTR's rules that look its household up in the snapshots of its quarter (present in
  one of them; its Caf's pre-filling start) read the snapshots of the quarter's months
  that exist when S is ingested (S, S+1, S+2): those of a later month arriving change
  them, so the summary of a quarter's first month is to be rebuilt then (what the
  recorded versions are for);
- a source month too thin compared with the others cannot be seen from that month alone;
- an event without a date belongs to no month: it is not read here (`dmde score`'s full
  validation still quarantines it).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import expectations
from domain.calendar import Calendar, Span, add_months, is_quarter_start
from jobs.lib import delta, tables
from jobs.lib.config import Config
from jobs.lib.publish import RUNS_SCHEMA, Publication
from jobs.lib.runner import Progress, code_version, new_run_id
from jobs.lib.sources import Sources, read_source, read_sources, require_sources
from jobs.lib.validation import Validation, check_source_schemas, parameters, validate
from transforms.household_months import household_months

TABLE = "household_months"
SUMMARISED = ("households", "payments", "declarations", "events")  # members stay spell-based
DATE_COLUMNS = {"households": "month", "payments": "month", "declarations": "quarter_start",
                "events": "event_date"}
DATA_PRESERVING = ("OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES")  # commits that change no row


def source_month_span(config: Config, month: date) -> Span:
    """Score month S+1 with windows of the one month S: its suites check S's partitions."""
    cal = config.calendar(add_months(month, 1))
    return Span.of(Calendar(cal.score_month, short_months=1, long_months=1))


def snapshot_months(month: date) -> list[date]:
    """The snapshots a DTR of a quarter starting in `month` is looked up in (its quarter's)."""
    return [add_months(month, k) for k in range(3 if is_quarter_start(month) else 1)]


def read_source_month(spark: SparkSession, config: Config, month: date) -> Sources:
    """Source month S's rows of the summarised tables (partition filters; events by date,
    which Parquet statistics prune)."""
    last_day = add_months(month, 1) - timedelta(days=1)
    return Sources(
        households=read_source(spark, config, "households", where={"month": [month]}),
        members=None,
        payments=read_source(spark, config, "payments", where={"month": [month]}),
        declarations=read_source(spark, config, "declarations", where={"quarter_start": [month]}),
        events=read_source(spark, config, "events").where(
            F.col("event_date").between(F.lit(month), F.lit(last_day))),
        controls=None,
    )


def source_versions(config: Config) -> dict[str, int]:
    """The current Delta version of every summarised source table (from its log)."""
    return {name: tables.version(config.source_path(name)) for name in SUMMARISED}


def ingest_month(spark: SparkSession, config: Config, month: date, progress: Progress | None = None) -> dict:
    """Validate and summarise source month `month` (see the module doc); the `runs` row."""
    if progress is None or progress.job != "ingest":  # its quarantine rows carry the job's name
        progress = Progress("ingest", quiet=progress is not None and progress.quiet)
    require_sources(config)
    span = source_month_span(config, month)
    # read before the data: a source changed meanwhile makes the summary look stale, never fresh
    versions = source_versions(config)
    suites = {name: suite for name, suite in expectations.suites(parameters(config, span)).items()
              if name in SUMMARISED}
    publication = Publication(spark, config, "runs", RUNS_SCHEMA, "ingest", month, new_run_id("ingest", month),
                              scope={TABLE: {"month": [month]}, "quarantine": {"job": ["ingest"],
                                                                               "score_month": [month]}})
    with publication:
        run_id = publication.run_id
        progress.say(f"run {run_id}: source month {month:%Y-%m}")
        progress.stage("check schemas", check_source_schemas, spark, config, month, suites, run_id, job="ingest")
        sources = read_source_month(spark, config, month)
        validation = progress.stage("validate", validate, spark, config, sources, span, month, suites, run_id,
                                    progress, snapshot_months=snapshot_months(month))
        progress.echo(validation.summary())
        valid = validation.sources
        summary = household_months(valid.households, valid.payments, valid.declarations, valid.events)
        run = {"code_version": code_version(), "rows_read": validation.rows("read"),
               "rows_used": validation.rows("used"), "rows_quarantined": validation.rows("quarantined"),
               "stage_seconds": progress.durations}
        published = progress.stage(
            "commit", publication.commit, {TABLE: summary, "quarantine": validation.quarantine}, run, progress,
            meta={TABLE: {"source_month": str(month), "source_versions": versions}})
    validation.unpersist()
    return published


# ---------------------------------------------------------------------------------------
# Which summaries are up to date


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value  # a date, or None


def months_read(table: str, month: date) -> list[date]:
    """The months of `table` that the summary of source month `month` depends on: its own,
    and for the snapshots the rest of a quarter starting then (its DTRs are looked up there)."""
    return snapshot_months(month) if table == "households" else [month]


def month_files(config: Config, table: str, month: date, live_files: Sequence[Mapping]) -> set[str]:
    """The files of a source table (among its `live_files`, `delta.live_files`) that may
    hold rows the summary of `month` depends on: by partition value when the table is
    partitioned on its date column, else by the file's min/max statistics of that column
    (a file without them may hold any date)."""
    column = DATE_COLUMNS[table]
    wanted = months_read(table, month)
    first, last_day = wanted[0], add_months(wanted[-1], 1) - timedelta(days=1)
    partitioned = column in config.partition_by(table)
    out = set()
    for f in live_files:
        if partitioned:
            matters = _as_date(f.get(f"partition.{column}")) in wanted
        else:
            low, high = _as_date(f.get(f"min.{column}")), _as_date(f.get(f"max.{column}"))
            matters = low is None or high is None or (low <= last_day and high >= first)
        if matters:
            out.add(f["path"])
    return out


def published_ingests(spark: SparkSession, config: Config) -> dict[date, tuple[str, int]]:
    """{source month: (run id, version of household_months) of its latest succeeded ingest}:
    one small read of `runs` (a row per ingest, not per household)."""
    path = config.output_path("runs")
    if not delta.exists(path):
        return {}
    runs = (delta.read(spark, path).where((F.col("job") == "ingest") & (F.col("status") == "succeeded"))
            .select("score_month", "finished_at", "claim", "run_id", F.col("table_versions")[TABLE].alias("version")))
    latest: dict[date, tuple] = {}
    for r in runs.collect():
        key = (r.finished_at, r.claim)
        if r.version is not None and (r.score_month not in latest or key > latest[r.score_month][0]):
            latest[r.score_month] = (key, (r.run_id, r.version))
    return {month: published for month, (_, published) in latest.items()}


def stale_months(spark: SparkSession, config: Config, months: Sequence[date]) -> dict[date, str]:
    """{source month: why} for the months of `months` whose summary cannot be used as it
    is: none was published, a later ingest of the month did not finish, or a file of a
    source it depends on (`month_files`) was added or removed since the versions it was
    built from (a late payment, a regularisation, a reloaded extract)."""
    path = config.output_path(TABLE)
    published = {month: version for month, (_, version) in published_ingests(spark, config).items()}
    commits = delta.history(path) if delta.exists(path) else []
    current = source_versions(config)
    by_version = {c["version"]: c for c in commits}
    listed: dict[tuple[str, int], list[dict]] = {}  # each table's log read once per version, not per month

    def files(table: str, month: date, version: int) -> set[str]:
        if (table, version) not in listed:
            listed[table, version] = delta.live_files(config.source_path(table), version)
        return month_files(config, table, month, listed[table, version])

    out: dict[date, str] = {}
    for month in months:
        version = published.get(month)
        if version is None or version not in by_version:
            out[month] = "not summarised yet"
            continue
        later = [c for c in commits if c["version"] > version and c.get("operation") not in DATA_PRESERVING
                 and c["meta"].get("score_month") in (str(month), None)]
        if later:
            out[month] = f"{TABLE} changed since its last published ingest (version {version})"
            continue
        built_from: Mapping[str, int] = by_version[version]["meta"].get("source_versions", {})
        try:  # a table at the version the summary was built from is unchanged: no file to compare
            changed = [table for table in SUMMARISED if table not in built_from or
                       built_from[table] != current[table] and
                       files(table, month, built_from[table]) != files(table, month, current[table])]
        except (FileNotFoundError, OSError, ValueError) as err:  # a version past the log's retention
            out[month] = f"the source versions it was built from cannot be read any more ({err})"
            continue
        if changed:
            out[month] = f"{', '.join(changed)} changed since it was built"
    return out


def refresh(spark: SparkSession, config: Config, months: Sequence[date], progress: Progress) -> dict[date, str]:
    """Ingest every month of `months` whose summary is stale (`stale_months`), saying why;
    {month: why} of the months rebuilt."""
    stale = stale_months(spark, config, months)
    for month, why in sorted(stale.items()):
        progress.say(f"source month {month:%Y-%m}: {why}: summarising it")
        ingest_month(spark, config, month, progress)
    return stale


# ---------------------------------------------------------------------------------------
# What `dmde score` reads when the summaries are there


def present(config: Config) -> bool:
    """Whether the data dir has summaries (`dmde score` then uses them, unless --full)."""
    return delta.exists(config.output_path(TABLE))


def months_needed(config: Config, cal: Calendar) -> list[date]:
    """The source months of W24 from the first snapshot on (before it, a month has no
    snapshot to validate its rows against: the history starts later)."""
    first = min(delta.partition_values(config.source_path("households"), "month"), default=None)
    return [m for m in Span.of(cal).w24_months if first is not None and m >= _as_date(first)]


def read_summaries(spark: SparkSession, config: Config, cal: Calendar):
    """The summaries of W24 (Delta prunes the other months' partitions)."""
    return tables.read_output(spark, config, TABLE, where={"month": Span.of(cal).w24_months})


SCORING_TABLES = ("households", "members", "controls")


def read_validated_besides(spark: SparkSession, config: Config, cal: Calendar, run_id: str,
                           progress: Progress) -> Validation:
    """What score month M reads besides the summaries, validated: the snapshot of M-1 (the
    scored population), the members' spells and the controls."""
    span = Span.of(Calendar(cal.score_month, short_months=1, long_months=1))  # W12 = W24 = M-1
    suites = {name: suite for name, suite in expectations.suites(parameters(config, span)).items()
              if name in SCORING_TABLES}
    progress.stage("check schemas", check_source_schemas, spark, config, cal.score_month, suites, run_id)
    read = read_sources(spark, config, span)
    sources = Sources(households=read.households, members=read.members, payments=None, declarations=None,
                      events=None, controls=read.controls)
    return progress.stage("validate", validate, spark, config, sources, span, cal.score_month, suites, run_id,
                          progress, snapshot_months=[cal.snapshot_month])
