"""Score every household of a month and write the ranked lists.

    dmde score --month 2026-02 [--data-dir DIR]
    dmde score --from 2025-06 --to 2026-02          # backfill, one month after the other

For score month M: reads the snapshots of W12 (the scored population is the snapshot of
M-1), the payments, declarations and events of W24 and the past controls; computes the 19
variables, applies both models of the calibrated model file, blends them prorata
temporis, ranks each Caf's households, applies the control delays, explains each score,
and selects each Caf's target list. The sources are validated first (jobs/validate.py):
rows breaking a rule of expectations/ go to `quarantine`, a table-level failure stops the
run. The tables features, scores, targets and quarantine (partitioned by caf and
score_month) are staged first and committed together at the end: a failed run changes
nothing, a re-run replaces the month. One row per run goes to `runs`.
"""
from __future__ import annotations

import argparse
import sys
import uuid
from datetime import date, datetime, timezone
from importlib.metadata import version as package_version

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import delta
from jobs.calibrate import load_scoring_model, model_version
from jobs.cli import Progress, job_main, load_job_config
from jobs.config import Config, ModelSpec
from jobs.sources import Sources, months, read_controls, read_sources
from jobs.spark import get_spark
from jobs.validate import DataQualityError, Validation, check_source_schemas, validate
from transforms import model, ranking
from transforms.columns import add_months, month_start
from transforms.features import Calendar, Rules, compute_features

OUTPUT_PARTITIONS = ["caf", "score_month"]


