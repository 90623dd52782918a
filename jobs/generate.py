"""Write a synthetic population's six source tables as Delta tables.

    dmde generate --households 100000 --start 2023-08 --end 2026-01 --seed 7 --data-dir data

The tables go to <data-dir>/sources/<table> (households, members, payments, declarations,
events, controls). The same arguments give identical tables; every draw is a seeded hash
computed on the executors, so the job scales with the cluster.
"""
from __future__ import annotations

import argparse
import sys
import uuid
from datetime import date

import yaml

from jobs import delta
from jobs.cli import Progress, job_main, load_job_config
from jobs.config import ConfigError
from jobs.spark import get_spark
from jobs.synth_spec import SynthSpec
from transforms import synth
from transforms.columns import month_start

# Source table -> partition columns (DATA.md: partitioned by month, or pruned on a date).
PARTITIONS = {
    "households": ["month"],
    "payments": ["month"],
    "declarations": ["quarter_start"],
    "members": [],
    "events": [],
    "controls": [],
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--households", type=int, required=True, help="number of households")
    parser.add_argument("--start", required=True, type=month_start, help="first month YYYY-MM")
    parser.add_argument("--end", required=True, type=month_start, help="last month YYYY-MM (inclusive)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--partitions", type=int, default=None,
                        help="Spark partitions of the household ids (default: 2 per 100 000, at least 4)")


def load_synth_spec(path) -> SynthSpec:
    from pydantic import ValidationError
    try:
        with open(path, encoding="utf-8") as handle:
            return SynthSpec.model_validate(yaml.safe_load(handle))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(path, key, first["msg"]) from None


def months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def generate(spark, config, *, households: int, start: date, end: date, seed: int,
             partitions: int | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Generate and write the source tables; return the rows written per table."""
    if households <= 0:
        raise ValueError("--households must be positive")
    if end < start:
        raise ValueError(f"--end {end:%Y-%m} is before --start {start:%Y-%m}")
    spec = load_synth_spec(config.synth_file)
    period = synth.Period(start, months_between(start, end))
    cafs = [(c.code, c.relative_size, c.prefill_start) for c in config.cafs]
    smic = [(r.valid_from, r.net_monthly_eur) for r in config.smic]
    progress = progress or Progress("generate")
    run_id = f"generate-{uuid.uuid4().hex[:12]}"
    partitions = partitions or max(4, households // 50_000)

    ids = spark.range(0, households, numPartitions=partitions)
    frame = synth.household_frame(ids, spec, cafs, period, seed)
    months = synth.household_months(frame, spec, period, smic, seed)
    tables = {
        "households": synth.households_table(months),
        "members": synth.members_table(frame, period, seed),
        "payments": synth.payments_table(months),
        "declarations": synth.declarations_table(frame, spec, period, smic, seed),
        "events": synth.events_table(months, spec, seed),
        "controls": synth.dmde_controls(frame, spec, period, seed),
    }
    counts = {}
    for name, df in tables.items():
        path = config.source_path(name)
        progress.stage(f"write {name}", delta.write_table, df, path, partition_by=PARTITIONS[name],
                       run_id=run_id, mode="overwrite", operation=f"GENERATE seed={seed} n={households}")
        counts[name] = _count(spark, path)
    return counts


def _count(spark, path: str) -> int:
    return delta.read_table(spark, path).count()


def run(args: argparse.Namespace) -> int:
    config = load_job_config(args)
    spark = get_spark(config.spark.app_name, config.spark.master, config.spark.conf)
    progress = Progress("generate")
    counts = generate(spark, config, households=args.households, start=args.start, end=args.end,
                      seed=args.seed, partitions=args.partitions, progress=progress)
    print(f"[generate] {args.households:,} households, {args.start:%Y-%m} to {args.end:%Y-%m}, "
          f"seed {args.seed}, in {progress.total_seconds:.1f} s")
    for name, rows in counts.items():
        print(f"  {config.source_path(name):<60} {rows:>14,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
