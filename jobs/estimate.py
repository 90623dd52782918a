"""Re-estimate the models' odds ratios on the OPBD random-control sample, next to the
published ones.

    dmde estimate --month 2026-02 [--sample opbd] [--model-out FILE] [--data-dir DIR]

The sample is the one `dmde calibrate --month` uses: every OPBD control dated in the 12
months before the month, read and validated like every source row (a rejected row goes to
`quarantine`), each controlled household's variables as of its control month, labelled
with the model's target. Each model of the model file is fitted as a logistic regression
on it (Spark ML's GeneralizedLinearRegression, binomial, logit) with exactly the file's
variables and modalities: in each variable the reference is the first modality whose
published odds ratio is 1, every other modality gets a dummy. A modality too rare to
estimate (estimate.min_modality_count), absent, or quasi-separated (no household or only
target households in it; a standard error above estimate.max_standard_error) is merged into
its reference and reported `not_estimable` with the reason.

Writes the month's rows of `model_estimates` (published and estimated odds ratio, Wald
interval, p-value, counts, status; one intercept row per model) and a `runs` row, as one
publication; then a candidate model file with the estimated odds ratios, intercepts and a
`provenance` block: <data-dir>/models/<model>-estimated-YYYY-MM.yaml, or --model-out. It
is never the file the scoring reads by default: try it with `dmde score --model FILE`;
`dmde report` shows the month's estimates next to the published odds ratios (its annex).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from domain.calendar import add_months
from domain.estimation import INTERCEPT, NOT_ESTIMABLE
from domain.model import ModelSpec
from jobs.lib.config import Config, write_model
from jobs.lib.estimation import candidate_model, estimate_model, table_rows
from jobs.lib.opbd import SAMPLE_MONTHS, labelled_sample, sample_span
from jobs.lib.publish import RUNS_SCHEMA, Publication
from jobs.lib.runner import JobContext, Progress, code_version, job_main, month_argument, new_run_id
from jobs.lib.sources import require_sources
from jobs.lib.validation import read_validated
from transforms import estimation

TABLE = "model_estimates"
SAMPLES = ("opbd",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=month_argument, required=True,
                        help="score month YYYY-MM: the OPBD controls of the 12 months before it are the sample")
    parser.add_argument("--sample", choices=SAMPLES, default="opbd",
                        help="the labelled sample fitted on: opbd, the random controls (default, and the only "
                             "choice: the DMDE's own controls were chosen by the score, so a fit on them is biased)")
    parser.add_argument("--model-out", type=Path, metavar="FILE",
                        help="where to write the candidate model file "
                             "(default: <data-dir>/models/<model>-estimated-YYYY-MM.yaml)")


@dataclass(frozen=True)
class Estimation:
    """What a run published: its `runs` row, the rows of model_estimates (collected: one
    per modality and model) and the candidate model."""

    run: dict
    rows: list
    candidate: ModelSpec


def candidate_path(config: Config, month: date) -> Path:
    return config.folder("models") / f"{config.model_file.stem}-estimated-{month:%Y-%m}.yaml"


def estimate(spark: SparkSession, config: Config, month: date, progress: Progress | None = None) -> Estimation:
    """Fit every model of the model file on the OPBD sample of `month`; publish the
    month's model_estimates (and the sample's quarantined rows) with a `runs` row."""
    progress = progress or Progress("estimate")
    require_sources(config)  # before the claim: a wrong --data-dir gets no ledger
    spec, settings = config.model, config.estimate
    span = sample_span(config, (add_months(month, -SAMPLE_MONTHS), add_months(month, -1)))
    publication = Publication(spark, config, "runs", RUNS_SCHEMA, "estimate", month, new_run_id("estimate", month),
                              scope={TABLE: {"score_month": [month]},
                                     "quarantine": {"job": ["estimate"], "score_month": [month]}})
    with publication:
        run_id = publication.run_id
        progress.say(f"run {run_id}: OPBD sample of {add_months(month, -SAMPLE_MONTHS):%Y-%m}…"
                     f"{add_months(month, -1):%Y-%m}, model file {spec.version}")
        for note in publication.notes:
            progress.say(note)
        validation = read_validated(spark, config, span, run_id, progress, month=month)
        progress.echo(validation.summary())
        labelled, size = labelled_sample(spark, config, validation.sources, span, month, spec, progress)
        n_target = int(labelled.agg(F.sum("target")).first()[0] or 0)
        counts = estimation.modality_counts(labelled, [v.name for v in spec.variables]).localCheckpoint()
        fitted = {name: progress.stage(f"fit {name}", estimate_model, spark, labelled, counts, spec, name, settings,
                                       size, n_target)
                  for name in spec.model_names()}
        rows = table_rows(fitted, month, spec.version, run_id).localCheckpoint()
        collected = rows.orderBy("model", "term", "variable").collect()  # one row per modality: bounded
        run = {"model_version": spec.version, "code_version": code_version(),
               "rows_read": validation.rows("read"), "rows_used": validation.rows("used"),
               "rows_quarantined": validation.rows("quarantined"), "stage_seconds": progress.durations}
        published = progress.stage("commit", publication.commit,
                                   {TABLE: rows, "quarantine": validation.quarantine}, run, progress)
        labelled.unpersist()
        validation.unpersist()
    candidate = candidate_model(spec, collected, month, size, code_version(),
                                f"data {config.data_dir}, model file {config.model_file}",
                                datetime.now(timezone.utc).replace(microsecond=0))
    return Estimation(run=published, rows=collected, candidate=candidate)


def summary(result: Estimation) -> list[str]:
    """One line per model: the sample, how many modalities were estimated, how many
    intervals exclude the published odds ratio, what was not estimable."""
    lines = []
    for name in result.candidate.model_names():
        rows = [r for r in result.rows if r.model == name]
        intercept = next(r for r in rows if r.term == INTERCEPT)
        estimated = [r for r in rows if r.term != INTERCEPT and r.odds_ratio is not None and not r.is_reference]
        outside = [f"{r.variable}={r.modality} ({r.published_odds_ratio:g} vs {r.odds_ratio:.2f} "
                   f"[{r.odds_ratio_ci_low:.2f}, {r.odds_ratio_ci_high:.2f}])" for r in estimated if r.published_outside_ci]
        skipped = [f"{r.variable}={r.modality}: {r.reason}" for r in rows if r.status == NOT_ESTIMABLE]
        lines.append(f"{name}: {intercept.n_sample:,} controls ({intercept.n_target:,} in the target), b0 = "
                     f"{intercept.coefficient:+.4f} ± {intercept.standard_error:.4f}; {len(estimated)} odds ratios "
                     f"estimated, {len(outside)} with a {100 * intercept.confidence_level:g} % interval excluding "
                     f"the published value")
        lines += [f"  outside: {text}" for text in outside]
        lines += [f"  not estimable: {text}" for text in skipped]
    return lines


def run(ctx: JobContext) -> int:
    month = ctx.args.month
    result = estimate(ctx.spark, ctx.config, month, ctx.progress)
    path = ctx.args.model_out or candidate_path(ctx.config, month)
    write_model(result.candidate, path)
    for line in summary(result):
        ctx.progress.say(line)
    ctx.progress.say(f"wrote {ctx.config.output_path(TABLE)} ({month:%Y-%m}) and the candidate model {path}: "
                     f"`dmde score --month M --model {path}` scores with it")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
