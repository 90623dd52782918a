"""Print the top of a Caf's ranked list for a score month, as a controller sees it.

    dmde show --month 2026-02 --caf 59 [--top 20] [--all]

Reads the `targets` table (or, with --all, every scored household of the Caf from
`scores`) with polars, straight from the Delta log, as the month's latest succeeded run
published it: no Spark session is started.
"""
from __future__ import annotations

import argparse
import sys
import polars as pl
from deltalake import DeltaTable

from domain.codes import CAF_CODES
from domain.errors import DmdeError
from jobs.lib.publish import published_versions, scan_published
from jobs.lib.runner import CAF_CODES_TEXT, JobContext, job_main, month_argument

PRINTS_START_LINE = False  # a controller's list: the list only


class ShowError(DmdeError):
    """Nothing to show, and why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=month_argument, required=True, help="score month YYYY-MM")
    parser.add_argument("--caf", required=True, help="Caf code, e.g. 59, 2A, 974")
    parser.add_argument("--top", type=int, default=20, help="rows to print (default 20)")
    parser.add_argument("--all", action="store_true",
                        help="every scored household of the Caf (eligible or not), not only the target list")


def check_request(ctx: JobContext) -> dict[str, int]:
    """The table versions the month's latest succeeded run published; a ShowError saying
    what to run when the Caf code, the data directory or the month is wrong."""
    args, config = ctx.args, ctx.config
    if args.caf not in CAF_CODES:
        raise ShowError(f"{args.caf!r} is not a Caf code: Caf codes are {CAF_CODES_TEXT}.")
    if args.top < 1:
        raise ShowError(f"--top must be at least 1 (got {args.top}).")
    if not DeltaTable.is_deltatable(config.output_path("runs")):
        raise ShowError(f"{config.data_dir} holds no scores (no Delta table at {config.output_path('runs')}): score "
                        f"a month first, `dmde score --month {args.month:%Y-%m} --data-dir {config.data_dir}`.")
    versions = published_versions(config, "runs", args.month, "score")
    if versions is None:
        raise ShowError(f"{args.month:%Y-%m} is not scored in {config.data_dir}: run "
                        f"`dmde score --month {args.month:%Y-%m} --data-dir {config.data_dir}` first.")
    return versions


def run(ctx: JobContext) -> int:
    args, config = ctx.args, ctx.config
    versions = check_request(ctx)
    in_caf = pl.col("caf") == args.caf
    households = scan_published(config, "scores", args.month, versions).filter(in_caf).select(pl.len()).collect().item()
    if households == 0:
        raise ShowError(f"Caf {args.caf} has no scored household in {args.month:%Y-%m} (the month is scored: "
                        f"no household of this Caf was in the snapshot of the month before).")
    name, rank = ("scores", "rank_in_caf") if args.all else ("targets", "target_rank")
    frame = scan_published(config, name, args.month, versions).filter(in_caf).sort(rank).head(args.top).collect()
    if frame.is_empty():
        raise ShowError(f"Caf {args.caf}'s target list of {args.month:%Y-%m} is empty although {households:,} of its "
                        "households are scored: its monthly capacity is 0 (the national capacity, shared by scored "
                        "households, rounds to 0 for a Caf this small) or none of them is eligible. "
                        "`--all` shows the Caf's ranked households.")
    print(f"Caf {args.caf}, score month {args.month:%Y-%m}: {'all scored households' if args.all else 'target list'}"
          f" (top {len(frame)} of {households:,} households scored)")
    for row in frame.iter_rows(named=True):
        status = "" if not args.all or row["eligible"] else f"  NOT ELIGIBLE: {row['ineligible_reason']}"
        print(f"{row[rank]:>5}  {row['household_id']}  score {row['score']:.4f}  national decile {row['decile']}"
              f"  top {row['percentile_in_caf']} % of the Caf{status}")
        for i in (1, 2, 3):
            if row[f"factor_{i}_label"]:
                odds = row.get(f"factor_{i}_odds_ratio")
                print(f"         raises the risk: {row[f'factor_{i}_label']}"
                      f"{f' (odds ratio {odds:.2f})' if odds is not None else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
