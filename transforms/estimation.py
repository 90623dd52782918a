"""Re-estimating a model's odds ratios: the dummy coding of the modalities, which
modalities can be estimated, and the `model_estimates` rows of a fit.

Generic: the variables and modalities come from the model file's design
(`domain.estimation.design`), never from names written here. A modality that cannot be
estimated (absent, too rare, or with no or only target households: quasi-separation) gets
no dummy: it is merged into its variable's reference for the fit and reported, never
estimated to an absurd value.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from domain.estimation import (
    ABSENT, ALL_EVENTS, ESTIMATED, INTERCEPT, MODALITY, NO_EVENT, NOT_ESTIMABLE, REFERENCE, REFERENCE_TOO_RARE,
    TOO_RARE, UNSTABLE,
)

DESIGN_COLUMNS = ["model", "variable", "modality", "published_odds_ratio", "is_reference"]
COUNT_COLUMNS = ["variable", "modality", "n_sample", "n_target"]
ESTIMATE_COLUMNS = [
    "model", "term", "variable", "modality", "is_reference", "status", "reason", "n_sample", "n_target",
    "published_odds_ratio", "coefficient", "standard_error", "coefficient_ci_low", "coefficient_ci_high",
    "odds_ratio", "odds_ratio_ci_low", "odds_ratio_ci_high", "p_value", "published_outside_ci", "sample_size",
    "confidence_level",
]


# ---------------------------------------------------------------------------------------
# Dummy coding


def dummy_name(variable: str, modality: str) -> str:
    """The column of a modality's dummy: is__<variable>__<modality>."""
    return f"is__{variable}__{modality}"


def dummy(variable: str, modality: str) -> Column:
    """1.0 when the row's modality of `variable` is `modality`, else 0.0 (null when the row
    has no modality: such a row cannot be fitted and is refused before)."""
    return (F.col(variable) == F.lit(modality)).cast("double")


def with_dummies(terms: Sequence[tuple[str, str]]):
    """Transform: one dummy column per (variable, modality) of `terms`, in that order."""
    def add(df: DataFrame) -> DataFrame:
        return df.select("*", *[dummy(v, m).alias(dummy_name(v, m)) for v, m in terms])
    return add


# ---------------------------------------------------------------------------------------
# Which modalities can be estimated


def modality_counts(labelled: DataFrame, variables: Sequence[str], label: str = "target") -> DataFrame:
    """Households of the sample per (variable, modality), and of them in the target (`label`
    is 0/1): variable, modality, n_sample, n_target. A modality absent from the sample has
    no row."""
    pairs = F.array(*[F.struct(F.lit(v).alias("variable"), F.col(v).alias("modality")) for v in variables])
    return (labelled.select(F.inline(pairs), F.col(label).cast("long").alias("label"))
            .groupBy("variable", "modality")
            .agg(F.count(F.lit(1)).alias("n_sample"), F.sum("label").alias("n_target"))
            .select(*COUNT_COLUMNS))


def classify(design: DataFrame, counts: DataFrame, min_count: int) -> DataFrame:
    """The design's modalities (DESIGN_COLUMNS, one model) with their counts in the sample
    (0 when absent) and what the fit can do with them: `status` reference, estimated (a
    dummy) or not_estimable, with the `reason`. First reason that applies: the variable's
    reference is below `min_count` (the whole variable is then left out); absent; below
    `min_count`; no household in the target; every household in the target."""
    by_variable = design.join(counts, on=["variable", "modality"], how="left").select(
        *DESIGN_COLUMNS,
        F.coalesce(F.col("n_sample"), F.lit(0)).cast("long").alias("n_sample"),
        F.coalesce(F.col("n_target"), F.lit(0)).cast("long").alias("n_target"))
    reference = by_variable.where(F.col("is_reference")).select(
        "model", "variable", F.col("modality").alias("reference"), F.col("n_sample").alias("n_reference"))
    classified = by_variable.join(reference, on=["model", "variable"], how="left")

    n, n_target = F.col("n_sample"), F.col("n_target")
    reference_too_rare = F.col("n_reference") < min_count
    is_absent = n == 0
    is_too_rare = n < min_count
    has_no_event = n_target == 0
    has_only_events = n_target == n
    candidate = ~F.col("is_reference")
    reason = F.coalesce(
        F.when(reference_too_rare, F.format_string(REFERENCE_TOO_RARE, F.col("reference"), F.lit(min_count),
                                                   F.col("n_reference"))),
        F.when(candidate & is_absent, F.lit(ABSENT)),
        F.when(candidate & is_too_rare, F.format_string(TOO_RARE, F.lit(min_count), n)),
        F.when(candidate & has_no_event, F.lit(NO_EVENT)),
        F.when(candidate & has_only_events, F.lit(ALL_EVENTS)),
    )
    status = (F.when(reason.isNotNull(), F.lit(NOT_ESTIMABLE))
              .when(F.col("is_reference"), F.lit(REFERENCE))
              .otherwise(F.lit(ESTIMATED)))
    return classified.select(*DESIGN_COLUMNS, "n_sample", "n_target", status.alias("status"),
                             reason.alias("reason"))


# ---------------------------------------------------------------------------------------
# The rows of a fit


