"""Time the synthetic generator (`dmde generate`) table by table.

    python scripts/bench_generate.py --households 200000 [--data-dir DIR] [--seed 1]

Runs jobs.generate.generate with the local configuration over 2023-08 … 2026-01, into DIR
or a temporary directory removed afterwards, and prints the rows and seconds of each
table, the total and the rows written per second.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date

from jobs.lib.runner import Progress
from jobs.lib.config import load_config
from jobs.generate import generate
from jobs.lib.spark import session_for
from domain.calendar import month_start


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, required=True)
    parser.add_argument("--data-dir", help="where to write the sources (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=month_start, default=date(2023, 8, 1))
    parser.add_argument("--end", type=month_start, default=date(2026, 1, 1))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="dmde-bench-")
    try:
        config = load_config(overrides={"data_dir": data_dir})
        spark = session_for(config)
        progress = Progress("bench")
        started = time.perf_counter()
        rows = generate(spark, config, households=args.households, start=args.start, end=args.end,
                        seed=args.seed, progress=progress)
        total = time.perf_counter() - started
    finally:
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)

    print(f"\n{args.households:,} households, {args.start:%Y-%m} to {args.end:%Y-%m}, seed {args.seed}, "
          f"master {config.spark.master}")
    print(f"{'table':<14}{'rows':>14}{'seconds':>10}{'rows/s':>12}")
    for name, count in rows.items():
        seconds = progress.durations[f"write {name}"]
        print(f"{name:<14}{count:>14,}{seconds:>10.1f}{count / seconds:>12,.0f}")
    written = sum(rows.values())
    print(f"{'total':<14}{written:>14,}{total:>10.1f}{written / total:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
