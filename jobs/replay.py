"""Replay the monthly loop on a synthetic data dir: score a month, simulate its controls,
next month, so that control delays and lists interact as they do in production.

    dmde replay --from 2025-03 --to 2026-02 [--data-dir DIR]

Each month is scored as `dmde score` does (sources validated, run published), then its
DMDE controls are simulated from the lists just published (`dmde simulate-controls`). One
line per month. After a failure, rerun the same command: the months already scored and
simulated (from the score run that is published now) are skipped, and the replay goes on
from the first month that is not.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date

from pyspark.sql import SparkSession

from domain.calendar import months
from domain.synth import Simulation
from jobs.lib import synthetic
from jobs.lib.config import Config
from jobs.lib.publish import published_run
from jobs.lib.runner import JobContext, Progress, job_main, month_argument
from jobs.lib.scoring import ScoringError, score_month
from jobs.lib.simulation import months_done, simulate_controls, simulated_months, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="first", type=month_argument, required=True, help="first month YYYY-MM")
    parser.add_argument("--to", dest="last", type=month_argument, required=True, help="last month YYYY-MM")


def replay(spark: SparkSession, config: Config, first: date, last: date, *, out: Callable[[str], None] = print,
           settings: Simulation | None = None) -> list[date]:
    """Score and simulate first … last; the months done now (the skipped ones are not)."""
    if last < first:
        raise ScoringError(f"--to {last:%Y-%m} is before --from {first:%Y-%m}.")
    synthetic.require_synthetic(config)     # refuse before scoring anything
    def published(month: date) -> str | None:
        run = published_run(spark, config, "runs", month, "score")
        return run.run_id if run is not None else None

    wanted = months(first, last)
    skipped = months_done(wanted, published, simulated_months(config))
    for month in skipped:
        out(f"[replay] {month:%Y-%m}: scored and simulated already: skipped")
    done = []
    for month in wanted[len(skipped):]:     # every month is scored again: its eligibility moved
        start = time.perf_counter()
        scored = score_month(spark, config, month, Progress("score", quiet=True))
        result = simulate_controls(spark, config, month, Progress("simulate-controls", quiet=True), settings)
        out(f"[replay] {month:%Y-%m}: {scored['households_scored']:,} scored "
            f"({scored['households_eligible']:,} eligible), {scored['output_rows']['targets']:,} on the lists; "
            f"{summary(result).split(': ', 1)[1]}; {time.perf_counter() - start:.0f} s")
        done.append(month)
    return done


def run(ctx: JobContext) -> int:
    args = ctx.args
    done = replay(ctx.spark, ctx.config, args.first, args.last)
    ctx.progress.say(f"{len(done)} month(s) scored and simulated, {args.first:%Y-%m} to {args.last:%Y-%m}, "
                     f"in {ctx.progress.total_seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
