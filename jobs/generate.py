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
from jobs.calibrate import features_at_control
from transforms import model, synth, synth_labels
from transforms.calibration import solve_intercept
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
        "households": lambda: synth.households_table(months),
        "members": lambda: synth.members_table(frame, period, seed),
        "payments": lambda: synth.payments_table(months),
        "declarations": lambda: synth.declarations_table(frame, spec, period, smic, seed),
        "events": lambda: synth.events_table(months, spec, seed),
        # OPBD outcomes need the variables of the tables written above
        "controls": lambda: synth.dmde_controls(frame, spec, period, seed).unionByName(
            opbd_controls(spark, config, spec, households, period, seed)),
    }

    def write(name: str) -> int:
        path = config.source_path(name)
        delta.write_table(tables[name](), path, partition_by=PARTITIONS[name], run_id=run_id,
                          mode="overwrite", operation=f"GENERATE seed={seed} households={households}")
        return delta.table_rows(path)

    return {name: progress.stage(f"write {name}", write, name) for name in tables}


def opbd_controls(spark, config, spec: SynthSpec, households: int, period: synth.Period, seed: int):
    """The random-control sample of the extract's last 12 months, labelled by the published
    model applied to the variables the scoring job computes (DATA.md, "Synthetic data")."""
    c = spec.controls
    wanted = max(c.opbd_min, round(c.opbd_per_year_national * households / c.national_households))
    snapshots = delta.read_table(spark, config.source_path("households"))
    sample = synth_labels.draw_sample(snapshots, last_month=period.end, months=min(12, period.months - 1),
                                      probability=min(1.0, wanted / households), seed=seed)
    model_spec = config.model
    labelled = features_at_control(spark, config, sample, model_spec).persist()
    rate = model_spec.target.published_rate
    intercepts = {}
    for name in model_spec.model_names():
        groups = labelled.groupBy(model.linear_predictor(model_spec, name).alias("s")).count().collect()
        intercepts[name] = solve_intercept([(g.s, g["count"]) for g in groups], rate)
    # Shift both intercepts together until the drawn outcomes hit the published rate: a
    # sample of a few thousand would otherwise miss it by a point by chance alone.
    size = labelled.count()

    def drawn_rate(shift: float) -> float:
        shifted = {name: b0 + shift for name, b0 in intercepts.items()}
        return labelled.where(synth_labels.is_target(model_spec, shifted, seed)).count() / size

    low, high = -1.0, 1.0
    for _ in range(12):  # the shift to 1/2000: far below one outcome of the sample
        middle = (low + high) / 2
        low, high = (middle, high) if drawn_rate(middle) < rate else (low, middle)
    shift = (low + high) / 2
    return synth_labels.outcomes(labelled, model_spec, {n: b + shift for n, b in intercepts.items()}, seed)


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
