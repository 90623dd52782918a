"""The monitoring's population-sized work, on Spark (MONITORING.md §1–§2): the six-month
benefits baseline, the households' categories in long form, the cross-tab counts of the
representation and human-decisiveness tables, the modality shares of the drift, the top-
fraction selections of the OPBD controls. Only these counts, and the controls of a window
(bounded by design), go on to the driver (`transforms/monitoring_tables.py`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from domain.calendar import Calendar
from domain.model import ModelSpec
from domain.monitoring import ALL_ATTRIBUTES, ALL_LIST, LIST_BANDS, SCORE_VARIABLE
from transforms import ranking
from transforms.columns import month_number
from transforms.features import MEAN_SCALE, MonthWindows
from transforms.monitoring_stats import in_top_fraction

BASELINE = "benefits_6m_eur"
BASELINE_RANK = "benefits_6m_rank_in_caf"
BASELINE_DECILE = "benefits_6m_decile"


# ---------------------------------------------------------------------------------------
# §2.1: the baseline "highest cumulative benefits over six months"


def benefits_baseline(scored: DataFrame, payments: DataFrame, cal: Calendar, months: int) -> DataFrame:
    """`scored` (score_month, caf, household_id: the scored households of M) with
    benefits_6m_eur = every benefit paid with benefit month in M-months … M-1, ranked within
    the Caf by decreasing amount, ties by household_id (the scoring's own rank), and its
    national decile (§2.1, §8.3): benefits_6m_rank_in_caf, benefits_6m_decile."""
    window = MonthWindows(cal)
    paid = (payments.where(F.col("month").between(F.add_months(window.score_month, -months),
                                                   window.snapshot_month))
            .groupBy("household_id").agg(F.sum("amount_eur").alias("paid")))
    amounts = scored.join(paid, on="household_id", how="left").select(
        *scored.columns, F.coalesce(F.col("paid"), F.lit(0)).cast(MEAN_SCALE).alias(BASELINE))
    ranked = ranking.rank_within_caf(amounts, by=BASELINE, rank=BASELINE_RANK,
                                     households="baseline_households_in_caf", percentile=None)
    return ranking.national_decile(ranked, by=BASELINE, decile=BASELINE_DECILE).drop("baseline_households_in_caf")


# ---------------------------------------------------------------------------------------
# Categories in long form


def categories_long(attributes: DataFrame, names: Sequence[str], keep: Sequence[str]) -> DataFrame:
    """One row per household and attribute (`keep` columns, attribute, category), plus one
    row `attribute = category = 'ALL'` per household: the totals of a selection."""
    pairs = [F.struct(F.lit(ALL_ATTRIBUTES).alias("attribute"), F.lit(ALL_ATTRIBUTES).alias("category"))]
    pairs += [F.struct(F.lit(name).alias("attribute"), F.col(name).alias("category")) for name in names]
    return attributes.select(*keep, F.explode(F.array(*pairs)).alias("pair")).select(
        *keep, "pair.attribute", "pair.category")


def count_by_category(rows: DataFrame, counts: Mapping[str, Column], by: Sequence[str] = ("caf",)) -> DataFrame:
    """(by…, attribute, category, one count per entry of `counts`): how many rows satisfy
    each condition (a `True` condition counts every row)."""
    return rows.groupBy(*by, "attribute", "category").agg(
        *[F.count_if(condition).cast("bigint").alias(name) for name, condition in counts.items()])


# ---------------------------------------------------------------------------------------
# §2.1: the OPBD selections


def with_selections(controls: DataFrame, fractions: Sequence[float]) -> DataFrame:
    """Adds, per fraction q, `model_<i>` (rank_in_caf ≤ ceil(q·households_in_caf)) and
    `baseline_<i>` (the baseline's rank, the same way), i the fraction's position."""
    return controls.select(
        "*",
        *[in_top_fraction("rank_in_caf", "households_in_caf", q).alias(f"model_{i}") for i, q in enumerate(fractions)],
        *[in_top_fraction(BASELINE_RANK, "households_in_caf", q).alias(f"baseline_{i}")
          for i, q in enumerate(fractions)])


def on_list(controls: DataFrame, targets: DataFrame, lookback_months: int) -> DataFrame:
    """Adds `on_list`: the household was in `targets` of its control month or of the
    `lookback_months - 1` months before (§2.1 ON_LIST); `targets` has household_id,
    score_month."""
    listed = targets.select("household_id", F.col("score_month").alias("list_month")).distinct()
    within = (F.col("list_month") <= F.col("control_month")) & (
        F.col("list_month") >= F.add_months(F.col("control_month"), -(lookback_months - 1)))
    found = (controls.select("household_id", "control_date", "control_month")
             .join(listed, on="household_id", how="inner").where(within)
             .select("household_id", "control_date").distinct().select("*", F.lit(True).alias("on_list")))
    return controls.join(found, on=["household_id", "control_date"], how="left") \
        .withColumn("on_list", F.coalesce(F.col("on_list"), F.lit(False)))


# ---------------------------------------------------------------------------------------
# §2.6: human decisiveness


def cohort_bands(scores: DataFrame, targets: DataFrame) -> DataFrame:
    """The households eligible in the scores of cohort month K, each with its band: LIST_Q1…
    LIST_Q4 on the Caf's list of K (quartile = ceil(4 · target_rank / capacity)), else
    OFF_LIST_DECILE_1 for national decile 1, DECILE_2 … DECILE_10."""
    listed = targets.select("household_id", "target_rank", "capacity")
    quartile = F.ceil(4 * F.col("target_rank") / F.col("capacity")).cast("int")
    band = (F.when(F.col("target_rank").isNotNull(),
                   F.element_at(F.array(*[F.lit(b) for b in LIST_BANDS]), quartile))
            .when(F.col("decile") == 1, F.lit("OFF_LIST_DECILE_1"))
            .otherwise(F.concat(F.lit("DECILE_"), F.col("decile").cast("string"))))
    return (scores.where(F.col("eligible")).select("household_id", "caf", "decile")
            .join(listed, on="household_id", how="left")
            .select("household_id", "caf", band.alias("band")))


def controlled_since(controls: DataFrame, cohort_month, last_month) -> DataFrame:
    """Per household: `controlled` (a DMDE control with cohort month ≤ control month ≤
    last month), `months_to_control` (to its first one) and `controlled_other_origin`
    (an OPBD or OTHER control in the same months)."""
    month = F.col("control_month")
    within = controls.where(month.between(F.lit(cohort_month), F.lit(last_month)))
    is_dmde = F.col("origin") == "DMDE"
    return within.groupBy("household_id").agg(
        F.max(is_dmde).alias("controlled"),
        F.min(F.when(is_dmde, month_number(month) - month_number(cohort_month))).alias("months_to_control"),
        F.max(~is_dmde).alias("controlled_other_origin"))


def decisiveness_counts(cohort: DataFrame, controlled: DataFrame, attributes: DataFrame,
                        names: Sequence[str]) -> tuple[DataFrame, DataFrame]:
    """(per Caf, national) counts of the cohort by band (and ALL_LIST), attribute and
    category: n_households, n_controlled_dmde, n_controlled_other_origin and the exact
    median months to the first control of the controlled (Spark's exact percentile)."""
    rows = (cohort.join(controlled, on="household_id", how="left")
            .join(attributes.drop("caf"), on="household_id", how="left"))
    rows = rows.unionByName(rows.where(F.col("band").isin(*LIST_BANDS)).withColumn("band", F.lit(ALL_LIST)))
    long = categories_long(rows, names, ["household_id", "caf", "band", "controlled", "months_to_control",
                                         "controlled_other_origin"])
    aggregates = [F.count(F.lit(1)).alias("n_households"),
                  F.count_if(F.coalesce("controlled", F.lit(False))).cast("bigint").alias("n_controlled_dmde"),
                  F.count_if(F.coalesce("controlled_other_origin", F.lit(False))).cast("bigint")
                  .alias("n_controlled_other_origin"),
                  F.percentile(F.when(F.col("controlled"), F.col("months_to_control")), 0.5)
                  .alias("median_months_to_control")]
    return (long.groupBy("caf", "band", "attribute", "category").agg(*aggregates),
            long.groupBy("band", "attribute", "category").agg(*aggregates))


# ---------------------------------------------------------------------------------------
# §2.7: drift


def modality_counts(features: DataFrame, spec: ModelSpec, score_bins: Sequence[float] | None = None,
                    scores: DataFrame | None = None) -> DataFrame:
    """(caf, variable, modality, n_households): the scored households of each modality of
    every model variable (read generically from the model file), and with `scores`, of each
    bin of the pseudo-variable `score` (bins [edge, next edge), the last one closed)."""
    pairs = [F.struct(F.lit(v.name).alias("variable"), F.col(v.name).alias("modality")) for v in spec.variables]
    counts = (features.select("caf", F.explode(F.array(*pairs)).alias("pair"))
              .groupBy("caf", "pair.variable", "pair.modality").agg(F.count(F.lit(1)).alias("n_households")))
    if scores is None:
        return counts
    binned = scores.select("caf", score_bin(F.col("score"), score_bins).alias("modality"))
    return counts.unionByName(binned.groupBy("caf", "modality").agg(F.count(F.lit(1)).alias("n_households"))
                              .select("caf", F.lit(SCORE_VARIABLE).alias("variable"), "modality", "n_households"))


def score_bin_labels(edges: Sequence[float]) -> list[str]:
    """'[0.05, 0.1)' … '[0.4, 1]': the modalities of the pseudo-variable `score`."""
    return [f"[{low:g}, {high:g}{']' if i == len(edges) - 2 else ')'}"
            for i, (low, high) in enumerate(zip(edges, edges[1:]))]


def score_bin(score: Column, edges: Sequence[float]) -> Column:
    labels = score_bin_labels(edges)
    expr = None
    for i, label in enumerate(labels):
        inside = (score >= edges[i]) & ((score < edges[i + 1]) if i < len(labels) - 1 else (score <= edges[i + 1]))
        expr = F.when(inside, F.lit(label)) if expr is None else expr.when(inside, F.lit(label))
    return expr
