"""Outcomes of the synthetic OPBD random-control sample, drawn from the published model.

Each sampled household's variables are those the scoring job computes as of its control
month; its probability of being in the target is the prorata-temporis blend of both
published models, with intercepts set so that each model's mean probability over the
sample is the published target rate (18 %). `dmde calibrate` then finds back intercepts
close to these, up to the sampling noise of the drawn outcomes.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from domain.codes import MONEY
from domain.model import ModelSpec
from transforms import model
from transforms.columns import uniform


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


def is_target(spec: ModelSpec, intercepts: Mapping[str, float], seed: int) -> Column:
    """Drawn from the published models' blend as of the control month (needs
    control_month and prefill_start): the scorer's own blend, with these intercepts."""
    p = model.blended_probability(spec, F.col("control_month"), F.col("prefill_start"), intercepts)
    return uniform(seed, "opbd_target", F.col("household_id")) < p


def outcomes(labelled: DataFrame, spec: ModelSpec, intercepts: Mapping[str, float], seed: int) -> DataFrame:
    """OPBD controls with outcomes drawn from the blended published model.

    `labelled` holds the sample's modality columns, control_month, control_date and
    prefill_start. In the target: an overpayment of 600–5 000 € over 6–24 months; outside
    it, some smaller or shorter overpayments and some underpayments.
    """
    hid = F.col("household_id")

    def u(salt: str) -> Column:
        return uniform(seed, salt, hid)

    target = is_target(spec, intercepts, seed)
    small = ~target & (u("opbd_small") < 0.25)
    over = (F.when(target, 600 + u("opbd_over") * 4400)
            .when(small, 50 + u("opbd_over") * 1500)
            .otherwise(0.0))
    over_months = (F.when(target, 6 + (u("opbd_months") * 19).cast("int"))
                   .when(small & (over >= 600), 1 + (u("opbd_months") * 5).cast("int"))
                   .when(small, 1 + (u("opbd_months") * 24).cast("int"))
                   .otherwise(0))
    under = F.when(~target & (u("opbd_under") < 0.08), 30 + u("opbd_under_eur") * 800).otherwise(0.0)
    return labelled.select(
        "household_id", "control_date", F.lit("OPBD").alias("origin"),
        F.when(u("opbd_mode") < 0.5, "ON_SITE").otherwise("DOCUMENTS").alias("mode"),
        F.round(over, 2).cast(MONEY).alias("overpayment_eur"),
        F.round(under, 2).cast(MONEY).alias("underpayment_eur"),
        over_months.cast("int").alias("overpayment_months"),
        (target & (u("opbd_fraud") < 0.05)).alias("fraud"),
        F.lit(None).cast("date").alias("target_score_month"),   # a random draw, not from a list
    )
