"""Ranking, eligibility and target lists of a score month (DMDE.md §5)."""
from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from domain.settings import ControlDelays
from transforms.columns import month_number

DECILES = 10
# percentile_approx accuracy: the rank error of a decile edge is at most n / accuracy.
DECILE_ACCURACY = 1_000_000


def rank_within_caf(scores: DataFrame, by: str = "score", rank: str = "rank_in_caf",
                    households: str = "households_in_caf", percentile: str | None = "percentile_in_caf"
                    ) -> DataFrame:
    """rank_in_caf (1 = highest score, ties broken by household id so a re-run gives the same
    order), households_in_caf and percentile_in_caf (1 = the top 1 % of the Caf). `by` ranks
    another column the same way (the monitoring's six-month benefits baseline)."""
    by_rank = Window.partitionBy("caf").orderBy(F.col(by).desc(), F.col("household_id").asc())
    whole_caf = Window.partitionBy("caf").rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    ranked = scores.select("*", F.row_number().over(by_rank).alias(rank),
                           F.count(F.lit(1)).over(whole_caf).alias(households))
    if percentile is None:
        return ranked
    return ranked.select("*", F.ceil(100 * F.col(rank) / F.col(households)).cast("int").alias(percentile))


def national_decile(scores: DataFrame, by: str = "score", decile: str = "decile") -> DataFrame:
    """decile 1 = the 10 % highest scores nationally, 10 = the lowest.

    Edges are national score quantiles, so equal scores always share a decile; computed
    by one aggregation (no global sort into a single partition).
    """
    levels = [1 - k / DECILES for k in range(1, DECILES)]      # 0.9, 0.8, … 0.1
    edges = scores.agg(F.percentile_approx(by, levels, DECILE_ACCURACY).alias("decile_edges"))
    below = F.size(F.filter(F.col("decile_edges"), lambda edge: F.col(by) < edge))
    return scores.crossJoin(F.broadcast(edges)).select(
        *scores.columns, (below + 1).cast("int").alias(decile))


def last_dmde_control(controls: DataFrame, score_month: date) -> DataFrame:
    """Per household, its last DMDE control before the score month, and whether it had a
    financial impact (an over- or underpayment > 0)."""
    before = controls.where((F.col("origin") == "DMDE") & (F.col("control_date") < F.lit(score_month)))
    impact = (F.col("overpayment_eur") > 0) | (F.col("underpayment_eur") > 0)
    last = before.groupBy("household_id").agg(
        F.max(F.struct(F.col("control_date"), impact.alias("impact"))).alias("last"))
    return last.select("household_id",
                       F.col("last.control_date").alias("last_dmde_control_date"),
                       F.col("last.impact").alias("last_dmde_control_impact"))


def eligibility(scores: DataFrame, last_controls: DataFrame, score_month: date,
                delays: ControlDelays) -> DataFrame:
    """A household is ineligible while its last DMDE control is too recent: counted in whole
    months from the control's month to the score month (a control in 2025-01 with a 12-month
    delay allows a new one from 2026-01). The delay depends on the control's financial
    impact, or not, by score month (conf `control_delays`)."""
    delay = F.when(F.col("last_dmde_control_impact"), delays.months_for(score_month, True)) \
        .otherwise(delays.months_for(score_month, False))
    joined = scores.join(last_controls, on="household_id", how="left")
    control_month = F.trunc("last_dmde_control_date", "month")
    months_since = month_number(score_month) - month_number(control_month)
    has_control = F.col("last_dmde_control_date").isNotNull()
    too_recent = has_control & (months_since < delay)
    eligible_from = F.add_months(control_month, delay)
    impact_text = F.when(F.col("last_dmde_control_impact"), "with financial impact") \
        .otherwise("without financial impact")
    reason = F.when(too_recent, F.format_string(
        "last DMDE control on %s (%s): %d-month delay, eligible from %s",
        F.col("last_dmde_control_date").cast("string"), impact_text, delay,
        F.date_format(eligible_from, "yyyy-MM")))
    return joined.select(
        "*",
        (~too_recent).alias("eligible"),
        reason.alias("ineligible_reason"),
        F.when(has_control, eligible_from).alias("eligible_from"),
    )


def monthly_capacity(scores: DataFrame, *, national_per_year: int, reference_households: int,
                     per_caf_monthly: dict[str, int]) -> DataFrame:
    """Each Caf's monthly number of DMDE controls: the national capacity shared in
    proportion to the Caf's scored households (scaled down for a population smaller than the
    reference), unless the configuration sets the Caf's own figure."""
    per_caf = scores.groupBy("caf").agg(F.count(F.lit(1)).alias("households"))
    total = F.sum("households").over(Window.partitionBy())
    national_monthly = national_per_year / 12.0
    share = F.col("households") / F.greatest(total, F.lit(reference_households))
    default = F.round(national_monthly * share).cast("int")
    override = F.element_at(F.create_map(*[x for caf, n in per_caf_monthly.items()
                                           for x in (F.lit(caf), F.lit(n))]), F.col("caf")) \
        if per_caf_monthly else F.lit(None).cast("int")
    return per_caf.select("caf", F.coalesce(override, default).alias("capacity"))


def targets(scores: DataFrame, capacity: DataFrame) -> DataFrame:
    """Each Caf's eligible households in rank order, up to its monthly capacity."""
    by_rank = Window.partitionBy("caf").orderBy(F.col("rank_in_caf").asc())
    eligible = scores.where(F.col("eligible")).select(
        "*", F.row_number().over(by_rank).alias("target_rank"))
    return eligible.join(F.broadcast(capacity), on="caf", how="inner") \
        .where(F.col("target_rank") <= F.col("capacity"))
