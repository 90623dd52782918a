"""The labelled random-control sample (OPBD): each controlled household's variables as of
its control month, computed exactly as the scoring job computes them, and the intercepts
that make a model's mean predicted probability over it equal a target rate.

Used by `dmde calibrate` (on validated sources) and by the generator (which labels the
sample it has just written).
"""
from __future__ import annotations

from datetime import date

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from domain.calendar import Span, add_months
from domain.errors import DmdeError
from domain.model import ModelSpec
from jobs.lib.config import Config
from jobs.lib.runner import Progress
from jobs.lib.sources import Sources
from transforms import features, model, populations
from transforms.calibration import in_target, solve_intercept
from transforms.columns import in_force


SAMPLE_MONTHS = 12  # `dmde calibrate` of month C reads the OPBD controls of C-12 … C-1
MIN_SAMPLE = 200  # labelled controls at least, for the intercepts (and the estimation)


class CalibrationError(DmdeError):
    """The labelled sample cannot calibrate the model."""


def sample_span(config: Config, sample_months: tuple[date, date]) -> Span:
    """The source months that households scored at control months first…last need."""
    first, last = sample_months
    return Span(config.calendar(first), config.calendar(last))


def opbd_sample(controls: DataFrame, month: date, spec: ModelSpec, months: int) -> DataFrame:
    """OPBD controls dated in the `months` months before `month`, labelled with the
    model's target: household_id, control_month, control_date, target (0/1)."""
    start = add_months(month, -months)
    target = in_target(spec.target.overpayment_min_eur, spec.target.overpayment_min_months)
    return controls.where((F.col("origin") == "OPBD") &
                          F.col("control_date").between(F.lit(start), F.date_sub(F.lit(month), 1))) \
        .select("household_id", F.trunc("control_date", "month").alias("control_month"), "control_date",
                target.cast("int").alias("target"))


def features_at_control(spark: SparkSession, config: Config, sources: Sources, span: Span, sample: DataFrame,
                        spec: ModelSpec) -> DataFrame:
    """Variables and modalities of each sampled household as of its control month, with
    the sample's columns and the Caf's pre-filling start. `sample` has household_id and
    control_month in the score months of `span`; `sources` holds what they read."""
    scored_at = sample.select("household_id", F.col("control_month").alias("score_month"))
    smic = in_force(config.smic_table, F.add_months(F.col("score_month"), -1))
    values = features.sample_features(scored_at, sources.households, sources.members, sources.payments,
                                      sources.declarations, sources.events, cal=span.first,
                                      smic_eur=smic, rules=config.rules)
    return (model.with_modalities(values.withColumnRenamed("score_month", "control_month"), spec)
            .join(sample, on=["household_id", "control_month"], how="inner")
            .transform(model.with_prefill_start(caf_starts(spark, config))))


def labelled_sample(spark: SparkSession, config: Config, sources: Sources, span: Span, month: date,
                    spec: ModelSpec, progress: Progress) -> tuple[DataFrame, int]:
    """The OPBD sample of `month` (its controls of the SAMPLE_MONTHS before it, read from
    validated `sources`), each household's variables and modalities as of its control
    month, persisted; and its size. Refused (CalibrationError) when a household matches no
    modality of `spec` or when the sample is smaller than MIN_SAMPLE. `dmde calibrate` and
    `dmde estimate` use this same sample."""
    sample = opbd_sample(sources.controls, month, spec, SAMPLE_MONTHS)
    labelled = features_at_control(spark, config, sources, span, sample, spec).persist(StorageLevel.MEMORY_AND_DISK)
    size = progress.stage("features at control", labelled.count)
    unscorable = labelled.where(model.unmatched(spec)).count()
    if unscorable:
        labelled.unpersist()
        raise CalibrationError(f"{unscorable} sampled household(s) match no modality of the model file")
    if size < MIN_SAMPLE:
        labelled.unpersist()
        raise CalibrationError(
            f"only {size} OPBD controls with a snapshot in the {SAMPLE_MONTHS} months before {month:%Y-%m} "
            f"(at least {MIN_SAMPLE} needed): check the controls table or choose another month")
    return labelled, size


def with_population_category(config: Config, sources: Sources, span: Span, labelled: DataFrame,
                             attribute: str, column: str) -> DataFrame:
    """`labelled` (a sample's features as of each control month: household_id,
    control_month, caf, resources_smic_ratio…) with each household's category of one
    population attribute (MONITORING.md §1) as of its control month, in `column`."""
    scored_at = labelled.select("household_id", F.col("control_month").alias("score_month"), "caf",
                                "resources_smic_ratio")
    stamped = features.at_sample_months(scored_at)
    categories = populations.protected_attributes(
        scored_at, stamped(sources.households), stamped(sources.members), stamped(sources.payments),
        cal=span.first, spec=config.populations)
    return labelled.join(categories.select("household_id", F.col("score_month").alias("control_month"),
                                           F.col(attribute).alias(column)),
                         on=["household_id", "control_month"], how="left")


def caf_starts(spark: SparkSession, config: Config) -> DataFrame:
    """(caf, prefill_start): the reference table the blend reads."""
    return spark.createDataFrame(list(config.prefill_starts.items()), "caf string, prefill_start date")


def fit_intercepts(labelled: DataFrame, spec: ModelSpec, rate: float | None = None
                   ) -> dict[str, tuple[float, int, float]]:
    """Per model: (b0, sample size, rate) such that the model's mean predicted probability
    over `labelled` equals `rate` (default: the sample's observed target rate). The
    households are grouped by linear predictor (a set bounded by the model's modality
    combinations), the only thing collected."""
    result = {}
    for name in spec.model_names():
        aggregates = [F.count(F.lit(1)).alias("n")]
        if rate is None:
            aggregates.append(F.sum("target").alias("targets"))
        groups = labelled.groupBy(model.linear_predictor(spec, name).alias("s")).agg(*aggregates).collect()
        n = sum(g.n for g in groups)
        observed = rate if rate is not None else (sum(g.targets for g in groups) / n if n else 0.0)
        try:
            b0 = solve_intercept([(g.s, g.n) for g in groups], observed)
        except ValueError as err:
            raise CalibrationError(f"model {name}: {err}") from None
        result[name] = (b0, n, observed)
    return result
