"""Benchmark of the monitoring job against the scoring job, on the same machine and data.

    python scripts/bench_monitor.py --households 1000000 --data-dir /tmp/bench1m [--scored-months 3]

Generates (or reuses) N households, calibrates, scores the last `--scored-months` months up
to --month (the scoring of --month is timed), then runs `dmde monitor` of --month twice:
the first run computes `protected_attributes` of every scored month of its window, the
second finds them (a month's steady state: only M is new). Prints each stage's seconds and
the ratio to the scoring's time (MONITORING.md §5: goal ≤ 0.5). A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
from datetime import date

from domain.calendar import add_months
from jobs.calibrate import calibrate
from jobs.generate import generate
from jobs.lib import tables
from jobs.lib.config import load_config
from jobs.lib.models import calibrated_model_path, save_calibrated_model
from jobs.lib.publish import published_runs
from jobs.lib.runner import Progress
from jobs.lib.spark import session_for
from jobs.monitor_month import monitor_month
from jobs.score_month import score_month


def stages(progress: Progress) -> str:
    return "\n".join(f"  {stage:<32} {seconds:8.1f} s" for stage, seconds in progress.durations.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--month", default="2026-02")
    parser.add_argument("--scored-months", type=int, default=3, help="months scored up to --month (window + M)")
    args = parser.parse_args()
    month = date.fromisoformat(args.month + "-01")
    config = load_config(overrides={"data_dir": args.data_dir})
    spark = session_for(config)
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"spark master {spark.sparkContext.master}, driver memory {spark.conf.get('spark.driver.memory', '1g')}")

    if not tables.exists(config.source_path("controls")):
        generate(spark, config, households=args.households, start=date(2023, 8, 1), end=add_months(month, -1),
                 seed=args.seed)
    if not calibrated_model_path(config).exists():
        save_calibrated_model(config, calibrate(spark, config, month), month)
    scored = published_runs(spark, config, "runs", "score")
    for k in range(args.scored_months - 1, 0, -1):
        if add_months(month, -k) not in scored:
            score_month(spark, config, add_months(month, -k), Progress("score", live=False))
    score = Progress("score", live=False)
    run = score_month(spark, config, month, score)
    print(f"\nscore {month:%Y-%m}: {run['households_scored']:,} households in {score.total_seconds:.1f} s")
    print(stages(score))

    shutil.rmtree(config.restricted_path("protected_attributes"), ignore_errors=True)
    for label in ("first run (attributes of every scored month)", "second run (attributes found)"):
        progress = Progress("monitor", live=False)
        result = monitor_month(spark, config, month, progress)
        print(f"\nmonitor {month:%Y-%m}, {label}: {progress.total_seconds:.1f} s "
              f"= {progress.total_seconds / score.total_seconds:.2f} × score; "
              f"{result['window_months_available']} window month(s), {result['dmde_controls_window']:,} DMDE and "
              f"{result['opbd_controls_window']:,} OPBD controls, {sum(result['output_rows'].values()):,} rows")
        print(stages(progress))


if __name__ == "__main__":
    main()
