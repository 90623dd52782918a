"""Fitting a model file's logistic regressions on the labelled OPBD sample, on Spark.

For each model: the design of the model file (`domain.estimation.design`), the
modalities that can be estimated (`transforms.estimation.classify`, on counts collected
once: one row per modality), a fit by Spark ML's GeneralizedLinearRegression (binomial,
logit, IRLS) on the dummies of the estimable modalities, refitted without any whose
standard error says quasi-separation; then the `model_estimates` rows and the candidate
model file with the estimated odds ratios.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from py4j.protocol import Py4JJavaError
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.regression import GeneralizedLinearRegression
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from domain.errors import DmdeError
from domain.estimation import ESTIMATED, MODALITY, MODEL_ESTIMATES_COLUMNS, Term, design
from domain.model import Intercept, MergedModality, ModelSpec, Provenance
from domain.settings import EstimateSettings
from transforms import estimation

LABEL = "target"  # the sample's 0/1 target outcome (jobs.lib.opbd.opbd_sample)


class EstimationError(DmdeError):
    """The sample cannot give a model's estimates."""


@dataclass(frozen=True)
class ModelEstimates:
    """One model's rows of model_estimates (a frame of a few dozen rows) and its fit."""

    rows: DataFrame
    fit: estimation.Fit


def design_frame(spark: SparkSession, terms: Sequence[Term]) -> DataFrame:
    return spark.createDataFrame(
        [(t.model, t.variable, t.modality, float(t.published_odds_ratio), t.is_reference) for t in terms],
        "model string, variable string, modality string, published_odds_ratio double, is_reference boolean")


def fit_logistic(labelled: DataFrame, terms: Sequence[tuple[str, str]], settings: EstimateSettings,
                 model: str) -> tuple[list[float], list[float], list[float], float, float, float]:
    """Coefficients, standard errors and p-values of the dummies of `terms` (in order), then
    the intercept's, fitted by maximum likelihood on `labelled`."""
    if not terms:  # nothing to estimate: the intercept alone, in closed form
        counts = labelled.agg(F.count(F.lit(1)).alias("n"), F.sum(LABEL).alias("k")).first()
        n, k = counts.n, counts.k or 0
        if k in (0, n):
            raise EstimationError(f"{model}: the sample's {n} controls are all in or all out of the target")
        rate = k / n
        b0, se = math.log(rate / (1 - rate)), 1 / math.sqrt(n * rate * (1 - rate))
        return [], [], [], b0, se, _normal_p(b0 / se)
    names = [estimation.dummy_name(v, m) for v, m in terms]
    data = (labelled.transform(estimation.with_dummies(terms))
            .select(*names, F.col(LABEL).cast("double").alias("label")))
    assembled = VectorAssembler(inputCols=names, outputCol="features").transform(data).select("features", "label")
    glr = GeneralizedLinearRegression(family="binomial", link="logit", solver="irls", fitIntercept=True,
                                      regParam=0.0, maxIter=settings.max_iterations, labelCol="label",
                                      featuresCol="features")
    fitted = glr.fit(assembled)
    try:
        summary = fitted.summary
        standard_errors = list(summary.coefficientStandardErrors)
        p_values = list(summary.pValues)
    except Py4JJavaError as err:  # Spark fell back from Cholesky: the dummies are collinear
        raise EstimationError(
            f"{model}: the dummies of the estimable modalities are collinear in the sample (Spark's IRLS found "
            f"a singular matrix), so no standard error can be given. Raise estimate.min_modality_count or "
            f"check the sample. ({str(err).strip().splitlines()[0][:200]})") from err
    coefficients = [float(c) for c in fitted.coefficients]
    return (coefficients, standard_errors[:-1], p_values[:-1], float(fitted.intercept), standard_errors[-1],
            p_values[-1])


def _normal_p(z: float) -> float:
    from statistics import NormalDist

    return 2 * (1 - NormalDist().cdf(abs(z)))