class ScoringError(RuntimeError):
    """A run that cannot produce trustworthy scores: nothing is written."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--month", type=month_start,
                      help="score month YYYY-MM (default: the month after the latest snapshot)")
    when.add_argument("--from", dest="first", type=month_start, help="first month of a backfill")
    parser.add_argument("--to", dest="last", type=month_start, help="last month of a backfill (with --from)")


def calendar(config: Config, score_month: date) -> Calendar:
    return Calendar(score_month, config.windows.short_months, config.windows.long_months)


def caf_table(spark: SparkSession, config: Config) -> DataFrame:
    return spark.createDataFrame([(c.code, c.prefill_start) for c in config.cafs],
                                 "caf string, prefill_start date")


def score_households(features: DataFrame, cafs: DataFrame, spec: ModelSpec, cal: Calendar) -> DataFrame:
    """Modalities, both models, the blend and the explanation, one row per household."""
    with_modalities = model.with_modalities(features, spec).join(F.broadcast(cafs), on="caf", how="left")
    return model.score(with_modalities, spec, cal.score_month, cal.long_months)


def check_scorable(scored: DataFrame, spec: ModelSpec, cal: Calendar) -> None:
    """Every household must match a modality of every variable and belong to a known Caf."""
    problems = scored.where(model.unmatched(spec) | F.col("prefill_start").isNull())
    count = problems.count()
    if count:
        examples = [r.household_id for r in problems.select("household_id").limit(5).collect()]
        raise ScoringError(
            f"{count} household(s) of {cal.score_month:%Y-%m} cannot be scored: an input matches no "
            f"modality of the model file, or the Caf is not in conf/cafs.csv (e.g. {', '.join(examples)}). "
            "Check the sources with `dmde validate`; nothing was written.")


SCORE_COLUMNS = [
    "score_month", "caf", "household_id", "p_model1", "p_model2", "w_model2", "score",
    "rank_in_caf", "households_in_caf", "percentile_in_caf", "decile", "eligible", "ineligible_reason",
    "last_dmde_control_date", "eligible_from",
    "factor_1", "factor_1_label", "factor_1_odds_ratio",
    "factor_2", "factor_2_label", "factor_2_odds_ratio",
    "factor_3", "factor_3_label", "factor_3_odds_ratio",
]
TARGET_COLUMNS = [
    "score_month", "caf", "target_rank", "household_id", "score", "rank_in_caf", "percentile_in_caf",
    "decile", "capacity", "factor_1_label", "factor_2_label", "factor_3_label",
]


def score_month(spark: SparkSession, config: Config, month: date, progress: Progress | None = None) -> dict:
    """Score one month; return the `runs` row that was written."""
    progress = progress or Progress("score")
    spec = load_scoring_model(config)
    cal = calendar(config, month)
    run_id = f"score-{month:%Y-%m}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    started = datetime.now(timezone.utc)
    version = model_version(spec)
    print(f"[score] run {run_id}: score month {month:%Y-%m}, model {version}", flush=True)

    # Every source row is validated before any variable is computed (expectations/): the
    # valid rows are scored, the others go to `quarantine`; a table-level failure stops here.
    progress.stage("check schemas", check_source_schemas, spark, config, cal, run_id)
    sources: Sources = progress.stage("read sources", read_sources, spark, config, cal)
    validation: Validation = progress.stage("validate", validate, spark, config, sources,
                                            read_controls(spark, config, month), cal, run_id, progress)
    print(validation.summary(), flush=True)
    sources = validation.sources
    features = compute_features(*[getattr(sources, t) for t in ("households", "members", "payments",
                                                                 "declarations", "events")],
                                cal=cal, smic_eur=config.smic_for(cal.snapshot_month),
                                rules=Rules.of(config.rules))
    features = features.persist(StorageLevel.MEMORY_AND_DISK)
    households = progress.stage("features", features.count)
    if households == 0:
        raise ScoringError(f"No household in the snapshot of {cal.snapshot_month:%Y-%m}: "
                           f"is {config.source_path('households')} complete? Nothing was written.")

    scored = score_households(features, caf_table(spark, config), spec, cal)
    progress.stage("check modalities", check_scorable, scored, spec, cal)
    delays = config.control_delays
    ranked = (scored
              .transform(ranking.rank_within_caf)
              .transform(ranking.national_decile)
              .transform(lambda df: ranking.eligibility(
                  df, ranking.last_dmde_control(validation.controls, month), month,
                  with_impact_months=delays.with_impact_months,
                  without_impact_months=delays.without_impact_months,
                  uniform_from=delays.uniform_from, uniform_months=delays.uniform_months)))
    scores = ranked.select(*SCORE_COLUMNS, F.lit(version).alias("model_version"), F.lit(run_id).alias("run_id"))
    scores = scores.persist(StorageLevel.MEMORY_AND_DISK)
    progress.stage("scores", scores.count)

    capacity = ranking.monthly_capacity(
        scores, national_per_year=config.capacity.national_controls_per_year,
        reference_households=config.capacity.reference_households,
        per_caf_monthly=config.capacity.per_caf_monthly)
    targets = ranking.targets(scores, capacity).select(*TARGET_COLUMNS, F.lit(run_id).alias("run_id"))
    feature_table = model.with_modalities(features, spec).select(
        "*", F.lit(version).alias("model_version"), F.lit(run_id).alias("run_id"))

    month_only = {"score_month": [month]}
    pending: list[delta.PendingWrite] = []
    try:
        for name, df in (("features", feature_table), ("scores", scores), ("targets", targets),
                         ("quarantine", validation.quarantine)):
            pending.append(progress.stage(
                f"stage {name}", delta.stage_write, df, config.output_path(name),
                partition_by=OUTPUT_PARTITIONS, run_id=run_id, replace_where=month_only,
                operation=f"SCORE {month:%Y-%m}"))
    except BaseException:
        for write in pending:
            write.abort()
        raise
    counts = {name: write.rows for name, write in zip(("features", "scores", "targets"), pending)}  # quarantine: in rows_quarantined
    eligible = scores.where(F.col("eligible")).count()
    run = {
        "run_id": run_id, "score_month": month, "status": "succeeded",
        "model_version": version, "code_version": package_version("dmde"),
        "started_at": started, "finished_at": None,
        "households_scored": households, "households_eligible": eligible,
        "output_rows": counts, "rows_read": validation.rows("read"), "rows_used": validation.rows("used"),
        "rows_quarantined": validation.rows("quarantined"), "stage_seconds": dict(progress.durations),
    }
    run["finished_at"] = datetime.now(timezone.utc)
    runs = delta.stage_write(runs_frame(spark, run), config.output_path("runs"), partition_by=["score_month"],
                             run_id=run_id, mode="append", operation=f"SCORE {month:%Y-%m}")
    progress.stage("commit", delta.commit_all, [*pending, runs])
    features.unpersist()
    scores.unpersist()
    validation.unpersist()
    return run


RUNS_SCHEMA = ("run_id string, score_month date, status string, model_version string, code_version string, "
               "started_at timestamp, finished_at timestamp, households_scored long, households_eligible long, "
               "output_rows map<string,long>, rows_read map<string,long>, rows_used map<string,long>, "
               "rows_quarantined map<string,long>, stage_seconds map<string,double>")


def runs_frame(spark: SparkSession, run: dict) -> DataFrame:
    return spark.createDataFrame([run], RUNS_SCHEMA)


def latest_snapshot_month(config: Config) -> date:
    """The last month of the households table, from its partition values (no data read)."""
    latest = delta.max_partition_value(config.source_path("households"), "month")
    if latest is None:
        raise ScoringError(f"{config.source_path('households')} has no snapshot: generate or load sources first.")
    return latest


def run(args: argparse.Namespace) -> int:
    config = load_job_config(args)
    spark = get_spark(config.spark.app_name, config.spark.master, config.spark.conf)
    try:
        if args.first:
            wanted = months(args.first, args.last or args.first)
        else:
            wanted = [args.month or add_months(latest_snapshot_month(config), 1)]
        for month in wanted:
            progress = Progress("score")
            result = score_month(spark, config, month, progress)
            print(summary(config, result, progress))
    except (ScoringError, DataQualityError) as err:
        print(f"dmde score: {err}", file=sys.stderr)
        return 1
    return 0


def summary(config: Config, run: dict, progress: Progress) -> str:
    rows = run["output_rows"]
    seconds = progress.total_seconds
    return (f"[score] {run['score_month']:%Y-%m}: {run['households_scored']:,} households scored "
            f"({run['households_eligible']:,} eligible), {rows['targets']:,} targets, "
            f"in {seconds:.1f} s ({run['households_scored'] / max(seconds, 1e-9):,.0f} households/s)\n"
            f"  tables: {config.output_path('scores')}, {config.output_path('targets')}, "
            f"{config.output_path('features')}, {config.output_path('runs')}")


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
