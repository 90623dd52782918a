"""Score every household of a month and write the ranked lists.

    dmde score --month 2026-02 [--data-dir DIR]
    dmde score --from 2025-06 --to 2026-02          # backfill, one month after the other
    dmde score --month 2026-02 --model FILE         # another model file (e.g. from `dmde estimate`)
    dmde score --month 2026-02 --full               # every source row again, even with summaries

What a month's scoring computes and writes is described in `jobs/lib/scoring.py`
(`score_month`, which `dmde replay` runs too); this module is the command around it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from domain.calendar import add_months
from jobs.lib.runner import JobContext, Progress, add_month_arguments, job_main, months_to_run
from jobs.lib.scoring import ScoringError, latest_snapshot_month, score_month, summary

__all__ = ["ScoringError", "score_month", "run", "add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_month_arguments(parser, "score month YYYY-MM (default: the month after the latest snapshot)", "score month")
    parser.add_argument("--full", action="store_true",
                        help="recompute from every source row of the windows, even when the data dir has "
                             "source-month summaries (household_months)")
    parser.add_argument("--model", type=Path, metavar="FILE",
                        help="a calibrated model file to score with (default: <data-dir>/models/, "
                             "written by `dmde calibrate`)")


def run(ctx: JobContext) -> int:
    args, config = ctx.args, ctx.config
    for month in months_to_run(args, default=lambda: add_months(latest_snapshot_month(config), 1)):
        progress = Progress("score")
        result = score_month(ctx.spark, config, month, progress, model_file=args.model, full=args.full)
        print(summary(config, result, progress))
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
