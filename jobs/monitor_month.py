"""Monitor the DMDE for the ethics committee: the `monitoring_*` tables of a month.

    dmde monitor --month 2026-02 [--data-dir DIR]
    dmde monitor --from 2025-06 --to 2026-02

Run after `dmde score` of the month. For month M it reads the published `scores`,
`targets` and `features` of M and of the months of the evaluation window E(M) = M-12 …
M-1 that have a published score run (the others are skipped and counted), the controls of
E(M), and computes (MONITORING.md):

1. `restricted/protected_attributes` of every month it needs that lacks them, or whose
   score run was replaced since: the categories of the nine populations and the six-month
   benefits baseline per scored household, from the source rows the score run used; older
   months than the retention are dropped in the same commit, then vacuumed;
2. on Spark, the population-sized work: the controls of E(M) with their scores, categories
   and selections; the cross-tab counts per Caf × attribute × category; the modality
   shares of the drift;
3. on the driver, from inputs bounded by design (those counts, the OPBD controls, a year of
   DMDE controls): every row, its Wilson or bootstrap interval, small-cell suppression;
4. commits the eight tables (this month's partition of each) and a `monitoring_runs` row
   as one publication: a failed run changes none of them.

It writes nothing the scoring reads.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date
from functools import reduce

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from domain import monitoring as vocabulary
from domain.calendar import Span, add_months, months
from domain.errors import DmdeError
from domain.model import ModelSpec
from domain.populations import intersection_column
from jobs.lib import delta, summaries, synthetic
from jobs.lib.config import Config
from jobs.lib.models import load_scoring_model
from jobs.lib.opbd import SAMPLE_MONTHS
from jobs.lib.publish import (
    MONITORING_RUNS_SCHEMA, Publication, published_runs, read_published_months,
)
from jobs.lib.runner import JobContext, Progress, code_version, job_main, month_argument, months_to_run, new_run_id
from jobs.lib.sources import read_sources, require_sources
from jobs.lib.validation import as_validated
from transforms import monitoring, populations
from transforms import monitoring_tables as rows_of
from transforms.calibration import in_target

LEDGER = "monitoring_runs"
TABLES = tuple(vocabulary.TABLE_COLUMNS)  # the eight published tables
SUMMARY_FLAGS = 10  # flagged national cells named in the summary


class MonitoringError(DmdeError):
    """A month that cannot be monitored: nothing is written."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", type=month_argument, help="score month YYYY-MM")
    when.add_argument("--from", dest="first", type=month_argument, help="first month of a range")
    parser.add_argument("--to", dest="last", type=month_argument, help="last month of a range (with --from)")


# ---------------------------------------------------------------------------------------
# 1. protected_attributes (restricted)


def attribute_columns(config: Config) -> list[str]:
    """The attributes of the populations file, then one column per intersection."""
    return [*config.populations.attributes,
            *[intersection_column(a, b) for a, b in config.monitoring.intersections]]


def attributes_of_month(spark: SparkSession, config: Config, month: date, run) -> DataFrame:
    """The categories (§1) and baseline (§2.1) of every household scored in `month`, from
    the source rows its published score run `run` used."""
    cal = config.calendar(month)
    span = Span.of(cal)
    sources = read_sources(spark, config, span, with_controls=False)
    used = as_validated(spark, config, {"households": sources.households, "members": sources.members,
                                        "payments": sources.payments}, span, month, run.run_id,
                        ingests=ingests_used(spark, config, cal, run))
    features = read_published_months(spark, config, "features", {month: run})
    categories = populations.protected_attributes(
        features, used["households"], used["members"], used["payments"], cal=cal, spec=config.populations,
        intersections=config.monitoring.intersections)
    baseline = monitoring.benefits_baseline(features.select("score_month", "caf", "household_id"),
                                            used["payments"], cal, config.monitoring.baseline_months)
    return (categories.join(baseline.select("household_id", *monitoring.BASELINE_FIELDS), on="household_id")
            .withColumn("score_run_id", F.lit(run.run_id)))


def ingests_used(spark: SparkSession, config: Config, cal, run) -> dict[date, str]:
    """{source month: ingest run id} of the W24 summaries a score run read, when it read
    summaries rather than the payments (their rejected rows are in those runs' quarantine)."""
    if "payments" in (run.rows_read or {}):
        return {}
    window = set(Span.of(cal).w24_months)
    return {m: run_id for m, (run_id, _) in summaries.published_ingests(spark, config).items() if m in window}


