"""Read, validate and summarise one source month as it arrives (`household_months`).

    dmde ingest --month 2026-01 [--data-dir DIR]        # the month whose extract just arrived
    dmde ingest --from 2024-02 --to 2026-01             # the history, once, before the first run
    dmde ingest --stale --from 2024-02 --to 2026-01     # only the months whose summary is out of date

Source month S's partitions (the snapshot of S, the payments of S, the DTRs of a quarter
starting in S, the events dated in S) are read once and checked with the same rules as
`dmde score` (rejected rows go to `quarantine` with their rule, job `ingest`); the valid
rows are summarised per household (amounts per benefit, RSA, resources, event counts, the
quarter's DTR fields) into partition S of `household_months`, whose commit records the
Delta version of every source table it was read at. Each month is one run in `runs` (job
`ingest`, `score_month` = the source month).

Once the history is summarised, `dmde score --month M` reads the 24 summaries instead of
24 months of sources; a summary whose sources changed since it was built (a late payment,
a regularisation) is rebuilt by `dmde score` before it scores, and it says so.
"""
from __future__ import annotations

import argparse
import sys

from jobs.lib import summaries
from jobs.lib.runner import JobContext, Progress, add_month_arguments, job_main, months_to_run
from jobs.lib.scoring import latest_snapshot_month
from jobs.lib.sources import require_sources


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_month_arguments(parser, "source month YYYY-MM (default: the latest snapshot's month)", "source month")
    parser.add_argument("--stale", action="store_true",
                        help="skip the months whose summary is up to date with its sources")


def run(ctx: JobContext) -> int:
    args, config = ctx.args, ctx.config
    require_sources(config)
    months = months_to_run(args, default=lambda: latest_snapshot_month(config))
    if args.stale:
        stale = summaries.stale_months(ctx.spark, config, months)
        for month in months:
            print(f"[ingest] {month:%Y-%m}: {stale.get(month, 'up to date')}")
        months = sorted(stale)
    for month in months:
        progress = Progress("ingest")
        run = summaries.ingest_month(ctx.spark, config, month, progress)
        print(f"[ingest] {month:%Y-%m}: {sum(run['rows_read'].values()):,} source rows read, "
              f"{sum(run['rows_quarantined'].values()):,} quarantined, {run['output_rows'][summaries.TABLE]:,} households summarised "
              f"in {progress.total_seconds:.1f} s (run {run['run_id']})")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
