"""Benchmark of the scoring job: generates (or reuses) N households, then times one month.

    python scripts/bench_score.py --households 1000000 --data-dir /tmp/bench1m

Prints the machine, each stage's seconds and households/s. A benchmark, not a test: compare
runs made on the same machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date

from jobs.calibrate import calibrate
from jobs.generate import generate
from jobs.lib import tables
from jobs.lib.config import load_config
from jobs.lib.models import calibrated_model_path, save_calibrated_model
from jobs.lib.runner import Progress
from jobs.lib.spark import session_for
from jobs.score_month import score_month


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--month", default="2026-02")
    args = parser.parse_args()
    month = date.fromisoformat(args.month + "-01")
    config = load_config(overrides={"data_dir": args.data_dir})
    spark = session_for(config)
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"spark master {spark.sparkContext.master}, driver memory {spark.conf.get('spark.driver.memory', '1g')}")

    if not tables.exists(config.source_path("controls")):
        start = time.perf_counter()
        generate(spark, config, households=args.households, start=date(2023, 8, 1), end=date(2026, 1, 1),
                 seed=args.seed)
        print(f"generated {args.households:,} households in {time.perf_counter() - start:.1f} s")
    if not calibrated_model_path(config).exists():
        start = time.perf_counter()
        save_calibrated_model(config, calibrate(spark, config, month), month)
        print(f"calibrated in {time.perf_counter() - start:.1f} s")

    progress = Progress("score")
    run = score_month(spark, config, month, progress)
    total = progress.total_seconds
    print(f"\nscore {month:%Y-%m}: {run['households_scored']:,} households in {total:.1f} s "
          f"= {run['households_scored'] / total:,.0f} households/s")
    for stage, seconds in progress.durations.items():
        print(f"  {stage:<28} {seconds:8.1f} s")


if __name__ == "__main__":
    main()