@dataclass(frozen=True)
class Fit:
    """A fitted logistic regression, as the rows need it: the dummies' (variable, modality)
    in the order of the coefficient arrays, and the intercept's figures."""

    terms: tuple[tuple[str, str], ...]
    coefficients: tuple[float, ...]
    standard_errors: tuple[float, ...]
    p_values: tuple[float, ...]
    intercept: float
    intercept_standard_error: float
    intercept_p_value: float
    sample_size: int
    n_target: int
    unstable: Mapping[tuple[str, str], float] = field(default_factory=dict)  # merged after a fit: ln-OR SE


def z_value(level: float) -> float:
    """The normal quantile of a two-sided interval at `level` (1.96 at 0.95)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def _lookup(keys: Sequence[tuple[str, str]], values: Sequence[float], variable: Column, modality: Column) -> Column:
    """The value of the row's (variable, modality) in a literal map; null when absent."""
    if not keys:
        return F.lit(None).cast("double")
    pairs = [x for (v, m), value in zip(keys, values) for x in (F.lit(f"{v}\u0000{m}"), F.lit(float(value)))]
    return F.element_at(F.create_map(*pairs), F.concat(variable, F.lit("\u0000"), modality))


def estimates(classified: DataFrame, fit: Fit, level: float, max_standard_error: float) -> DataFrame:
    """The model_estimates rows of one model (ESTIMATE_COLUMNS): one per modality of
    `classified` (the output of `classify`), with the fit's coefficient, Wald interval and
    p-value for each estimated one, then one intercept row. A modality of `fit.unstable` is
    reported not_estimable with its standard error (it was merged into the reference and
    the model refitted)."""
    z = z_value(level)
    variable, modality = F.col("variable"), F.col("modality")
    unstable_se = _lookup(list(fit.unstable), list(fit.unstable.values()), variable, modality)
    is_unstable = F.col("status").eqNullSafe(ESTIMATED) & unstable_se.isNotNull()
    status = F.when(is_unstable, F.lit(NOT_ESTIMABLE)).otherwise(F.col("status"))
    reason = F.when(is_unstable, F.format_string(UNSTABLE, unstable_se, F.lit(max_standard_error))) \
        .otherwise(F.col("reason"))
    rows = classified.select(*DESIGN_COLUMNS, "n_sample", "n_target", status.alias("status"), reason.alias("reason"))

    is_estimated = F.col("status") == ESTIMATED
    coefficient = F.when(is_estimated, _lookup(fit.terms, fit.coefficients, variable, modality)) \
        .when(F.col("status") == REFERENCE, F.lit(0.0))
    standard_error = F.when(is_estimated, _lookup(fit.terms, fit.standard_errors, variable, modality))
    p_value = F.when(is_estimated, _lookup(fit.terms, fit.p_values, variable, modality))
    modalities = rows.select(
        "model", F.lit(MODALITY).alias("term"), "variable", "modality", "is_reference", "status", "reason",
        "n_sample", "n_target", "published_odds_ratio", coefficient.alias("coefficient"),
        standard_error.alias("standard_error"), p_value.alias("p_value"))

    intercept = classified.select("model").distinct().select(
        "model", F.lit(INTERCEPT).alias("term"), F.lit(None).cast("string").alias("variable"),
        F.lit(None).cast("string").alias("modality"), F.lit(None).cast("boolean").alias("is_reference"),
        F.lit(ESTIMATED).alias("status"), F.lit(None).cast("string").alias("reason"),
        F.lit(fit.sample_size).cast("long").alias("n_sample"), F.lit(fit.n_target).cast("long").alias("n_target"),
        F.lit(None).cast("double").alias("published_odds_ratio"), F.lit(float(fit.intercept)).alias("coefficient"),
        F.lit(float(fit.intercept_standard_error)).alias("standard_error"),
        F.lit(float(fit.intercept_p_value)).alias("p_value"))

    low = F.col("coefficient") - z * F.col("standard_error")
    high = F.col("coefficient") + z * F.col("standard_error")
    is_modality = F.col("term") == MODALITY
    odds_low, odds_high = F.when(is_modality, F.exp(low)), F.when(is_modality, F.exp(high))
    outside = (F.col("published_odds_ratio") < odds_low) | (F.col("published_odds_ratio") > odds_high)
    return modalities.unionByName(intercept).select(
        "model", "term", "variable", "modality", "is_reference", "status", "reason", "n_sample", "n_target",
        "published_odds_ratio", "coefficient", "standard_error", low.alias("coefficient_ci_low"),
        high.alias("coefficient_ci_high"), F.when(is_modality, F.exp("coefficient")).alias("odds_ratio"),
        odds_low.alias("odds_ratio_ci_low"), odds_high.alias("odds_ratio_ci_high"), "p_value",
        outside.alias("published_outside_ci"), F.lit(fit.sample_size).cast("long").alias("sample_size"),
        F.lit(float(level)).alias("confidence_level"))


def is_unstable(standard_error: float, max_standard_error: float) -> bool:
    """A ln-OR standard error that says the fit did not pin the coefficient down."""
    return not math.isfinite(standard_error) or standard_error > max_standard_error
