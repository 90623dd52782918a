"""Compare the synthetic population's modality shares with the published ones (DMDE.md §3).

    python scripts/calibration_report.py --data-dir /tmp/dmde --households 200000

Generates the population first when the data directory has no sources, then computes the
19 variables of the latest scorable month (the month after the last snapshot) and prints,
per variable and modality, the published share, the synthetic share and their difference.
Exits 1 when a modality is off by more than the tolerance (in percentage points).
"""
from __future__ import annotations

import argparse
import sys
from datetime import date

from pyspark.sql import functions as F

from domain.calendar import add_months, month_start
from jobs.generate import generate
from jobs.lib import tables
from jobs.lib.config import load_config
from jobs.lib.spark import session_for
from transforms.features import compute_features
from transforms.model import with_modalities

SOURCES = ("households", "members", "payments", "declarations", "events")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="root of the source tables")
    parser.add_argument("--households", type=int, default=50_000, help="households to generate if absent")
    parser.add_argument("--start", type=month_start, default=date(2023, 8, 1), help="first month generated")
    parser.add_argument("--end", type=month_start, default=date(2026, 1, 1), help="last month generated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--month", type=month_start, help="score month (default: after the last snapshot)")
    parser.add_argument("--tolerance", type=float, default=3.0, help="allowed |difference|, in points")
    return parser.parse_args(argv)


def modality_counts(features, spec) -> dict[tuple[str, str | None], int]:
    """(variable, modality) -> households, from one Spark groupBy (a few dozen rows)."""
    pairs = F.array(*[F.struct(F.lit(v.name).alias("variable"), F.col(v.name).alias("modality"))
                      for v in spec.variables])
    counts = (with_modalities(features, spec)
              .select(F.explode(pairs).alias("p"))
              .groupBy("p.variable", "p.modality").count())
    return {(row["variable"], row["modality"]): row["count"] for row in counts.collect()}


def main(argv=None) -> int:
    args = parse_args(argv)
    config = load_config(overrides={"data_dir": args.data_dir})
    spark = session_for(config)
    if not tables.exists(config.source_path("households")):
        print(f"No sources in {args.data_dir}: generating {args.households:,} households.")
        generate(spark, config, households=args.households, start=args.start, end=args.end, seed=args.seed)

    frames = {name: tables.read_source(spark, config, name) for name in SOURCES}
    last_month = tables.max_partition_value(config.source_path("households"), "month")
    cal = config.calendar(args.month or add_months(last_month, 1))
    features = compute_features(*frames.values(), cal=cal, smic_eur=config.smic_for(cal.snapshot_month),
                                rules=config.rules)
    counts = modality_counts(features, config.model)

    off = 0
    print(f"Score month {cal.score_month:%Y-%m}, tolerance ±{args.tolerance:g} points")
    print(f"{'variable':<26}{'modality':<18}{'published':>10}{'synthetic':>10}{'diff':>8}")
    for variable in config.model.variables:
        total = sum(n for (name, _), n in counts.items() if name == variable.name)
        for modality in variable.modalities:
            share = 100.0 * counts.get((variable.name, modality.code), 0) / total
            diff = share - modality.share
            flag = "  <-- off" if abs(diff) > args.tolerance else ""
            off += bool(flag)
            print(f"{variable.name:<26}{modality.code:<18}{modality.share:>10.1f}{share:>10.1f}{diff:>+8.1f}{flag}")
        unmatched = counts.get((variable.name, None), 0)
        if unmatched:
            off += 1
            print(f"{variable.name:<26}{'(no modality)':<18}{'':>10}{100.0 * unmatched / total:>10.1f}  <-- off")
    n_modalities = sum(len(v.modalities) for v in config.model.variables)
    print(f"{total:,} households scored; {off} of {n_modalities} modalities off by more than "
          f"{args.tolerance:g} points" + ("" if off else ": calibrated"))
    return 1 if off else 0


if __name__ == "__main__":
    sys.exit(main())
