"""Calibrate every model's intercept on the OPBD random-control sample.

    dmde calibrate --month 2026-02 [--data-dir DIR]

The sample is every OPBD control dated in the 12 months before the month (M-12 … M-1),
read and validated like every source row (a rejected control goes to `quarantine` and
does not reach the intercepts). Each controlled household's variables are computed as of
its control month, exactly as the scoring job computes them; its label is the model's
target (an overpayment of at least 600 € over at least 6 months). Each model's intercept
b0 is the value for which the mean predicted probability over the sample equals the
observed target rate. The calibrated model file is written next to the data,
<data-dir>/models/<version>.yaml (with a dated copy in models/history/), and the scoring
job reads it from there.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timezone

from pyspark.sql import SparkSession

from domain.calendar import add_months
from domain.model import Intercept, ModelSpec
from jobs.lib.config import Config
from jobs.lib.models import save_calibrated_model
from jobs.lib.opbd import SAMPLE_MONTHS, fit_intercepts, labelled_sample, sample_span
from jobs.lib.publish import RUNS_SCHEMA, Publication
from jobs.lib.runner import JobContext, Progress, code_version, job_main, month_argument, new_run_id
from jobs.lib.sources import require_sources
from jobs.lib.validation import read_validated


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=month_argument, required=True,
                        help="score month YYYY-MM: the OPBD controls of the 12 months before it are used")


def calibrate(spark: SparkSession, config: Config, month: date, progress: Progress | None = None) -> ModelSpec:
    """The model file's spec with each model's intercept calibrated on the OPBD sample of
    `month`; the sample's rejected source rows are committed to `quarantine`."""
    progress = progress or Progress("calibrate")
    require_sources(config)  # before the claim: a wrong --data-dir gets no ledger
    spec = config.model
    span = sample_span(config, (add_months(month, -SAMPLE_MONTHS), add_months(month, -1)))
    publication = Publication(spark, config, "runs", RUNS_SCHEMA, "calibrate", month, new_run_id("calibrate", month),
                              scope={"quarantine": {"job": ["calibrate"], "score_month": [month]}})
    with publication:
        validation = read_validated(spark, config, span, publication.run_id, progress, month=month)
        print(validation.summary(), flush=True)
        labelled, _ = labelled_sample(spark, config, validation.sources, span, month, spec, progress)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        for name, (b0, n, rate) in progress.stage("intercepts", fit_intercepts, labelled, spec).items():
            spec = spec.with_intercept(name, Intercept(
                value=round(b0, 10), sample_size=n, score_month=month, computed_at=now,
                method=f"mean predicted probability over the OPBD controls of "
                       f"{add_months(month, -SAMPLE_MONTHS):%Y-%m}…{add_months(month, -1):%Y-%m} = observed "
                       f"target rate ({100 * rate:.1f} %)"))
        labelled.unpersist()
        run = {"model_version": spec.calibrated_version(), "code_version": code_version(),
               "rows_read": validation.rows("read"), "rows_used": validation.rows("used"),
               "rows_quarantined": validation.rows("quarantined"), "stage_seconds": progress.durations}
        progress.stage("commit", publication.commit, {"quarantine": validation.quarantine}, run)
        validation.unpersist()
    return spec


def run(ctx: JobContext) -> int:
    month = ctx.args.month
    spec = calibrate(ctx.spark, ctx.config, month, ctx.progress)
    path, history = save_calibrated_model(ctx.config, spec, month)
    for name in spec.model_names():
        i = spec.models[name].intercept
        ctx.progress.say(f"{name}: b0 = {i.value:+.6f} on {i.sample_size:,} OPBD controls ({i.method})")
    ctx.progress.say(f"wrote {path} (copy: {history})")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