def refresh_attributes(spark: SparkSession, config: Config, month: date, runs: dict, progress: Progress
                       ) -> DataFrame:
    """protected_attributes of the months of `runs`: computed for those that lack them (or
    whose score run changed), written in one commit that also drops the months older than
    the retention; the rows of `runs`' months, read back."""
    path = config.restricted_path("protected_attributes")
    present: dict[date, str] = {}
    if delta.exists(path):
        stored = delta.read(spark, path, where={"score_month": sorted(runs)})
        present = {r.score_month: r.score_run_id
                   for r in stored.select("score_month", "score_run_id").distinct().collect()}  # ≤ 13 rows
    stale = [m for m, run in sorted(runs.items()) if present.get(m) != run.run_id]
    cutoff = add_months(month, -(config.monitoring.attributes_retention_months - 1))
    expired = sorted(m for m in (delta.partition_values(path, "score_month") if delta.exists(path) else ())
                     if m < cutoff)
    if stale or expired:
        frames = [attributes_of_month(spark, config, m, runs[m]) for m in stale]
        if frames:
            rows = reduce(DataFrame.unionByName, frames)
        else:  # only expiring: an empty frame of the table's schema
            rows = delta.read(spark, path).limit(0)
        commit = delta.write(rows, path, partition_by=config.partition_by("protected_attributes"),
                             mode="overwrite", replace={"score_month": stale + expired},
                             run_id=f"monitor-attributes-{month:%Y-%m}", operation=f"ATTRIBUTES {month:%Y-%m}",
                             meta={"score_month": str(month)})
        progress.say(f"protected_attributes: {len(stale)} month(s) computed"
                     + (f", {len(expired)} older than the retention dropped" if expired else "")
                     + (f" (version {commit.version}, {commit.rows:,} rows)" if commit and commit.rows else ""))
        if expired:
            delta.vacuum(spark, path, config.delta.vacuum_retention_hours)
    return delta.read(spark, path, where={"score_month": sorted(runs)})


# ---------------------------------------------------------------------------------------
# 2. Spark: the window's inputs


def calibration_months(spec: ModelSpec) -> set[date]:
    """The control months of the OPBD sample each intercept was calibrated on."""
    found = set()
    for info in spec.models.values():
        if info.intercept is not None:
            c = info.intercept.score_month
            found |= set(months(add_months(c, -SAMPLE_MONTHS), add_months(c, -1)))
    return found


def to_pandas(df: DataFrame, order: list[str]) -> pd.DataFrame:
    """A frame bounded by design, in a fixed order (the bootstrap depends on it)."""
    return df.orderBy(*order).toPandas()


