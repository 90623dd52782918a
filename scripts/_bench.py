"""What the benchmarks share: their arguments, the session, a population generated and
calibrated once per data dir, and how stage times are printed."""
from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date

from domain.calendar import add_months
from jobs.calibrate import calibrate
from jobs.generate import generate
from jobs.lib import tables
from jobs.lib.config import Config, load_config
from jobs.lib.models import calibrated_model_path, save_calibrated_model
from jobs.lib.runner import Progress
from jobs.lib.spark import session_for

FIRST_MONTH = date(2023, 8, 1)   # 24 months before the first scored month's W24, and 6 more


def arguments(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--month", default="2026-02")
    return parser


def population(args: argparse.Namespace, overlays: tuple[str, ...] = (), *,
               months_after: int = 0) -> tuple[Config, object, date]:
    """The configuration (with these overlays), the Spark session (machine printed) and the
    month, with the population generated up to the month before (and `months_after` more
    months) and the model calibrated if missing."""
    month = date.fromisoformat(args.month + "-01")
    config = load_config(overlays=list(overlays), overrides={"data_dir": args.data_dir})
    spark = session_for(config)
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"spark master {spark.sparkContext.master}, driver memory {spark.conf.get('spark.driver.memory', '1g')}")
    if not tables.exists(config.source_path("controls")):
        start = time.perf_counter()
        generate(spark, config, households=args.households, start=FIRST_MONTH, end=add_months(month, months_after - 1),
                 seed=args.seed)
        print(f"generated {args.households:,} households in {time.perf_counter() - start:.1f} s")
    if not calibrated_model_path(config).exists():
        start = time.perf_counter()
        save_calibrated_model(config, calibrate(spark, config, month), month)
        print(f"calibrated in {time.perf_counter() - start:.1f} s")
    return config, spark, month


def stages(progress: Progress) -> str:
    return "\n".join(f"  {stage:<32} {seconds:8.1f} s" for stage, seconds in progress.durations.items())


def jvm_pid(spark) -> int:
    """The Spark JVM's process (in local mode the executor is the driver's JVM)."""
    return spark.sparkContext._gateway.proc.pid


def reset_memory_peaks(spark) -> None:
    """Start the peaks of `memory_peaks` afresh (Linux: clear_refs 5 resets VmHWM)."""
    for pool in spark._jvm.java.lang.management.ManagementFactory.getMemoryPoolMXBeans():
        pool.resetPeakUsage()
    with open(f"/proc/{jvm_pid(spark)}/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")


def memory_peaks(spark) -> dict[str, float]:
    """Peak memory since `reset_memory_peaks`, in GiB: the JVM's resident set (VmHWM) and
    its heap (the sum of the heap pools' peaks, an upper bound of the heap's own peak)."""
    jvm = spark._jvm.java.lang.management
    heap = sum(pool.getPeakUsage().getUsed() for pool in jvm.ManagementFactory.getMemoryPoolMXBeans()
               if str(pool.getType()) == "Heap memory")
    with open(f"/proc/{jvm_pid(spark)}/status", encoding="ascii") as handle:
        rss_kib = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:"))
    return {"peak_rss_gib": rss_kib / 2**20, "peak_heap_gib": heap / 2**30}
