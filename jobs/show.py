"""Print the top of a Caf's ranked list for a score month, as a controller sees it.

    dmde show --month 2026-02 --caf 59 [--top 20] [--all]

Reads the `targets` table (or, with --all, every scored household of the Caf from
`scores`) with polars, straight from the Delta log: no Spark session is started.
"""
from __future__ import annotations

import argparse
import sys

import polars as pl

from jobs.cli import job_main, load_job_config
from transforms.columns import month_start


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=month_start, required=True, help="score month YYYY-MM")
    parser.add_argument("--caf", required=True, help="Caf code, e.g. 59, 2A, 974")
    parser.add_argument("--top", type=int, default=20, help="rows to print (default 20)")
    parser.add_argument("--all", action="store_true",
                        help="every scored household of the Caf (eligible or not), not only the target list")


def ranked_list(path: str, month, caf: str, top: int, rank_column: str) -> pl.DataFrame:
    table = pl.scan_delta(path)
    return (table.filter((pl.col("score_month") == month) & (pl.col("caf") == caf))
                .sort(rank_column).head(top).collect())


def run(args: argparse.Namespace) -> int:
    config = load_job_config(args)
    name, rank = ("scores", "rank_in_caf") if args.all else ("targets", "target_rank")
    frame = ranked_list(config.output_path(name), args.month, args.caf, args.top, rank)
    if frame.is_empty():
        print(f"dmde show: no {name} for Caf {args.caf} in {args.month:%Y-%m} "
              f"(is the month scored? is the Caf's capacity 0?)", file=sys.stderr)
        return 1
    print(f"Caf {args.caf}, score month {args.month:%Y-%m}: {'all scored households' if args.all else 'target list'}"
          f" (top {len(frame)})")
    for row in frame.iter_rows(named=True):
        status = "" if not args.all or row["eligible"] else f"  NOT ELIGIBLE: {row['ineligible_reason']}"
        print(f"{row[rank]:>5}  {row['household_id']}  score {row['score']:.4f}  national decile {row['decile']}"
              f"  top {row['percentile_in_caf']} % of the Caf{status}")
        for i in (1, 2, 3):
            if row[f"factor_{i}_label"]:
                print(f"         raises the risk: {row[f'factor_{i}_label']} (odds ratio {row[f'factor_{i}_odds_ratio']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