def monitor_month(spark: SparkSession, config: Config, month: date, progress: Progress | None = None) -> dict:
    """Monitor one month; return the `monitoring_runs` row that was published."""
    progress = progress or Progress("monitor")
    require_sources(config)
    settings = config.monitoring
    spec = load_scoring_model(config)
    score_runs = published_runs(spark, config, "runs", "score")
    if month not in score_runs:
        raise MonitoringError(
            f"{month:%Y-%m} has no published score run in {config.data_dir}: run "
            f"`dmde score --month {month:%Y-%m} --data-dir {config.data_dir}` first, then this command again.")
    window = months(add_months(month, -settings.evaluation_months), add_months(month, -1))
    available = [m for m in window if m in score_runs]
    lookback = months(add_months(window[0], -(settings.list_lookback_months - 1)), month)
    run_of = {m: score_runs[m] for m in [*available, month]}
    version = score_runs[month].model_version
    scope = {table: {"score_month": [month]} for table in TABLES}
    publication = Publication(spark, config, LEDGER, MONITORING_RUNS_SCHEMA, "monitor", month,
                              new_run_id("monitor", month), scope=scope)
    with publication:
        run_id = publication.run_id
        progress.say(f"run {run_id}: month {month:%Y-%m}, model {version}, evaluation window "
                     f"{window[0]:%Y-%m}…{window[-1]:%Y-%m} ({len(available)} of {len(window)} months scored)")
        for note in publication.notes:
            progress.say(note)
        names = attribute_columns(config)
        attributes = progress.stage("protected attributes", refresh_attributes, spark, config, month, run_of,
                                    progress).persist(StorageLevel.MEMORY_AND_DISK)

        probabilities = [spec.probability_column(m) for m in spec.model_names()]
        scores = read_published_months(spark, config, "scores", run_of).select(
            "score_month", "household_id", *monitoring.SCORE_FIELDS, *probabilities, "eligible")
        targets = read_published_months(spark, config, "targets", {m: score_runs[m] for m in lookback
                                                                   if m in score_runs})
        targets = targets.select("score_month", "caf", "household_id", "target_rank", "capacity")
        scores_m, targets_m = (scores.where(F.col("score_month") == month),
                               targets.where(F.col("score_month") == month))
        attributes_m = attributes.where(F.col("score_month") == month)
        pooled = attributes.where(F.col("score_month") != month)

        # The controls of E(M), labelled; the scoring run of M validated them (controls before M).
        if available:
            source = read_sources(spark, config, Span.of(config.calendar(month)), with_controls=True).controls
            span = Span.of(config.calendar(month))
            source = as_validated(spark, config, {"controls": source}, span, month, score_runs[month].run_id)["controls"]
            target = in_target(spec.target.overpayment_min_eur, spec.target.overpayment_min_months)
            controls = monitoring.window_controls(source, window[0], window[-1], target).where(
                F.col("control_month").isin(*available))  # months not scored are skipped (counted)
        else:
            controls = spark.createDataFrame([], "household_id string, control_date date, control_month date, "
                                                 "origin string, mode string, overpayment_eur decimal(12,2), "
                                                 "underpayment_eur decimal(12,2), overpayment_months int, "
                                                 "fraud boolean, target boolean")
        labelled = monitoring.labelled_controls(
            controls, scores, attributes, targets, probabilities=probabilities, attribute_names=names,
            fractions=settings.fractions, lookback_months=settings.list_lookback_months,
        ).persist(StorageLevel.MEMORY_AND_DISK)
        order = ["control_date", "household_id", "origin", "mode"]
        opbd = progress.stage("OPBD controls", to_pandas, labelled.where(F.col("origin") == "OPBD"), order)
        dmde = progress.stage("DMDE controls", to_pandas, labelled.where(F.col("origin") == "DMDE"), order)
        for frame in (opbd, dmde):
            for column in ("overpayment_eur", "underpayment_eur", monitoring.BASELINE):
                frame[column] = frame[column].astype(float)
            for column in ("target", "fraud", "has_score", "on_list"):
                frame[column] = frame[column].fillna(False).astype(bool)

        # Cross-tabs on Spark.
        dmde_spark = labelled.where(F.col("origin") == "DMDE")
        at_first = monitoring.first_controls(dmde_spark).join(attributes, on=["household_id", "score_month"])
        opbd_target = (labelled.where((F.col("origin") == "OPBD") & F.col("target") & F.col("has_score"))
                       .select("caf", *names))
        representation = progress.stage(
            "representation counts", lambda: monitoring.representation_counts(
                attributes_m, scores_m, targets_m, pooled, at_first, opbd_target, names).toPandas())

        decisiveness = {}
        for horizon in settings.horizons_months:
            cohort_month = add_months(month, -horizon)
            if cohort_month not in available:
                progress.say(f"human decisiveness, {horizon} months: {cohort_month:%Y-%m} was not scored, skipped")
                continue
            cohort = monitoring.cohort_bands(scores.where(F.col("score_month") == cohort_month),
                                             targets.where(F.col("score_month") == cohort_month))
            controlled = monitoring.controlled_since(labelled, cohort_month, window[-1])
            per_caf, national = monitoring.decisiveness_counts(
                cohort, controlled, attributes.where(F.col("score_month") == cohort_month), names)
            counts = per_caf.unionByName(national.select(F.lit(vocabulary.NATIONAL).alias("caf"), *per_caf.columns[1:]))
            decisiveness[horizon] = (cohort_month, progress.stage(f"decisiveness counts {horizon}m", counts.toPandas))

        features = read_published_months(spark, config, "features", run_of)
        drift_month = monitoring.with_national(
            monitoring.modality_counts(features.where(F.col("score_month") == month), spec, settings.score_bins,
                                       scores_m), ["variable", "modality"], ["n_households"])
        current = progress.stage("drift counts", drift_month.toPandas)
        previous_month = add_months(month, -1)
        previous = None
        if previous_month in available:
            previous = monitoring.with_national(
                monitoring.modality_counts(features.where(F.col("score_month") == previous_month), spec,
                                           settings.score_bins, scores.where(F.col("score_month") == previous_month)),
                ["variable", "modality"], ["n_households"]).toPandas()
        reference_month = min(m for m, r in score_runs.items() if r.model_version == version)
        reference = current
        if reference_month != month:
            reference_scores = read_published_months(spark, config, "scores", {reference_month:
                                                                              score_runs[reference_month]})
            reference = monitoring.with_national(
                monitoring.modality_counts(read_published_months(spark, config, "features", {
                    reference_month: score_runs[reference_month]}), spec, settings.score_bins, reference_scores),
                ["variable", "modality"], ["n_households"]).toPandas()
        opbd_rates = monitoring.opbd_modality_rates(
            labelled.where((F.col("origin") == "OPBD") & F.col("has_score")), features, spec).toPandas()

        volumes_inputs = (
            monitoring.households_per_month(scores.where(F.col("score_month").isin(*available))).toPandas()
            if available else pd.DataFrame(columns=["caf", "score_month", "households"]),
            monitoring.capacity_per_month(targets.where(F.col("score_month").isin(*available))).toPandas()
            if available else pd.DataFrame(columns=["caf", "score_month", "capacity"]),
            monitoring.other_origin_counts(labelled).toPandas())
        households_scored = int(scores_m.count())

        # The rows, on the driver.
        keys = rows_of.Keys(month, run_id, version, window[0], window[-1], len(available))
        in_calibration = calibration_months(spec)
        n_in_calibration = int((opbd["has_score"] & opbd["control_month"].isin(in_calibration)).sum())
        categories = {name: config.populations.attribute(name).codes() for name in config.populations.attributes}
        intersections = [intersection_column(a, b) for a, b in settings.intersections]

        def build() -> dict[str, list[dict]]:
            built = {
                "monitoring_performance": rows_of.performance_rows(opbd, dmde, keys, settings, n_in_calibration),
                "monitoring_calibration": rows_of.calibration_rows(opbd, dmde, keys, settings, spec),
                "monitoring_model_fit": rows_of.model_fit_rows(opbd, keys, settings, spec, n_in_calibration),
                "monitoring_representation": rows_of.representation_rows(representation, keys, settings,
                                                                          categories, intersections),
                "monitoring_parity": rows_of.parity_rows(opbd, keys, settings, list(config.populations.attributes)),
                "monitoring_volumes": rows_of.volumes_rows(dmde, volumes_inputs[2], volumes_inputs[0],
                                                           volumes_inputs[1], keys, available),
                "monitoring_drift": rows_of.drift_rows(current, previous, reference, reference_month, opbd_rates,
                                                       keys, settings, spec,
                                                       monitoring.score_bin_labels(settings.score_bins)),
                "monitoring_human_decisiveness": [],
            }
            for horizon, (cohort_month, counts) in sorted(decisiveness.items()):
                built["monitoring_human_decisiveness"] += rows_of.decisiveness_rows(
                    counts, keys, settings, horizon, cohort_month, categories, intersections)
            return built

        built = progress.stage("indicators and intervals", build)
        schemas = {t: vocabulary.table_schema(t, tuple(spec.model_names())) for t in TABLES}
        frames = {t: rows_of.table_frame(t, built[t], schemas[t], settings.min_cell) for t in TABLES}
        outputs = {t: spark.createDataFrame(rows_of.records(frames[t], schemas[t]), schemas[t]) for t in TABLES}
        last_month = window[-1]
        run = {
            "model_version": version, "code_version": code_version(), "data_origin": synthetic.data_origin(config),
            "window_start": window[0], "window_end": window[-1], "window_months_available": len(available),
            "months_read": [*available, month], "households_scored": households_scored,
            "dmde_controls_month": int((dmde["control_month"] == last_month).sum()),
            "dmde_controls_window": len(dmde), "opbd_controls_window": len(opbd),
            "suppressed_rows": {t: int(frames[t]["suppressed"].fillna(False).sum()) for t in TABLES},
            "cells_tested": sum(int(frames[t]["flag"].notna().sum()) for t in TABLES if "flag" in frames[t]),
            "flagged_rows": {t: int(frames[t]["flag"].isin([vocabulary.FLAG_OVER, vocabulary.FLAG_UNDER]).sum())
                             for t in TABLES if "flag" in frames[t]},
            "stage_seconds": progress.durations,
        }
        published = progress.stage("commit", publication.commit, outputs, run, progress)
        published["flagged"] = rows_of.flagged_cells(frames)
    labelled.unpersist()
    attributes.unpersist()
    return published


