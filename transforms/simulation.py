"""DMDE controls that follow the lists (MONITORING.md §7 (3)), for synthetic data only.

In control month c, each Caf's controllers carry out about `capacity × fill_rate` DMDE
controls. A share `adherence` of them is taken from the Caf's published lists (`targets`)
of c and the months before (`list_months`); the rest is taken off the lists, among the
eligible households of deciles 1 … `off_list_deciles` of the Caf's ranking that are on none
of those lists (controllers deviate: logistics, rounds, their own leads). Nobody still inside their
control delay is controlled: both pools keep only the households eligible in the scores of
c. Within a pool, controllers pick at random, except for a planted `controller_bias`:
households of one population category are picked `odds` times as readily.

Every draw is a seeded hash of (seed, salt, month, household or Caf), so a rerun gives the
same rows; quotas are rounded at random (floor(x + u)), so that shares hold on average
over the Caf and never exceed the capacity.
"""
from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from domain.synth import ControllerBias, Simulation
from transforms.columns import uniform

DMDE = "DMDE"
ON_SITE, DOCUMENTS = "ON_SITE", "DOCUMENTS"
# The column holding a household's category of the controller bias's attribute.
BIAS_CATEGORY = "bias_category"
CONTROLS_COLUMNS = ("household_id", "control_date", "origin", "mode", "overpayment_eur", "underpayment_eur",
                    "overpayment_months", "fraud", "target_score_month")


def _month(month: date) -> Column:
    return F.lit(month)


def quotas(capacity: DataFrame, simulation: Simulation, seed: int, month: date) -> DataFrame:
    """caf, capacity, controls (≤ capacity), on_list and off_list (adding up to controls)."""
    caf, m = F.col("caf"), _month(month)
    controls = F.floor(F.col("capacity") * F.lit(simulation.fill_rate) + uniform(seed, "dmde_quota", m, caf))
    on_list = F.floor(F.col("controls") * F.lit(simulation.adherence) + uniform(seed, "dmde_on_list", m, caf))
    return (capacity
            .select("caf", "capacity", F.least(controls.cast("int"), F.col("capacity")).alias("controls"))
            .select("*", on_list.cast("int").alias("on_list"))
            .select("caf", "capacity", "controls", "on_list", (F.col("controls") - F.col("on_list")).alias("off_list")))


def on_list_pool(lists: DataFrame, eligible: DataFrame) -> DataFrame:
    """The households of the lists (household_id, score_month of the list) still eligible in
    the month (`eligible`: caf, household_id, …): caf, household_id, target_score_month (the
    latest list a household is on), …"""
    latest = lists.groupBy("household_id").agg(F.max("score_month").alias("target_score_month"))
    return eligible.join(latest, on="household_id", how="inner")


def in_top_deciles(deciles: int) -> Column:
    """Within the top `deciles` tenths of the Caf's own ranking (rank_in_caf, households_in_caf).

    The Caf's ranking, not the national decile: it is the one the Caf's controllers see, and
    a small Caf of low-risk households would otherwise have nobody off its lists."""
    return F.col("rank_in_caf") <= F.ceil(F.col("households_in_caf") * F.lit(deciles / 10))


def off_list_pool(eligible: DataFrame, on_list: DataFrame, deciles: int) -> DataFrame:
    """Eligible households of the Caf's deciles 1 … `deciles` on none of the lists;
    target_score_month null."""
    return (eligible.where(in_top_deciles(deciles))
            .join(on_list.select("household_id"), on="household_id", how="left_anti")
            .select("*", F.lit(None).cast("date").alias("target_score_month")))


def pick_weight(bias: ControllerBias | None) -> Column:
    """How readily controllers pick a household, relative to the others of its pool."""
    if bias is None:
        return F.lit(1.0)
    planted = F.coalesce(F.col(BIAS_CATEGORY) == F.lit(bias.category), F.lit(False))
    return F.when(planted, F.lit(bias.odds)).otherwise(F.lit(1.0))


def picked(pool: DataFrame, quotas: DataFrame, quota: str, weight: Column, seed: int, month: date) -> DataFrame:
    """Per Caf, `quota` households of the pool, drawn without replacement with probabilities
    proportional to `weight` (the exponential race: the smallest -ln(u)/weight win)."""
    u = uniform(seed, "dmde_pick", _month(month), F.col("household_id"))
    race = -F.log(F.lit(1.0) - u) / weight
    order = Window.partitionBy("caf").orderBy(F.col("race").asc(), F.col("household_id").asc())
    ranked = pool.select("*", race.alias("race")).select("*", F.row_number().over(order).alias("pick_rank"))
    chosen = ranked.join(F.broadcast(quotas.select("caf", F.col(quota).alias("quota"))), on="caf", how="inner")
    return chosen.where(F.col("pick_rank") <= F.col("quota")).drop("race", "pick_rank", "quota")


def controls_of_month(eligible: DataFrame, lists: DataFrame, quotas_: DataFrame, simulation: Simulation,
                      seed: int, month: date) -> DataFrame:
    """The month's DMDE controls before their outcomes: caf, household_id, control_month,
    control_date, mode, target_score_month (plus the columns of `eligible`). `eligible`:
    the month's eligible households (caf, household_id, rank_in_caf, households_in_caf, and
    BIAS_CATEGORY with a controller bias); `lists`: household_id, score_month of the lists they may be taken from."""
    weight = pick_weight(simulation.controller_bias)
    on_pool = on_list_pool(lists, eligible)
    off_pool = off_list_pool(eligible, on_pool, simulation.off_list_deciles)
    chosen = picked(on_pool, quotas_, "on_list", weight, seed, month).unionByName(
        picked(off_pool, quotas_, "off_list", weight, seed, month))
    hid, m = F.col("household_id"), _month(month)
    day = F.floor(uniform(seed, "dmde_day", m, hid) * F.dayofmonth(F.last_day(m))).cast("int")
    on_site = uniform(seed, "dmde_mode", m, hid) < F.lit(simulation.on_site_share)
    return chosen.select("*", m.alias("control_month"), F.date_add(m, day).alias("control_date"),
                         F.when(on_site, F.lit(ON_SITE)).otherwise(F.lit(DOCUMENTS)).alias("mode"))


def with_fraud_share(found: DataFrame, share: float, seed: int) -> DataFrame:
    """fraud on `share` of the controls, in expectation, only where an overpayment was found:
    each such control is a fraud with probability share × controls / controls with an
    overpayment (counted in Spark, exactly, so a rerun draws the same)."""
    overpaid = F.col("overpayment_eur") > 0
    rate = found.agg((F.lit(share) * F.count(F.lit(1)) / F.greatest(F.sum(overpaid.cast("long")), F.lit(1)))
                     .alias("fraud_probability"))
    u = uniform(seed, "dmde_fraud", F.col("household_id"), F.col("control_date"))
    return (found.drop("fraud").crossJoin(F.broadcast(rate))
            .select("*", (overpaid & (u < F.col("fraud_probability"))).alias("fraud"))
            .drop("fraud_probability"))


def as_controls(found: DataFrame) -> DataFrame:
    """The rows of the `controls` source table."""
    return found.select(
        "household_id", "control_date", F.lit(DMDE).alias("origin"), "mode", "overpayment_eur",
        "underpayment_eur", "overpayment_months", "fraud", F.col("target_score_month").cast("date"))
