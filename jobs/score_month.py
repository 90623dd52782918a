"""Score every household of a month and write the ranked lists.

    dmde score --month 2026-02 [--data-dir DIR]
    dmde score --from 2025-06 --to 2026-02          # backfill, one month after the other

For score month M: reads and validates the sources M needs (the snapshots of W12, the
payments, declarations and events of W24, the past controls); computes the 19 variables,
applies every model of the calibrated model file, blends them as the file says, ranks
each Caf's households, applies the control delays, explains each score, and selects each
Caf's target list. Rows breaking a rule of expectations/ go to `quarantine`; a
table-level failure stops the run. The tables features, scores, targets and quarantine
are staged first and committed together at the end, then one row goes to `runs`: a
failed run changes nothing, a re-run replaces the month. (The scoring itself is
`jobs.lib.scoring.score_month`, which `dmde replay` runs too.)
"""
from __future__ import annotations

import argparse
import sys

from domain.calendar import add_months
from jobs.lib.runner import JobContext, Progress, job_main, month_argument, months_to_run
from jobs.lib.scoring import ScoringError, latest_snapshot_month, score_month, summary

__all__ = ["ScoringError", "score_month", "run", "add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--month", type=month_argument,
                      help="score month YYYY-MM (default: the month after the latest snapshot)")
    when.add_argument("--from", dest="first", type=month_argument, help="first month of a backfill")
    parser.add_argument("--to", dest="last", type=month_argument, help="last month of a backfill (with --from)")


def run(ctx: JobContext) -> int:
    args, config = ctx.args, ctx.config
    for month in months_to_run(args, default=lambda: add_months(latest_snapshot_month(config), 1)):
        progress = Progress("score")
        result = score_month(ctx.spark, config, month, progress)
        print(summary(config, result, progress))
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