def run(ctx: JobContext) -> int:
    args, config = ctx.args, ctx.config
    for month in months_to_run(args):
        progress = Progress("monitor")
        result = monitor_month(ctx.spark, config, month, progress)
        print(summary(config, result, progress))
    return 0


def summary(config: Config, run: dict, progress: Progress) -> str:
    suppressed = sum(run["suppressed_rows"].values())
    flagged = sum(run["flagged_rows"].values())
    return (f"[monitor] {run['score_month']:%Y-%m}: {run['households_scored']:,} households, "
            f"{run['dmde_controls_window']:,} DMDE and {run['opbd_controls_window']:,} OPBD controls in "
            f"{run['window_months_available']} month(s) of the window; {sum(run['output_rows'].values()):,} rows "
            f"({suppressed:,} suppressed), {flagged} flagged of {run['cells_tested']:,} tested, "
            f"in {progress.total_seconds:.1f} s\n"
            + "".join(f"  flagged: {line}\n" for line in run["flagged"][:SUMMARY_FLAGS])
            + (f"  … and {len(run['flagged']) - SUMMARY_FLAGS} more national cells flagged (the report lists them)\n"
               if len(run["flagged"]) > SUMMARY_FLAGS else "")
            + f"  tables: {config.output_path('monitoring_performance').rsplit('/', 1)[0]}/monitoring_*; "
            f"report: `dmde report --month {run['score_month']:%Y-%m} --data-dir {config.data_dir}`")


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
