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
from domain.monitoring import ALL_ATTRIBUTES, ALL_LIST, LIST_BANDS, NATIONAL, SCORE_VARIABLE
from transforms import ranking
from transforms.columns import month_number
from transforms.features import MEAN_SCALE, MonthWindows, at_score_month
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
    paid = (at_score_month(payments, cal).where(F.col("month").between(F.add_months(window.score_month, -months),
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


# ---------------------------------------------------------------------------------------
# The controls of the evaluation window, labelled (§0, §2.1)

SCORE_FIELDS = ("caf", "score", "rank_in_caf", "households_in_caf", "percentile_in_caf", "decile")
BASELINE_FIELDS = (BASELINE, BASELINE_RANK, BASELINE_DECILE)


def window_controls(controls: DataFrame, first_month, last_month, target: Column) -> DataFrame:
    """The controls with control month in first_month … last_month (E(M)), each with its
    control_month and `target` (0/1 → bool) and its amounts and mode as recorded."""
    month = F.trunc("control_date", "month")
    return (controls.where(month.between(F.lit(first_month), F.lit(last_month)))
            .select("household_id", "control_date", month.alias("control_month"), "origin", "mode",
                    "overpayment_eur", "underpayment_eur", "overpayment_months",
                    F.coalesce(F.col("fraud"), F.lit(False)).alias("fraud"), target.alias("target")))


def labelled_controls(controls: DataFrame, scores: DataFrame, attributes: DataFrame, targets: DataFrame, *,
                      probabilities: Sequence[str], attribute_names: Sequence[str], fractions: Sequence[float],
                      lookback_months: int) -> DataFrame:
    """Each control of the window with the `scores` row of its control month (has_score
    false when the household was not scored then), its categories and baseline as of that
    month, `on_list` and the selections of every fraction (§2.1)."""
    at_month = [F.col("household_id"), F.col("score_month").alias("control_month")]
    scored = scores.select(*at_month, *SCORE_FIELDS, *probabilities, F.lit(True).alias("has_score"))
    categories = attributes.select(*at_month, *attribute_names, *BASELINE_FIELDS)
    joined = (controls.join(scored, on=["household_id", "control_month"], how="left")
              .join(categories, on=["household_id", "control_month"], how="left")
              .withColumn("has_score", F.coalesce(F.col("has_score"), F.lit(False))))
    return with_selections(on_list(joined, targets, lookback_months), fractions)


def first_controls(dmde: DataFrame) -> DataFrame:
    """Distinct households with a DMDE control, each at its first control month."""
    return dmde.groupBy("household_id").agg(F.min("control_month").alias("score_month"))


# ---------------------------------------------------------------------------------------
# §2.3 the counts behind the representation ratios

REPRESENTATION_COUNTS = ("n_scored", "n_top_decile", "n_target_list", "n_eligible", "n_benefits_top",
                         "n_pooled", "n_controlled", "n_opbd_target")


def representation_counts(current: DataFrame, scores: DataFrame, targets: DataFrame, pooled: DataFrame,
                          controlled: DataFrame, opbd_target: DataFrame, names: Sequence[str]) -> DataFrame:
    """(caf, attribute, category, every count of REPRESENTATION_COUNTS), Caf rows and
    national rows (caf 'ALL'). `current`: the attributes of M; `scores`, `targets` of M;
    `pooled`: the attributes of every available month of E(M); `controlled`: the attributes
    of the DMDE-controlled households at their first control month; `opbd_target`: the
    attributes of the OPBD controls in the target at their control month."""
    listed = targets.select("household_id", F.lit(True).alias("listed"))
    of_m = (current.join(scores.select("household_id", "decile", "eligible"), on="household_id", how="left")
            .join(listed, on="household_id", how="left"))
    parts = [
        (of_m, {"n_scored": F.lit(True), "n_top_decile": F.col("decile") == 1,
                "n_target_list": F.coalesce(F.col("listed"), F.lit(False)),
                "n_eligible": F.coalesce(F.col("eligible"), F.lit(False)),
                "n_benefits_top": F.col(BASELINE_DECILE) == 1}),
        (pooled, {"n_pooled": F.lit(True)}),
        (controlled, {"n_controlled": F.lit(True)}),
        (opbd_target, {"n_opbd_target": F.lit(True)}),
    ]
    counted = None
    for frame, conditions in parts:
        flagged = frame.select("caf", *names, *[condition.alias(c) for c, condition in conditions.items()])
        long = categories_long(flagged, names, ["caf", *conditions])
        counts = count_by_category(long, {c: F.col(c) for c in conditions}).select(
            "caf", "attribute", "category",
            *[(F.col(c) if c in conditions else F.lit(0)).cast("bigint").alias(c) for c in REPRESENTATION_COUNTS])
        counted = counts if counted is None else counted.unionByName(counts)
    sums = [F.sum(c).cast("bigint").alias(c) for c in REPRESENTATION_COUNTS]
    per_caf = counted.where(F.col("caf").isNotNull()).groupBy("caf", "attribute", "category").agg(*sums)
    national = counted.groupBy("attribute", "category").agg(*sums).select(F.lit(NATIONAL).alias("caf"), "*")
    return per_caf.unionByName(national)


# ---------------------------------------------------------------------------------------
# §2.5 and §2.7: small per-Caf aggregates


def households_per_month(scores: DataFrame) -> DataFrame:
    """(caf, score_month, households) scored."""
    return scores.groupBy("caf", "score_month").agg(F.count(F.lit(1)).cast("bigint").alias("households"))


def capacity_per_month(targets: DataFrame) -> DataFrame:
    """(caf, score_month, capacity) of the Caf's list (a Caf without a list has none)."""
    return targets.groupBy("caf", "score_month").agg(F.max("capacity").cast("bigint").alias("capacity"))


def other_origin_counts(controls: DataFrame) -> DataFrame:
    """(caf, control_month, origin, n) of the window's OPBD and OTHER controls."""
    return (controls.where(F.col("origin") != "DMDE")
            .groupBy("caf", "control_month", "origin").agg(F.count(F.lit(1)).cast("bigint").alias("n")))


def with_national(per_caf: DataFrame, keys: Sequence[str], sums: Sequence[str]) -> DataFrame:
    """The Caf rows and their national sums (caf 'ALL'), computed on all rows."""
    national = per_caf.groupBy(*keys).agg(*[F.sum(c).cast("bigint").alias(c) for c in sums])
    return per_caf.unionByName(national.select(F.lit(NATIONAL).alias("caf"), *keys, *sums))


def opbd_modality_rates(opbd: DataFrame, features: DataFrame, spec: ModelSpec) -> DataFrame:
    """(variable, modality, n_opbd, n_target) of the OPBD controls with a score, each with
    the modalities of its control month's features (§2.7)."""
    pairs = [F.struct(F.lit(v.name).alias("variable"), F.col(v.name).alias("modality")) for v in spec.variables]
    at_control = features.select("household_id", F.col("score_month").alias("control_month"),
                                 *[v.name for v in spec.variables])
    return (opbd.select("household_id", "control_month", "target").join(at_control, ["household_id", "control_month"])
            .select("target", F.explode(F.array(*pairs)).alias("pair"))
            .groupBy("pair.variable", "pair.modality")
            .agg(F.count(F.lit(1)).cast("bigint").alias("n_opbd"),
                 F.count_if(F.col("target")).cast("bigint").alias("n_target")))
