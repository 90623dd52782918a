"""The monitoring's planted effects at size (MONITORING.md §5): a population generated over
30 months, its last 13 months replayed twice (controllers unbiased, then biased), `dmde
monitor` of the last month on each, then a planted drift; prints what must hold.

    .venv/bin/python scripts/check_monitoring.py --households 20000 --data-dir /tmp/mon20k

1. Generate and calibrate (or reuse) N households up to the month before --month; replay
   the last --months months (score, then simulate the DMDE controls): the months before
   the last --biased-months once, then the last --biased-months on two copies, the second
   with controllers picking `--bias` (attribute=category) `--odds` times as readily
   (`simulation.controller_bias`); `dmde monitor --month` on each. Both runs are thus
   replayed over --months months, the bias acting over the last --biased-months (13: the
   12-month horizon's cohort and the window).
2. Model vs random: the top-decile (fraction 0.10) OPBD target rate of the model, its
   Wilson CI above the rate of the RANDOM draw (all OPBD controls of the window).
3. Controller bias: the planted category flagged OVER in the national
   `monitoring_human_decisiveness` of the biased run, in at least one band of every horizon
   whose cohort is replayed (at this capacity the lists are worked through within the
   horizon, ALL_LIST's ratio is 1 by construction: the bias shows in the deciles the
   controllers draw their off-list controls from); no other category of that attribute
   flagged OVER; the unbiased run flags none of that attribute's categories. Flags of other
   attributes are printed: an attribute correlated with the planted one moves with it.
4. Planted drift: on a copy of the unbiased run, `guardianship` set for --drift-share of
   the households of the snapshot month, the month scored again and monitored: only the
   variable `guardianship` has `psi_variable` ≥ 0.10 nationally.
5. Planted miscalibration: on another copy of the unbiased run, the window's replayed
   months and the month scored again with a model file whose two intercepts are shifted by
   --intercept-shift (`dmde score --model FILE`), then monitored: the score's O/E in
   `monitoring_model_fit` has its CI below 1 (the unbiased run's O/E, whose model was
   calibrated on the window's OPBD controls, is 1 by construction: printed for contrast).

The DMDE capacity is raised to --monthly-rate of the households a month (the real one is
0.1 %) so that a band of a cohort holds hundreds of households: the decisiveness ratio of a
category then has a CI of about ± 0.15, and a planted odds of 4 moves it well past 1.25
(see the figures printed). Slow on 2 cores (two score runs a replayed month).
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from pyspark.sql import functions as F

from _bench import arguments, population
from domain import monitoring as vocabulary
from domain.calendar import add_months, months as month_range
from domain.synth import ControllerBias
from jobs.lib import delta
from jobs.lib.config import load_config, write_model
from jobs.lib.models import load_scoring_model
from jobs.lib.publish import read_published
from jobs.monitor_month import monitor_month
from jobs.replay import replay
from jobs.score_month import score_month

PSI_MODERATE = 0.10


def main() -> int:
    parser = arguments(__doc__)
    parser.add_argument("--months", type=int, default=13, help="months replayed up to --month")
    parser.add_argument("--monthly-rate", type=float, default=0.025, help="DMDE capacity, share of households a month")
    parser.add_argument("--bias", default="sex=M", help="attribute=category the controllers favour")
    parser.add_argument("--biased-months", type=int, default=13,
                        help="the last months replayed with the bias (the months before are replayed once, "
                             "unbiased, and shared by both runs)")
    parser.add_argument("--odds", type=float, default=4.0)
    parser.add_argument("--drift-share", type=float, default=0.15)
    parser.add_argument("--intercept-shift", type=float, default=0.4,
                        help="added to both intercepts of the planted miscalibration (logit scale)")
    args = parser.parse_args()
    started = time.perf_counter()
    config, spark, month = population(args)
    capacity = round(config.capacity.national_controls_per_year / 12 / args.monthly_rate)
    first = add_months(month, 1 - args.months)
    attribute, category = args.bias.split("=")
    bias = ControllerBias(attribute=attribute, category=category, odds=args.odds)
    simulation = config.synth().simulation

    def replayed(name: str, start, settings, origin: Path) -> object:
        data_dir = Path(f"{args.data_dir}-{name}")
        if not data_dir.exists():
            shutil.copytree(origin, data_dir)
        cfg = load_config(overrides={"data_dir": str(data_dir), "capacity": {"reference_households": capacity}})
        replay(spark, cfg, start, month, settings=settings)
        result = monitor_month(spark, cfg, month)
        print(f"[{name}] replayed {start:%Y-%m} … {month:%Y-%m} and monitored: {result['dmde_controls_window']:,} "
              f"DMDE, {result['opbd_controls_window']:,} OPBD controls in the window; "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        return cfg

    # The controllers are the same until the bias starts: the biased run branches from the
    # unbiased one when the last --biased-months begin (both are replayed from `first`).
    bias_start = max(first, add_months(month, 1 - args.biased_months))
    if bias_start > first:
        shared = load_config(overrides={"data_dir": args.data_dir, "capacity": {"reference_households": capacity}})
        replay(spark, shared, first, add_months(bias_start, -1), settings=simulation)
    unbiased = replayed("unbiased", bias_start, simulation, Path(args.data_dir))
    biased = replayed("biased", bias_start, simulation.model_copy(update={"controller_bias": bias}),
                      Path(args.data_dir))

    def published(cfg, table):
        return _published(spark, cfg, table, month)

    checks = []

    # 2. model vs random, OPBD of the window
    perf = {(r.rule, r.fraction): r for r in published(unbiased, "monitoring_performance")
            .where((F.col("sample") == "OPBD") & (F.col("caf") == vocabulary.NATIONAL)).collect()}
    # the top decile, or the first selection beyond it whose row is not suppressed (a count of
    # 1 … 10 in a row, e.g. its frauds, suppresses it whole at small sizes)
    rand = perf[(vocabulary.RULE_RANDOM, 1.0)]
    shown = [perf[key] for key in sorted(perf) if key[0] == vocabulary.RULE_MODEL and key[1] >= 0.10
             and not perf[key].suppressed]
    if not shown:
        checks.append(("model's OPBD target rate above RANDOM", "every selection from 10 % suppressed", False))
    else:
        top = shown[0]
        checks.append((f"top {top.fraction:.0%}'s OPBD target rate above RANDOM",
                       f"{top.target_rate:.1%} [{top.target_rate_ci_low:.1%}, {top.target_rate_ci_high:.1%}] on "
                       f"{top.n_controls:,} controls vs {rand.target_rate:.1%} on {rand.n_controls:,}",
                       top.target_rate_ci_low > rand.target_rate))

    # 3. controller bias, national decisiveness
    def flags(cfg):
        rows = published(cfg, "monitoring_human_decisiveness").where(
            (F.col("caf") == vocabulary.NATIONAL) & F.col("flag").isin(vocabulary.FLAG_OVER, vocabulary.FLAG_UNDER))
        return rows.select("attribute", "category", "band", "horizon_months", "flag", "controlled_ratio_vs_band",
                           "controlled_ratio_vs_band_ci_low", "controlled_ratio_vs_band_ci_high",
                           "n_households").collect()

    # The capacity makes the lists short enough to be worked through within a horizon (every
    # listed household is controlled: ALL_LIST's ratio is 1 by construction), so the bias shows
    # where the controllers choose: the deciles they draw the off-list controls from.
    def planted_rows(cfg):
        return published(cfg, "monitoring_human_decisiveness").where(
            (F.col("caf") == vocabulary.NATIONAL) & (F.col("attribute") == attribute)
            & (F.col("category") == category) & ~F.col("suppressed")
            & F.col("controlled_ratio_vs_band").isNotNull()).collect()

    before, after = flags(unbiased), flags(biased)
    planted_after = planted_rows(biased)
    for horizon in sorted({r.horizon_months for r in planted_after}):
        rows = sorted((r for r in planted_after if r.horizon_months == horizon), key=lambda r: r.band)
        over = [r for r in rows if r.flag == vocabulary.FLAG_OVER]
        checks.append((f"{attribute} = {category} OVER in a band, horizon {horizon}",
                       "; ".join(f"{r.band} {_ci(r)} on {r.n_households:,}" for r in (over or rows)[:3]),
                       bool(over)))
    others = sorted({(r.category, r.band, r.horizon_months) for r in after
                     if r.attribute == attribute and r.category != category and r.flag == vocabulary.FLAG_OVER})
    checks.append((f"other {attribute} categories flagged OVER (biased)", f"{len(others)} {others[:3]}", not others))
    same = [(r.category, r.band, r.horizon_months, r.flag) for r in before if r.attribute == attribute]
    checks.append((f"{attribute} flagged at all (unbiased)", f"{len(same)} {same[:3]}", not same))
    print(f"\nnational decisiveness flags of other attributes: unbiased {_by_attribute(before, attribute)}, "
          f"biased {_by_attribute(after, attribute)}")

    # 4. planted drift: guardianship for a share of the snapshot month's households
    drifted = Path(f"{args.data_dir}-drift")
    shutil.rmtree(drifted, ignore_errors=True)
    shutil.copytree(unbiased.data_dir, drifted)
    cfg = load_config(overrides={"data_dir": str(drifted), "capacity": {"reference_households": capacity}})
    snapshot = add_months(month, -1)
    households = delta.read(spark, cfg.source_path("households")).where(F.col("month") == F.lit(snapshot))
    chosen = F.abs(F.xxhash64("household_id")) % 10_000 < int(args.drift_share * 10_000)
    planted = households.withColumn("guardianship", F.col("guardianship") | chosen).localCheckpoint()
    delta.write(planted, cfg.source_path("households"), partition_by=["month"], mode="overwrite",
                run_id="check_monitoring", operation="PLANT DRIFT", replace={"month": [snapshot]})
    score_month(spark, cfg, month)
    monitor_month(spark, cfg, month)
    psi = {r.variable: r.psi_variable for r in published(cfg, "monitoring_drift").where(
        (F.col("caf") == vocabulary.NATIONAL)).select("variable", "psi_variable").distinct().collect()}
    moved = sorted(v for v, p in psi.items() if p is not None and p >= PSI_MODERATE and v != "score")
    checks.append(("variables with PSI ≥ 0.10 after the planted drift",
                   f"{moved} (guardianship {psi.get('guardianship') or float('nan'):.3f}, score "
                   f"{psi.get('score') or float('nan'):.3f}; largest other "
                   f"{max((p for v, p in psi.items() if v not in ('guardianship', 'score') and p), default=0):.3f})",
                   moved == ["guardianship"]))

    # 5. planted miscalibration: the window's months scored with shifted intercepts
    checks.append(planted_miscalibration(spark, unbiased, month, first, args.intercept_shift,
                                         Path(f"{args.data_dir}-miscalibrated"), capacity))

    print(f"\n{args.households:,} households, replay {first:%Y-%m} … {month:%Y-%m}, capacity "
          f"{args.monthly_rate:.1%} a month, bias {args.bias} × {args.odds:g}, seed {args.seed}")
    for name, figure, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name:<52} {figure}")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0 if all(ok for _, _, ok in checks) else 1


def _published(spark, cfg, table: str, month):
    return read_published(spark, cfg, table, month, ledger="monitoring_runs", job="monitor")


def planted_miscalibration(spark, unbiased, month, first, shift: float, data_dir: Path, capacity: int) -> tuple:
    """A copy of the unbiased run whose window months (those replayed) and month are scored
    again with both intercepts + `shift`, then monitored: the check that the score's O/E
    CI lies below 1, with the calibrated run's O/E for contrast."""
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(unbiased.data_dir, data_dir)
    cfg = load_config(overrides={"data_dir": str(data_dir), "capacity": {"reference_households": capacity}})
    shifted_model = data_dir / "models" / "shifted.yaml"
    write_model(load_scoring_model(cfg).with_intercepts_shifted(shift), shifted_model)
    rescored = month_range(max(first, add_months(month, -cfg.monitoring.evaluation_months)), month)
    for scored in rescored:
        score_month(spark, cfg, scored, model_file=shifted_model)
    monitor_month(spark, cfg, month)

    def fit(c):
        return _published(spark, c, "monitoring_model_fit", month).where(F.col("predictor") == "score").first()

    calibrated, miscalibrated = fit(unbiased), fit(cfg)
    return (f"O/E CI below 1, intercepts + {shift:g}",
            f"{_o_e(miscalibrated)} on {miscalibrated.n_controls:,} OPBD controls ({len(rescored)} months "
            f"rescored); calibrated: {_o_e(calibrated)}",
            miscalibrated.o_e_ratio_ci_high is not None and miscalibrated.o_e_ratio_ci_high < 1)


def _ci(row) -> str:
    if row is None or row.controlled_ratio_vs_band is None:
        return "n/a"
    return (f"{row.controlled_ratio_vs_band:.2f} [{row.controlled_ratio_vs_band_ci_low:.2f}, "
            f"{row.controlled_ratio_vs_band_ci_high:.2f}] {row.flag}")


def _o_e(row) -> str:
    if row is None or row.o_e_ratio is None:
        return "n/a"
    return f"O/E {row.o_e_ratio:.3f} [{row.o_e_ratio_ci_low:.3f}, {row.o_e_ratio_ci_high:.3f}]"


def _by_attribute(rows, planted: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        if r.attribute != planted:
            counts[r.attribute] = counts.get(r.attribute, 0) + 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