def estimate_model(spark: SparkSession, labelled: DataFrame, counts: DataFrame, spec: ModelSpec, model: str,
                   settings: EstimateSettings, sample_size: int, n_target: int) -> ModelEstimates:
    """Classify the model's modalities, fit, refit without the unstable ones (each round
    merges at least one modality into its reference, so this ends), and the rows."""
    terms = design(spec, model)
    classified = estimation.classify(design_frame(spark, terms), counts, settings.min_modality_count) \
        .localCheckpoint()  # a few dozen rows, used by every round
    estimable = [(r.variable, r.modality) for r in classified.where(F.col("status") == ESTIMATED)
                 .select("variable", "modality").collect()]  # one row per modality: bounded
    order = {(t.variable, t.modality): i for i, t in enumerate(terms)}
    estimable.sort(key=order.__getitem__)  # the model file's order
    unstable: dict[tuple[str, str], float] = {}
    while True:
        kept = [t for t in estimable if t not in unstable]
        coefficients, errors, p_values, b0, b0_error, b0_p = fit_logistic(labelled, kept, settings, model)
        found = {t: se for t, se in zip(kept, errors) if estimation.is_unstable(se, settings.max_standard_error)}
        if not found:
            break
        unstable.update(found)
    fit = estimation.Fit(terms=tuple(kept), coefficients=tuple(coefficients), standard_errors=tuple(errors),
                         p_values=tuple(p_values), intercept=b0, intercept_standard_error=b0_error,
                         intercept_p_value=b0_p, sample_size=sample_size, n_target=n_target, unstable=unstable)
    rows = estimation.estimates(classified, fit, settings.confidence_level, settings.max_standard_error)
    return ModelEstimates(rows=rows, fit=fit)


def table_rows(estimated: Mapping[str, ModelEstimates], month: date, model_version: str, run_id: str
               ) -> DataFrame:
    """The model_estimates rows of every model, with the month and the run, in the
    table's column order."""
    frames = list(estimated.values())
    rows = frames[0].rows
    for other in frames[1:]:
        rows = rows.unionByName(other.rows)
    rows = rows.select(F.lit(month).alias("score_month"), *estimation.ESTIMATE_COLUMNS,
                       F.lit(model_version).alias("model_version"), F.lit(run_id).alias("run_id"))
    schema = rows.sparkSession.createDataFrame([], MODEL_ESTIMATES_COLUMNS).schema  # the table's, in its order
    return rows.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema])


def significant(value: float) -> float:
    """Six significant digits (a positive odds ratio stays positive)."""
    return float(f"{value:.6g}")


def candidate_model(spec: ModelSpec, rows: Sequence, month: date, sample_size: int, code_version: str,
                    source: str, now: datetime) -> ModelSpec:
    """The model file with each model's estimated odds ratios and intercept; a modality
    not estimated has odds ratio 1 (it was merged into the reference for the fit). `rows`:
    the collected model_estimates rows. Shares and labels stay the model file's."""
    odds = {(r.model, r.variable, r.modality): r.odds_ratio for r in rows
            if r.term == MODALITY and r.odds_ratio is not None}
    merged = tuple(MergedModality(model=r.model, variable=r.variable, modality=r.modality, reason=r.reason)
                   for r in rows if r.term == MODALITY and r.reason is not None)
    variables = []
    for variable in spec.variables:
        modalities = tuple(m.model_copy(update={"odds_ratio": {
            name: significant(odds.get((name, variable.name, m.code), 1.0)) for name in m.odds_ratio}})
            for m in variable.modalities)
        variables.append(variable.model_copy(update={"modalities": modalities}))
    window = f"the OPBD controls of the 12 months before {month:%Y-%m}"
    candidate = spec.model_copy(update={
        "version": f"{spec.version}+estimated-{month:%Y-%m}",
        "source": f"dmde estimate --month {month:%Y-%m}: odds ratios re-estimated on {window} ({source})",
        "variables": tuple(variables),
        "provenance": Provenance(
            method="maximum likelihood logistic regression per model (Spark ML GeneralizedLinearRegression, "
                   "binomial, logit, IRLS) on the dummies of the model file's modalities; reference: each "
                   "variable's first modality with published odds ratio 1",
            score_month=month, sample_size=sample_size, code_version=code_version, source=source,
            estimated_from=spec.version, estimated_at=now, merged_into_reference=merged),
    })
    for r in rows:
        if r.term != MODALITY:
            candidate = candidate.with_intercept(r.model, Intercept(
                value=round(r.coefficient, 10), sample_size=sample_size, score_month=month, computed_at=now,
                method=f"maximum likelihood with the estimated odds ratios, on {window}"))
    return candidate
