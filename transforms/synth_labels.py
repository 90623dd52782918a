"""Outcomes of synthetic controls, drawn from a known truth.

The truth (`synth.truth`, conf/synth.yaml) is the model that says how likely a controlled
household is to be in the target: by default the model file's prorata-temporis blend, with
intercepts set so that the OPBD sample's target rate is the published one; or one model
alone, other odds ratios, a planted effect of a population attribute, a shifted intercept.
It is applied with the scorer's own functions (`transforms.model`): a modified model spec
and an extra log-odds term, never a second blend. `dmde calibrate` then finds back
intercepts close to the truth's, up to the sampling noise of the drawn outcomes, unless
the truth departs from the published model on purpose.

The outcomes (`synth.outcomes`) are what a control finds, coherent with the target (an
overpayment of at least 600 € over at least 6 months): in the target, such an
overpayment; outside it, a smaller or shorter overpayment, an underpayment ("rappel") or
nothing; fraud only where an overpayment was found. `with_outcomes` serves every origin.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from domain.codes import MONEY
from domain.model import ModelSpec, Target
from domain.synth import BLEND, Controls, Outcomes, Truth
from transforms import model
from transforms.columns import uniform

CONTROL_KEYS = ("household_id", "control_date")   # one control: what its draws are keyed on
# The column holding a household's category of the truth's attribute (when it has an effect).
PLANTED_CATEGORY = "planted_category"


def draw_sample(households: DataFrame, *, last_month: date, months: int, probability: float,
                seed: int) -> DataFrame:
    """Households drawn at random, each controlled in one of the last `months` months of the
    extract, among those present in the snapshot before their control month."""
    hid = F.col("household_id")
    control_month = F.add_months(F.lit(last_month), -(uniform(seed, "opbd_month", hid) * months).cast("int"))
    chosen = households.where(uniform(seed, "opbd", hid) < probability).select(
        "household_id", "month", control_month.alias("control_month"))
    return chosen.where(F.col("month") == F.add_months("control_month", -1)).select(
        "household_id", "control_month",
        F.date_add("control_month", (uniform(seed, "opbd_day", hid) * 27).cast("int")).alias("control_date"))


def planted_log_odds(truth: Truth) -> Column | None:
    """ln(odds) for the households of the truth's planted category (column PLANTED_CATEGORY),
    0 for the others; None without a planted effect."""
    effect = truth.attribute_effect
    if effect is None:
        return None
    return F.when(F.col(PLANTED_CATEGORY) == F.lit(effect.category), F.lit(math.log(effect.odds))).otherwise(F.lit(0.0))


def truth_probability(truth: Truth, spec: ModelSpec, intercepts: Mapping[str, float]) -> Column:
    """The truth's probability of being in the target, as of the control month (needs the
    modality columns, control_month, prefill_start and, with a planted effect,
    PLANTED_CATEGORY). `spec` is `truth.model_spec(model file)`."""
    offset = planted_log_odds(truth)
    if truth.model == BLEND:
        return model.blended_probability(spec, F.col("control_month"), F.col("prefill_start"), intercepts, offset)
    return model.probability(spec, truth.model, intercepts[truth.model], offset)


def is_target(probability: Column, seed: int) -> Column:
    """Whether the control finds the household in the target: drawn with this probability."""
    return uniform(seed, "target", *[F.col(c) for c in CONTROL_KEYS]) < probability


def _money(x: Column) -> Column:
    return F.round(x, 2).cast(MONEY)


def with_outcomes(controls: DataFrame, in_target: Column, outcomes: Outcomes, target: Target,
                  seed: int) -> DataFrame:
    """Add what each control (keyed by CONTROL_KEYS) finds: overpayment_eur,
    underpayment_eur, overpayment_months, fraud; `in_target` says whether it is in the target."""
    def u(salt: str) -> Column:
        return uniform(seed, salt, *[F.col(c) for c in CONTROL_KEYS])

    def log_uniform(low: float, high: float, salt: str) -> Column:
        return F.lit(low) * F.pow(F.lit(high / low), u(salt))

    def months_from(first: int, last: int) -> Column:   # a uniform integer in first … last
        return F.lit(first) + F.floor(u("overpayment_months") * (last - first + 1)).cast("int")

    drawn = controls.select("*", in_target.alias("in_target"), u("finding").alias("u_finding"))
    target_found, finding = F.col("in_target"), F.col("u_finding")
    # Outside the target, one finding at most: a smaller or shorter overpayment, or an underpayment.
    other_overpayment = ~target_found & (finding < outcomes.other_overpayment)
    underpayment = ~target_found & ~other_overpayment & (finding < outcomes.other_overpayment + outcomes.underpayment)
    other, under = outcomes.other_overpayment_eur, outcomes.underpayment_eur
    found = drawn.select(
        "*", other_overpayment.alias("other_overpayment"),
        _money(F.when(target_found, log_uniform(target.overpayment_min_eur, outcomes.target_max_eur, "overpayment_eur"))
               .when(other_overpayment, log_uniform(other.min, other.max, "overpayment_eur"))).alias("overpayment"),
        _money(F.when(underpayment, log_uniform(under.min, under.max, "underpayment_eur"))).alias("underpayment"))
    # An overpayment outside the target is below its euros, or (from them) shorter than its months.
    is_other, large = F.col("other_overpayment"), F.col("overpayment") >= F.lit(target.overpayment_min_eur)
    months = (F.when(target_found, months_from(target.overpayment_min_months, outcomes.max_months))
              .when(is_other & large, months_from(1, target.overpayment_min_months - 1))
              .when(is_other, months_from(1, outcomes.max_months)))
    fraud = (F.when(target_found, u("fraud") < outcomes.fraud_given_target)
             .when(is_other, u("fraud") < outcomes.fraud_given_other_overpayment)
             .otherwise(F.lit(False)))
    zero = F.lit(0).cast(MONEY)
    return found.select(
        *controls.columns,
        F.coalesce(F.col("overpayment"), zero).alias("overpayment_eur"),
        F.coalesce(F.col("underpayment"), zero).alias("underpayment_eur"),
        F.coalesce(months, F.lit(0)).cast("int").alias("overpayment_months"),
        fraud.alias("fraud"))


def opbd_controls(labelled: DataFrame, truth: Truth, spec: ModelSpec, intercepts: Mapping[str, float],
                  outcomes: Outcomes, controls: Controls, seed: int) -> DataFrame:
    """The OPBD random-control sample's rows of `controls`, outcomes drawn from the truth.

    `labelled` holds the sample's modality columns, control_month, control_date,
    prefill_start (and PLANTED_CATEGORY with a planted effect); `spec` is the truth's model
    spec, `intercepts` its intercepts (shift included)."""
    in_target = is_target(truth_probability(truth, spec, intercepts), seed)
    on_site = uniform(seed, "mode", *[F.col(c) for c in CONTROL_KEYS]) < controls.opbd_on_site_share
    found = with_outcomes(labelled, in_target, outcomes, spec.target, seed)
    return found.select(
        "household_id", "control_date", F.lit("OPBD").alias("origin"),
        F.when(on_site, "ON_SITE").otherwise("DOCUMENTS").alias("mode"),
        "overpayment_eur", "underpayment_eur", "overpayment_months", "fraud",
        F.lit(None).cast("date").alias("target_score_month"),   # a random draw, not from a list
    )
