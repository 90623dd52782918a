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

from datetime import date, timedelta

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import expectations
from domain.calendar import Calendar, Span, add_months, is_quarter_start
from jobs.lib import tables
from jobs.lib.config import Config
from jobs.lib.publish import RUNS_SCHEMA, Publication
from jobs.lib.runner import Progress, code_version, new_run_id
from jobs.lib.sources import Sources, read_source, require_sources
from jobs.lib.validation import check_source_schemas, parameters, validate
from transforms.household_months import household_months

TABLE = "household_months"
SUMMARISED = ("households", "payments", "declarations", "events")  # members stay spell-based


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
    progress = progress or Progress("ingest")
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
        progress.stage("check schemas", check_source_schemas, spark, config, month, suites, run_id)
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
