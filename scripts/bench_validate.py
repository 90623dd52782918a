"""Benchmark of the validation's rules that compare rows, one at a time.

    python scripts/bench_validate.py --data-dir /tmp/bench1m [--month 2026-02]

For a population already generated (scripts/bench_score.py), times the lookup of each
rule that compares rows (duplicated keys, orphans, pre-filling starts: the shuffles of
`transforms.quality.lookups`) on its own, then the whole `dmde validate`. A benchmark,
not a test: compare runs made on the same machine.
"""
from __future__ import annotations

import argparse
import time

import expectations
from domain.calendar import Span, month_start
from jobs.lib import tables
from jobs.lib.config import load_config
from jobs.lib.runner import Progress, new_run_id
from jobs.lib.sources import read_sources
from jobs.lib.spark import session_for
from jobs.lib.validation import parameters, read_validated
from transforms import quality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--month", type=month_start, default=month_start("2026-02"))
    args = parser.parse_args()
    config = load_config(overrides={"data_dir": args.data_dir})
    spark = session_for(config)
    span = Span.of(config.calendar(args.month))
    suites = expectations.suites(parameters(config, span))
    frames = read_sources(spark, config, span).as_dict()
    snapshots = tables.read_source(spark, config, "households", where={"month": span.w24_months})
    snapshots = snapshots.select("household_id", "month", "caf")

    print(f"lookups of the rules that compare rows, score month {args.month:%Y-%m}:")
    for table, df in frames.items():
        for rule, lookup in quality.lookups(df, suites[table], snapshots).items():
            start = time.perf_counter()
            rows = lookup.count()
            print(f"  {table + '.' + rule:<42}{rows:>10,} suspect keys {time.perf_counter() - start:8.1f} s",
                  flush=True)
    print()
    progress = Progress("validate")
    read_validated(spark, config, span, new_run_id("validate", args.month), progress).unpersist()
    print(f"\ndmde validate --month {args.month:%Y-%m}: {progress.total_seconds:.1f} s")


if __name__ == "__main__":
    main()
