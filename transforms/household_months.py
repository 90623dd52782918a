"""The household × month summary (issue 10): everything the 19 variables need from one
source month, so that a month's sources are read and validated once, not 24 times.

The windows of DMDE.md §2 are runs of whole months (W12 = M-12 … M-1, W24 = M-24 … M-1,
the as-of date the last day of M-1), so a household's sums and counts over a window are
the sums of its months' sums and counts: `transforms.features.features_from_months`
computes the variables from 24 of these rows. Each row of a source belongs to one month:
a payment to its benefit month, a snapshot to its month, an event to the month of its
date, a DTR to the month its quarter starts. Members are not summarised: their spells are
read as of the score month.

Money sums keep the type Spark gives a sum of the rows (decimal(22,2) for money): a sum
of months' sums cast back to it is the sum of the rows, exactly. The means the variables
divide (resources, correction gap) keep the sum and the count of the very values `avg`
reads, so that `columns.decimal_average` gives the rows' mean to the last digit.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from domain.codes import ALLOWANCE_EVENTS
from transforms.features import (
    BENEFIT_MEANS,
    BENEFIT_SUMS,
    COUNTED_EVENTS,
    benefit_is,
    count_where,
    monthly_correction_gap,
    rsa_paid,
    unverified_downward_correction,
)

MONTH_KEY = ["household_id", "month"]


def source_rows(households: DataFrame, payments: DataFrame, declarations: DataFrame,
                events: DataFrame) -> DataFrame:
    """The validated rows of the four sources, each with the month it belongs to and the
    columns it contributes (the others null), in one frame."""
    snapshots = households.select(*MONTH_KEY, "resources_eur", F.lit(True).alias("in_snapshot"))
    paid = payments.select(*MONTH_KEY, "benefit", "amount_eur")
    dtrs = declarations.select(
        "household_id", F.trunc("quarter_start", "month").alias("month"), F.lit(True).alias("is_dtr"),
        "declared_eur", "prefilled_eur", "alimony", "self_employment_eur", "corrected", "verified")
    happened = events.select("household_id", F.trunc("event_date", "month").alias("month"), "code")
    return (snapshots.unionByName(paid, allowMissingColumns=True)
            .unionByName(dtrs, allowMissingColumns=True)
            .unionByName(happened, allowMissingColumns=True))


def household_months(households: DataFrame, payments: DataFrame, declarations: DataFrame,
                     events: DataFrame) -> DataFrame:
    """One row per (household_id, month) present in any of the sources' rows:

    - `in_snapshot`: the household is in that month's snapshot; `resources_eur`, `n_resources`:
      the sum and count of its snapshot's resources (the mean over W12 divides them);
    - `total_benefits_eur`, `af_eur`, `cf_eur`, `pa_eur`, `rsa_eur`: the sums paid for that
      benefit month, every benefit code and per code (null when nothing was paid);
      `rsa_paid`: an RSA payment > 0 that month;
    - `n_dtr`, `n_dtr_alimony`, `n_dtr_self_employment`: the DTRs of a quarter starting that
      month, with alimony, with self-employment income > 0; `n_corrections` of them corrected
      downward by the household and not verified, and `correction_gap_sum` the sum of their
      (prefilled - declared) / 3;
    - `n_allowance` (ABATTEMENT or NEUTRALISATION) and `n_conlogetu`, `n_proacc`, `n_volsoc`:
      the events dated in that month.
    """
    downward = unverified_downward_correction()
    return source_rows(households, payments, declarations, events).groupBy(*MONTH_KEY).agg(
        F.coalesce(F.max("in_snapshot"), F.lit(False)).alias("in_snapshot"),
        F.sum("resources_eur").alias("resources_eur"),
        F.count("resources_eur").alias("n_resources"),
        *[F.sum(F.when(benefit_is(code), F.col("amount_eur"))).alias(BENEFIT_SUMS[mean])
          for mean, code in BENEFIT_MEANS.items()],
        F.coalesce(F.max(rsa_paid()), F.lit(False)).alias("rsa_paid"),
        count_where(F.col("is_dtr")).alias("n_dtr"),
        count_where(F.col("alimony")).alias("n_dtr_alimony"),
        count_where(F.col("self_employment_eur") > 0).alias("n_dtr_self_employment"),
        count_where(downward).alias("n_corrections"),
        F.sum(F.when(downward, monthly_correction_gap())).alias("correction_gap_sum"),
        count_where(F.col("code").isin(*ALLOWANCE_EVENTS)).alias("n_allowance"),
        *[count_where(F.col("code") == code).alias(name) for name, code in COUNTED_EVENTS.items()],
    )
