"""Benchmark of the monthly scoring: the full recomputation against the incremental run.

    python scripts/bench_score.py --households 1000000 --data-dir /tmp/bench1m
    python scripts/bench_score.py --households 1000000 --data-dir /tmp/bench1m --route full
    python scripts/bench_score.py --households 1000000 --data-dir /tmp/bench1m --route incremental --json
    python scripts/bench_score.py --households 1000000 --data-dir /tmp/bench1m --prepare

Generates (or reuses) N households up to month M (default 2026-02) and calibrates, then in
one sitting:
- full: `dmde score --month M --full`, every source row of the 24-month window read and
  validated (what every month cost before the summaries);
- incremental: the summaries of the 23 months before M are built once if missing (the
  history's one-off cost, printed apart), then the month's run as the data team runs it:
  `dmde ingest --month M` (the month that arrived) and `dmde score --month M+1` from the
  24 summaries.
Prints the machine, each stage's seconds, households/s, the peak memory of the Spark JVM
during each timed run, and with --json one line `RESULT {...}` (what bench_scale.py reads).
A benchmark, not a test: compare runs made on the same machine.
"""
from __future__ import annotations

import json
import time

from _bench import arguments, memory_peaks, population, reset_memory_peaks, stages
from domain.calendar import add_months, months
from jobs.lib import summaries
from jobs.lib.runner import Progress
from jobs.score_month import score_month


def timed_full(spark, config, month) -> dict:
    reset_memory_peaks(spark)
    progress = Progress("score")
    run = score_month(spark, config, month, progress, full=True)
    total = progress.total_seconds
    print(f"\nfull: score {month:%Y-%m} --full: {run['households_scored']:,} households in {total:.1f} s "
          f"= {run['households_scored'] / total:,.0f} households/s")
    print(stages(progress))
    return {"full_seconds": total, "households": run["households_scored"], **prefixed("full", memory_peaks(spark))}


def summarise_history(spark, config, month) -> None:
    """The summaries of the 23 source months before `month`, built if missing (once)."""
    history = months(add_months(month, -23), add_months(month, -1))
    started = time.perf_counter()
    rebuilt = summaries.refresh(spark, config, history, Progress("ingest", quiet=True))
    print(f"\nhistory (once): {len(rebuilt)} of {len(history)} source months summarised in "
          f"{time.perf_counter() - started:.1f} s")


def timed_incremental(spark, config, month) -> dict:
    summarise_history(spark, config, month)
    reset_memory_peaks(spark)
    ingest = Progress("ingest")
    summaries.ingest_month(spark, config, month, ingest)
    ingest_seconds = ingest.total_seconds
    score = Progress("score")
    run = score_month(spark, config, add_months(month, 1), score)
    score_seconds = score.total_seconds
    total = ingest_seconds + score_seconds
    print(f"\nincremental: ingest {month:%Y-%m} {ingest_seconds:.1f} s + score {add_months(month, 1):%Y-%m} "
          f"{score_seconds:.1f} s = {total:.1f} s for {run['households_scored']:,} households "
          f"= {run['households_scored'] / total:,.0f} households/s")
    print(stages(ingest))
    print(stages(score))
    return {"incremental_seconds": total, "ingest_seconds": ingest_seconds,
            "score_seconds": score_seconds, "households_next": run["households_scored"],
            **prefixed("incremental", memory_peaks(spark))}


def prefixed(prefix: str, values: dict) -> dict:
    return {f"{prefix}_{key}": value for key, value in values.items()}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--route", choices=("both", "full", "incremental"), default="both")
    parser.add_argument("--json", action="store_true", help="print the figures as one line RESULT {...}")
    parser.add_argument("--prepare", action="store_true",
                        help="only generate, calibrate and summarise the history (untimed set-up, e.g. while "
                             "the machine is busy); a later run times the routes on that data")
    args = parser.parse_args()
    config, spark, month = population(args, months_after=1)
    if args.prepare:
        summarise_history(spark, config, month)
        return
    result = {"households_generated": args.households}
    if args.route in ("both", "full"):
        result |= timed_full(spark, config, month)
    if args.route in ("both", "incremental"):
        result |= timed_incremental(spark, config, month)
    if args.route == "both":
        print(f"\nincremental / full: {result['incremental_seconds'] / result['full_seconds']:.3f} "
              f"({result['full_seconds'] / result['incremental_seconds']:.1f}x faster)")
    if args.json:
        print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
