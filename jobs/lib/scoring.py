"""Scoring one month: what `dmde score` runs, and what `dmde replay` runs each month.

For score month M: reads and validates the sources M needs (the snapshots of W12, the
payments, declarations and events of W24, the past controls); computes the 19 variables,
applies every model of the calibrated model file, blends them as the file says, ranks
each Caf's households, applies the control delays, explains each score, and selects each
Caf's target list. Rows breaking a rule of expectations/ go to `quarantine`; a
table-level failure stops the run. The tables features, scores, targets and quarantine
are committed together at the end, then one row goes to `runs`: a failed run changes
nothing, a re-run replaces the month.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from domain.calendar import Calendar, Span
from domain.errors import DmdeError
from domain.model import ModelSpec
from jobs.lib import summaries, tables
from jobs.lib.config import Config
from jobs.lib.models import load_scoring_model
from jobs.lib.opbd import caf_starts
from jobs.lib.publish import RUNS_SCHEMA, Publication
from jobs.lib.runner import Progress, code_version, new_run_id
from jobs.lib.sources import require_sources
from jobs.lib.validation import read_validated
from transforms import model, ranking
from transforms.features import compute_features, features_from_months


class ScoringError(DmdeError):
    """A run that cannot produce trustworthy scores: nothing is written."""


def score_columns(spec: ModelSpec) -> list[str]:
    return [
        "score_month", "caf", "household_id", *spec.score_columns,
        "rank_in_caf", "households_in_caf", "percentile_in_caf", "decile", "eligible", "ineligible_reason",
        "last_dmde_control_date", "eligible_from",
        *[f"factor_{i}{suffix}" for i in range(1, model.TOP_FACTORS + 1)
          for suffix in ("", "_label", "_odds_ratio")],
    ]


TARGET_COLUMNS = [
    "score_month", "caf", "target_rank", "household_id", "score", "rank_in_caf", "percentile_in_caf",
    "decile", "capacity", "factor_1_label", "factor_2_label", "factor_3_label",
]


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


def score_month(spark: SparkSession, config: Config, month: date, progress: Progress | None = None, *,
                model_file: Path | None = None, full: bool = False) -> dict:
    """Score one month with the data dir's calibrated model (or `model_file`); return the
    `runs` row that was published.

    When the data dir has source-month summaries (`household_months`, jobs/lib/summaries.py)
    and not `full`: the months of W24 not summarised yet, or whose sources changed since,
    are summarised first (each its own `ingest` run, said so); the variables are then
    computed from the 24 summaries, the snapshot of M-1, the spells and the controls (the
    only rows this run reads and validates). Otherwise every source row of the windows is
    read and validated (the full recomputation); both give the same variables.
    """
    progress = progress or Progress("score")
    require_sources(config)
    if model_file is not None and not Path(model_file).is_file():
        raise ScoringError(f"--model {model_file}: no such file. Nothing was written.")
    spec = load_scoring_model(config, Path(model_file) if model_file is not None else None)
    cal = config.calendar(month)
    version = spec.calibrated_version()
    month_only = {"score_month": [month]}
    from_summaries = not full and summaries.present(config)
    if from_summaries:
        summaries.refresh(spark, config, summaries.months_needed(config, cal), progress)
    publication = Publication(spark, config, "runs", RUNS_SCHEMA, "score", month, new_run_id("score", month), scope={
        "features": month_only, "scores": month_only, "targets": month_only,
        "quarantine": {"job": ["score"], "score_month": [month]}})
    with publication:
        run_id = publication.run_id
        progress.say(f"run {run_id}: score month {month:%Y-%m}, model {version}")
        for note in publication.notes:
            progress.say(note)
        # Every source row is validated before any variable is computed (expectations/): the
        # valid rows are scored, the others go to `quarantine`; a table-level failure stops here.
        smic_eur, rules = config.smic_for(cal.snapshot_month), config.rules
        if from_summaries:
            validation = summaries.read_validated_besides(spark, config, cal, run_id, progress)
            sources = validation.sources
            variables = features_from_months(summaries.read_summaries(spark, config, cal), sources.households,
                                             sources.members, cal=cal, smic_eur=smic_eur, rules=rules)
        else:
            validation = read_validated(spark, config, Span.of(cal), run_id, progress)
            sources = validation.sources
            variables = compute_features(sources.households, sources.members, sources.payments,
                                         sources.declarations, sources.events, cal=cal, smic_eur=smic_eur,
                                         rules=rules)
        progress.echo(validation.summary())
        features = (variables
                    .transform(model.with_modalities, spec)
                    .persist(StorageLevel.MEMORY_AND_DISK))
        households = progress.stage("features", features.count)
        if households == 0:
            raise ScoringError(f"No household in the snapshot of {cal.snapshot_month:%Y-%m}: "
                               f"is {config.source_path('households')} complete? Nothing was written.")

        scored = (features
                  .transform(model.with_prefill_start(caf_starts(spark, config)))
                  .transform(model.score, spec, month))
        progress.stage("check modalities", check_scorable, scored, spec, cal)
        scores = (scored
                  .transform(ranking.rank_within_caf)
                  .transform(ranking.national_decile)
                  .transform(ranking.eligibility, ranking.last_dmde_control(sources.controls, month), month,
                             config.control_delays)
                  .select(*score_columns(spec), F.lit(version).alias("model_version"), F.lit(run_id).alias("run_id"))
                  .persist(StorageLevel.MEMORY_AND_DISK))
        progress.stage("scores", scores.count)
        eligible = scores.where(F.col("eligible")).count()
        capacity = ranking.monthly_capacity(
            scores, national_per_year=config.capacity.national_controls_per_year,
            reference_households=config.capacity.reference_households,
            per_caf_monthly=config.capacity.per_caf_monthly)
        targets = ranking.targets(scores, capacity).select(*TARGET_COLUMNS, F.lit(run_id).alias("run_id"))
        frames = {"features": features.select("*", F.lit(version).alias("model_version"),
                                              F.lit(run_id).alias("run_id")),
                  "scores": scores, "targets": targets, "quarantine": validation.quarantine}
        run = {"model_version": version, "code_version": code_version(), "households_scored": households,
               "households_eligible": eligible, "rows_read": validation.rows("read"),
               "rows_used": validation.rows("used"), "rows_quarantined": validation.rows("quarantined"),
               "stage_seconds": progress.durations}
        published = progress.stage("commit", publication.commit, frames, run, progress)
    features.unpersist()
    scores.unpersist()
    validation.unpersist()
    return published


def latest_snapshot_month(config: Config) -> date:
    """The last month of the households table, from its partition values (no data read)."""
    require_sources(config)
    path = config.source_path("households")
    latest = tables.max_partition_value(path, "month") if tables.exists(path) else None
    if latest is None:
        raise ScoringError(f"{path} holds no snapshot: there are no sources in {config.data_dir}. Load the "
                           f"month's extract (or `dmde generate … --data-dir {config.data_dir}` for a synthetic "
                           "population) first.")
    return latest


def summary(config: Config, run: dict, progress: Progress) -> str:
    rows = run["output_rows"]
    seconds = progress.total_seconds
    return (f"[score] {run['score_month']:%Y-%m}: {run['households_scored']:,} households scored "
            f"({run['households_eligible']:,} eligible), {rows['targets']:,} targets, "
            f"in {seconds:.1f} s ({run['households_scored'] / max(seconds, 1e-9):,.0f} households/s)\n"
            f"  tables: {config.output_path('scores')}, {config.output_path('targets')}, "
            f"{config.output_path('features')}, {config.output_path('runs')}")
