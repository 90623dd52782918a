"""Calibrate both models' intercepts on the OPBD random-control sample.

    dmde calibrate --month 2026-02 [--data-dir DIR]

The sample is every OPBD control dated in W12 of the month (M-12 … M-1). Each controlled
household's variables are computed as of its control month, exactly as the scoring job
computes them; its label is the model's target (an overpayment of at least 600 € over at
least 6 months). Each model's intercept b0 is the value for which the mean predicted
probability over the sample equals the observed target rate. The calibrated model file is
written next to the data, <data-dir>/models/<version>.yaml (with a dated copy in
models/history/), and the scoring job reads it from there.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import delta
from jobs.cli import job_main, load_job_config
from jobs.config import Config, ConfigError, Intercept, ModelSpec, load_model, write_model
from jobs.sources import read_sources
from jobs.spark import get_spark
from transforms import model
from transforms.calibration import in_target, solve_intercept
from transforms.columns import add_months, in_force, month_start
from transforms.features import Calendar, Rules
from transforms.features import sample_features

MIN_SAMPLE = 200


class CalibrationError(RuntimeError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=month_start, required=True,
                        help="score month YYYY-MM: the OPBD controls of the 12 months before it are used")


def calibrated_model_path(config: Config) -> Path:
    return config.data_dir / "models" / config.model_file.name


def load_scoring_model(config: Config) -> ModelSpec:
    """The calibrated model of this data directory; refuses an uncalibrated one."""
    path = calibrated_model_path(config)
    spec = load_model(path) if path.exists() else config.model
    missing = spec.uncalibrated_models()
    if missing:
        raise ConfigError(path if path.exists() else config.model_file, "models",
                          f"{', '.join(missing)} have no calibrated intercept: run "
                          f"`dmde calibrate --month YYYY-MM --data-dir {config.data_dir}` first "
                          "(it fits them on the OPBD random-control sample)")
    return spec


def model_version(spec: ModelSpec) -> str:
    months = sorted({spec.models[m].intercept.score_month for m in spec.model_names()
                     if spec.models[m].intercept is not None})
    return spec.version + "".join(f"+calibrated-{m:%Y-%m}" for m in months)


def features_at_control(spark: SparkSession, config: Config, sample: DataFrame, spec: ModelSpec) -> DataFrame:
    """Variables and modalities of each sampled household as of its control month.

    `sample` has household_id and control_month. The sources of every month involved are
    read once, reduced to the sampled households, and the variables computed in one pass.
    """
    bounds = sample.agg(F.min("control_month").alias("first"), F.max("control_month").alias("last")).first()
    if bounds.first is None:
        raise CalibrationError("the labelled sample is empty")
    first, last = (Calendar(m, config.windows.short_months, config.windows.long_months)
                   for m in (bounds.first, bounds.last))
    sources = read_sources(spark, config, first, last)
    months = sample.select("household_id", F.col("control_month").alias("score_month"))
    smic = in_force([(r.valid_from, r.net_monthly_eur) for r in config.smic],
                    F.add_months(F.col("score_month"), -1))
    features = sample_features(months, sources.households, sources.members, sources.payments,
                                  sources.declarations, sources.events, cal=first, smic_eur=smic,
                                  rules=Rules.of(config.rules))
    cafs = spark.createDataFrame([(c.code, c.prefill_start) for c in config.cafs], "caf string, prefill_start date")
    return (model.with_modalities(features.withColumnRenamed("score_month", "control_month"), spec)
            .join(sample, on=["household_id", "control_month"], how="inner")
            .join(F.broadcast(cafs), on="caf", how="left"))


def opbd_sample(controls: DataFrame, month: date, target_eur: float, target_months: int) -> DataFrame:
    """OPBD controls dated in W12 of `month`, labelled with the model's target."""
    start = add_months(month, -12)
    return controls.where((F.col("origin") == "OPBD") &
                          F.col("control_date").between(F.lit(start), F.date_sub(F.lit(month), 1))) \
        .select("household_id", F.trunc("control_date", "month").alias("control_month"),
                in_target(target_eur, target_months).cast("int").alias("target"))


def intercepts(labelled: DataFrame, spec: ModelSpec) -> dict[str, tuple[float, int, float]]:
    """Per model: (b0, sample size, observed rate)."""
    result = {}
    for name in spec.model_names():
        groups = labelled.groupBy(model.linear_predictor(spec, name).alias("s")) \
            .agg(F.count(F.lit(1)).alias("n"), F.sum("target").alias("targets")).collect()
        n = sum(g.n for g in groups)
        rate = sum(g.targets for g in groups) / n if n else 0.0
        result[name] = (solve_intercept([(g.s, g.n) for g in groups], rate), n, rate)
    return result


def calibrate(spark: SparkSession, config: Config, month: date) -> ModelSpec:
    spec = config.model
    controls = delta.read_table(spark, config.source_path("controls"))
    sample = opbd_sample(controls, month, spec.target.overpayment_min_eur, spec.target.overpayment_min_months)
    labelled = features_at_control(spark, config, sample, spec).persist(StorageLevel.MEMORY_AND_DISK)
    unscorable = labelled.where(model.unmatched(spec)).count()
    if unscorable:
        raise CalibrationError(f"{unscorable} sampled household(s) match no modality of the model file")
    size = labelled.count()
    if size < MIN_SAMPLE:
        raise CalibrationError(
            f"only {size} OPBD controls with a snapshot in the 12 months before {month:%Y-%m} "
            f"(at least {MIN_SAMPLE} needed): check the controls table or choose another month")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for name, (b0, n, rate) in intercepts(labelled, spec).items():
        spec = spec.with_intercept(name, Intercept(
            value=round(b0, 10), sample_size=n, score_month=month, computed_at=now,
            method=f"mean predicted probability over the OPBD controls of "
                   f"{add_months(month, -12):%Y-%m}…{add_months(month, -1):%Y-%m} = observed target "
                   f"rate ({100 * rate:.1f} %)"))
    labelled.unpersist()
    return spec


def run(args: argparse.Namespace) -> int:
    config = load_job_config(args)
    spark = get_spark(config.spark.app_name, config.spark.master, config.spark.conf)
    try:
        spec = calibrate(spark, config, args.month)
    except CalibrationError as err:
        print(f"dmde calibrate: {err}", file=sys.stderr)
        return 1
    path = calibrated_model_path(config)
    history = path.parent / "history" / f"{path.stem}-{args.month:%Y-%m}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.yaml"
    history.parent.mkdir(parents=True, exist_ok=True)
    write_model(spec, history)
    write_model(spec, path)
    for name in spec.model_names():
        i = spec.models[name].intercept
        print(f"[calibrate] {name}: b0 = {i.value:+.6f} on {i.sample_size:,} OPBD controls ({i.method})")
    print(f"[calibrate] wrote {path} (copy: {history})")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
