"""What-if scoring (`dmde whatif`): what it adds around the scoring's own transforms.

The households of a what-if file get their variables from `transforms.features` and
their scores from `transforms.model`, exactly as `dmde score` computes them; here are only
the pieces a what-if shows besides: every variable's part of the blended log-odds, every
single change of one variable's modality (to be scored by `transforms.model.score` too),
the change that lowers the score most, and where a score stands among a Caf's scored
households of the month. Generic: no variable is named.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from domain.model import ModelSpec
from transforms import model

KEY = ["score_month", "caf", "household_id"]


def contribution_column(variable: str) -> str:
    return f"contribution_{variable}"


def with_contributions(scored: DataFrame, spec: ModelSpec) -> DataFrame:
    """Each variable's contribution to the blended log-odds (`contribution_<variable>`),
    weighted by the row's blend weight as the score is. `scored`: `transforms.model.score`'s."""
    weight = F.col(spec.weight_column)
    return scored.select("*", *[model.contribution(spec, v, weight).alias(contribution_column(v.name))
                                for v in spec.variables])


def _current(spec: ModelSpec, variable: Column) -> Column:
    """The row's modality of the variable named by `variable`."""
    return F.element_at(F.create_map(*[x for v in spec.variables for x in (F.lit(v.name), F.col(v.name))]),
                        variable)


def single_changes(modalities: DataFrame, spec: ModelSpec) -> DataFrame:
    """Every row once per change of one variable to another of its modalities, the other
    variables unchanged: KEY, every variable's modality, changed_variable, changed_from,
    changed_to and change_order (the model file's order of the new modality)."""
    names = [v.name for v in spec.variables]
    options = F.array(*[F.struct(F.lit(order).alias("order"), F.lit(v.name).alias("variable"),
                                 F.lit(m.code).alias("modality"))
                        for order, (v, m) in enumerate((v, m) for v in spec.variables for m in v.modalities)])
    exploded = modalities.select(*KEY, *names, F.explode(options).alias("change"))
    changed_variable, changed_to = F.col("change.variable"), F.col("change.modality")
    current = _current(spec, changed_variable)
    return exploded.where(current != changed_to).select(
        *KEY,
        *[F.when(changed_variable == name, changed_to).otherwise(F.col(name)).alias(name) for name in names],
        changed_variable.alias("changed_variable"),
        current.alias("changed_from"),
        changed_to.alias("changed_to"),
        F.col("change.order").alias("change_order"),
    )


def best_change(changes: DataFrame, scored: DataFrame) -> DataFrame:
    """Per household of `scored`, the single change of `changes` (scored) with the lowest
    score, when it is lower than the household's (ties: the model file's order):
    household_id, changed_variable, changed_from, changed_to, changed_score, score_change."""
    lowest_first = Window.partitionBy("household_id").orderBy(F.col("score").asc(), F.col("change_order").asc())
    best = (changes
            .select("household_id", "changed_variable", "changed_from", "changed_to",
                    F.col("score").alias("changed_score"), F.row_number().over(lowest_first).alias("position"))
            .where(F.col("position") == 1))
    joined = scored.select("household_id", "score").join(best, on="household_id", how="inner")
    lowers = F.col("changed_score") < F.col("score")
    return joined.where(lowers).select(
        "household_id", "changed_variable", "changed_from", "changed_to", "changed_score",
        (F.col("changed_score") - F.col("score")).alias("score_change"))


def place_in_caf(scored: DataFrame, score_counts: DataFrame) -> DataFrame:
    """Where each row's score stands among its Caf's scored households of the month
    (`score_counts`: caf, score, households: how many of the Caf's households have that
    score), read as `transforms.ranking.rank_within_caf` reads a scored household:
    rank_in_caf = 1 + the Caf's households with a higher score, households_in_caf, and
    percentile_in_caf = ⌈100 × rank_in_caf / households_in_caf⌉ (1 = the top 1 % of the
    Caf; at most 100). Null for a Caf without scored households."""
    others = score_counts.select("caf", F.col("score").alias("other_score"), "households")
    counted = (scored.select("household_id", "caf", "score")
               .join(others, on="caf", how="left")
               .groupBy("household_id")
               .agg(F.coalesce(F.sum("households"), F.lit(0)).alias("households_in_caf"),
                    F.coalesce(F.sum(F.when(F.col("other_score") > F.col("score"), F.col("households"))),
                               F.lit(0)).alias("higher")))
    any_scored = F.col("households_in_caf") > 0
    rank = F.col("higher") + 1
    return counted.select(
        "household_id",
        F.col("households_in_caf").cast("long").alias("households_in_caf"),
        F.when(any_scored, rank).cast("long").alias("rank_in_caf"),
        F.when(any_scored, F.least(F.ceil(100 * rank / F.col("households_in_caf")), F.lit(100)))
        .cast("int").alias("percentile_in_caf"),
    )
