"""What a Delta commit of a score month costs, and how much of it is file statistics.

    python scripts/bench_delta_write.py --data-dir /tmp/bench1m [--month 2026-02] [--rounds 3]

Reads the month's published `features` and `scores` (a data dir `bench_score.py` scored),
holds them in memory spread over the shuffle partitions as `dmde score` leaves them
(features by household, the join's key; scores by Caf, the ranking window's), then writes
each, in alternation and `--rounds` times, to a fresh Delta table of a temporary folder as
`dmde score` does (partitioned like the table, one commit): with Delta's defaults
(statistics of the first 32 columns), and with the table properties `dmde score` writes
with (`publish.table_options`: the statistics `delta.stats_columns` configures); and, for
reference, as plain Parquet. Prints each write's seconds and files, and the medians (the
first round, which warms the JVM up, left out when there are more).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from jobs.lib import delta
from jobs.lib.config import load_config
from jobs.lib.publish import read_published, table_options
from jobs.lib.spark import session_for



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--month", default="2026-02")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = load_config(overrides={"data_dir": args.data_dir})
    spark = session_for(config)
    month = date.fromisoformat(args.month + "-01")
    spread = int(spark.conf.get("spark.sql.shuffle.partitions"))
    frames = {table: read_published(spark, config, table, month).repartition(spread, key).cache()
              for table, key in (("features", "household_id"), ("scores", "caf"))}
    for table, df in frames.items():
        print(f"{table}: {df.count():,} rows, {len(df.columns)} columns (held in memory)")
    seconds: dict[tuple[str, str], list[float]] = {}
    work = tempfile.mkdtemp(prefix="dmde-bench-write-")
    try:
        for round_ in range(args.rounds):
            for table, df in frames.items():
                variants = {"delta, Delta's defaults": {},
                            "delta, as configured": table_options(config, table)["properties"], "parquet": None}
                for variant, properties in variants.items():
                    path = f"{work}/{table}-{round_}-{variant.replace(' ', '_').replace(',', '')}"
                    started = time.perf_counter()
                    if properties is None:
                        df.write.partitionBy(*config.partition_by(table)).parquet(path)
                    else:
                        delta.write(df, path, partition_by=config.partition_by(table), mode="overwrite",
                                    run_id="bench", operation="BENCH", properties=properties)
                    took = time.perf_counter() - started
                    seconds.setdefault((table, variant), []).append(took)
                    files = sum(1 for _ in Path(path).rglob("*.parquet"))
                    print(f"round {round_ + 1} {table:<9} {variant:<24} {took:6.2f} s {files:5d} files", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nmedians:")
    for (table, variant), values in seconds.items():
        print(f"  {table:<9} {variant:<24} {statistics.median(values[1:] or values):6.2f} s")


if __name__ == "__main__":
    main()
