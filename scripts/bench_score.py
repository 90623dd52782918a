"""Benchmark of the scoring job: generates (or reuses) N households, then times one month.

    python scripts/bench_score.py --households 1000000 --data-dir /tmp/bench1m

Prints the machine, each stage's seconds and households/s. A benchmark, not a test: compare
runs made on the same machine.
"""
from __future__ import annotations

from _bench import arguments, population, stages
from jobs.lib.runner import Progress
from jobs.score_month import score_month


def main() -> None:
    args = arguments(__doc__).parse_args()
    config, spark, month = population(args)
    progress = Progress("score")
    run = score_month(spark, config, month, progress)
    total = progress.total_seconds
    print(f"\nscore {month:%Y-%m}: {run['households_scored']:,} households in {total:.1f} s "
          f"= {run['households_scored'] / total:,.0f} households/s")
    print(stages(progress))


if __name__ == "__main__":
    main()
