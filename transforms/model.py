"""Apply a scorecard model file to the features: generic, it names no variable.

A model file (conf/models/*.yaml) lists variables, their modalities (a code for
categorical inputs, an exact value or a band for numeric ones) and each modality's odds
ratio in each model. Here that table becomes Column expressions: the modality of each
variable, each model's log-odds and probability, the prorata-temporis blend and the
explanation of the score. A new model version is a new file, not new code.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from domain.model import Band, ModelSpec, Variable
from transforms.columns import month_number

TOP_FACTORS = 3


def in_band(value: Column, band: Band) -> Column:
    """The value equals the band's `exact`, or lies in [lower, upper); null for a null value."""
    if band.exact is not None:
        return value == F.lit(band.exact)
    condition = F.lit(True)
    if band.lower is not None:
        condition = condition & (value >= F.lit(band.lower))
    if band.upper is not None:
        condition = condition & (value < F.lit(band.upper))
    return condition


def modality(variable: Variable) -> Column:
    """The variable's modality code; null when the input matches none (never a catch-all)."""
    value = F.col(variable.input)
    if variable.kind == "categorical":
        return F.when(value.isin(*variable.codes()), value)
    expr = None
    for m in variable.modalities:  # first match wins, in the file's order
        expr = F.when(in_band(value, m), F.lit(m.code)) if expr is None else \
            expr.when(in_band(value, m), F.lit(m.code))
    return expr


def with_modalities(features: DataFrame, spec: ModelSpec) -> DataFrame:
    """Add one modality column per variable, named as the variable."""
    return features.select("*", *[modality(v).alias(v.name) for v in spec.variables])


def unmatched(spec: ModelSpec) -> Column:
    """True for a row with a variable whose input matched no modality."""
    return F.greatest(*[F.col(v.name).isNull() for v in spec.variables])


def log_odds_ratio(variable: Variable, model: str) -> Column:
    """ln OR of the row's modality in `model` (0 when the variable is not in that model)."""
    if not variable.in_model(model):
        return F.lit(0.0)
    code = F.col(variable.name)
    return F.element_at(F.create_map(*[x for m in variable.modalities for x in
                                       (F.lit(m.code), F.lit(math.log(m.odds_ratio[model])))]), code)


def linear_predictor(spec: ModelSpec, model: str) -> Column:
    """Σ ln OR over the model's variables, without the intercept."""
    total = F.lit(0.0)
    for variable in spec.variables_of(model):
        total = total + log_odds_ratio(variable, model)
    return total


def sigmoid(logit: Column) -> Column:
    return 1.0 / (1.0 + F.exp(-logit))


def probability(spec: ModelSpec, model: str, intercept: float | None = None,
                offset: Column | None = None) -> Column:
    """p = 1 / (1 + exp(-(b0 + Σ ln OR))); b0 from the model file unless given. `offset`:
    log-odds added for every row (a synthetic truth's planted effect; never in scoring)."""
    b0 = spec.intercept_of(model) if intercept is None else intercept
    logit = F.lit(b0) + linear_predictor(spec, model)
    return sigmoid(logit if offset is None else logit + offset)


def after_weight(spec: ModelSpec, score_month: date | Column, prefill_start: Column) -> Column:
    """The blend's weight of the "after pre-filling" model: the share of the window's
    months (M-window … M-1) on or after the Caf's pre-filling start (DMDE.md §4)."""
    window = spec.blend.window_months
    months_after = month_number(score_month) - month_number(prefill_start)
    return F.least(F.greatest(months_after, F.lit(0)), F.lit(window)) / float(window)


def blend(spec: ModelSpec, p_before: Column, p_after: Column, weight: Column) -> Column:
    """score = (1 - w)·p_before + w·p_after."""
    return (1 - weight) * p_before + weight * p_after


def blended_probability(spec: ModelSpec, score_month: date | Column, prefill_start: Column,
                        intercepts: Mapping[str, float] | None = None, offset: Column | None = None) -> Column:
    """The score itself, as one Column (the generator's outcomes use it with their own
    intercepts, and an `offset` added to each model's log-odds); `score` below keeps each
    model's probability as a column."""
    intercepts = intercepts or {}
    before, after = spec.blend.before, spec.blend.after
    return blend(spec, probability(spec, before, intercepts.get(before), offset),
                 probability(spec, after, intercepts.get(after), offset),
                 after_weight(spec, score_month, prefill_start))


def with_prefill_start(cafs: DataFrame):
    """Transform: the Caf's pre-filling start (`cafs`: caf, prefill_start) on each row."""
    def add(df: DataFrame) -> DataFrame:
        return df.join(F.broadcast(cafs.select("caf", "prefill_start")), on="caf", how="left")
    return add


def contribution(spec: ModelSpec, variable: Variable, weight: Column) -> Column:
    """The variable's part of the blended log-odds: (1 - w)·ln OR_before + w·ln OR_after of
    the row's modality (the explanation ranks these; `dmde whatif` prints them all)."""
    before, after = spec.blend.before, spec.blend.after
    return (1 - weight) * log_odds_ratio(variable, before) + weight * log_odds_ratio(variable, after)


def risk_factors(spec: ModelSpec, weight: Column) -> Column:
    """The variables that raise this household's risk most in the blended model.

    Each variable contributes (1 - w)·ln OR_before + w·ln OR_after; the strongest positive
    contributions come first, with their French labels and the blended odds ratio.
    """
    items = []
    for position, v in enumerate(spec.variables):
        label = F.element_at(F.create_map(*[x for m in v.modalities for x in (F.lit(m.code), F.lit(m.label))]),
                             F.col(v.name))
        # sorted by log_odds, then by the model file's order on ties (hence the negated position)
        items.append(F.struct(contribution(spec, v, weight).alias("log_odds"), F.lit(-position).alias("file_order"),
                              F.lit(v.name).alias("variable"),
                              F.lit(v.label).alias("variable_label"), label.alias("modality_label")))
    raising = F.filter(F.array(*items), lambda item: item["log_odds"] > 1e-12)
    return F.slice(F.sort_array(raising, asc=False), 1, TOP_FACTORS)


def score(features: DataFrame, spec: ModelSpec, score_month: date | Column) -> DataFrame:
    """Every model's probability (p_<model>), the blend's weight (w_<after model>), the
    score and the explanation. `features` has modality columns and `prefill_start`."""
    p = spec.probability_column
    before, after = spec.blend.before, spec.blend.after
    scored = features.select(
        "*",
        *[probability(spec, name).alias(p(name)) for name in spec.model_names()],
        after_weight(spec, score_month, F.col("prefill_start")).alias(spec.weight_column),
    ).select("*", blend(spec, F.col(p(before)), F.col(p(after)), F.col(spec.weight_column)).alias("score"))
    factors = risk_factors(spec, F.col(spec.weight_column))

    def factor(i: int) -> Column:  # null past the last raising factor
        return F.try_element_at(factors, F.lit(i))

    return scored.select(
        "*",
        *[col for i in range(1, TOP_FACTORS + 1) for col in (
            factor(i)["variable"].alias(f"factor_{i}"),
            F.when(factor(i).isNotNull(), F.concat_ws(" : ", factor(i)["variable_label"],
                                                      factor(i)["modality_label"])).alias(f"factor_{i}_label"),
            F.exp(factor(i)["log_odds"]).alias(f"factor_{i}_odds_ratio"))],
    )
