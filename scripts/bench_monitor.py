"""Benchmark of the monitoring job against the scoring job, on the same machine and data.

    python scripts/bench_monitor.py --households 1000000 --data-dir /tmp/bench1m [--scored-months 3]

Generates (or reuses) N households, calibrates, scores the last `--scored-months` months up
to --month (the scoring of --month is timed), then runs `dmde monitor` of --month twice:
the first run computes `protected_attributes` of every scored month of its window, the
second finds them (a month's steady state: only M is new). Prints each stage's seconds and
the ratio to the scoring's time (MONITORING.md §5: goal ≤ 0.5). A benchmark, not a test.
"""
from __future__ import annotations

import shutil

from _bench import arguments, population, stages
from domain.calendar import add_months
from jobs.lib.publish import published_runs
from jobs.lib.runner import Progress
from jobs.monitor_month import monitor_month
from jobs.score_month import score_month


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--scored-months", type=int, default=3, help="months scored up to --month (window + M)")
    args = parser.parse_args()
    config, spark, month = population(args)
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
