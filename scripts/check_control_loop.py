"""The control loop's checks at size (issue 16 §3): generate, calibrate, replay 12 months,
then measure what must hold and print the figures.

    .venv/bin/python scripts/check_control_loop.py --households 20000 --data-dir /tmp/loop20k

Checks, over the DMDE controls of the replayed months: every control with
`target_score_month` set is in the `targets` of that month (and that month is the control
month or one of the two before); the on-list share is within 3 points of `adherence`; no
household has two DMDE controls closer than its delay (the generator's earlier ones
included); controls per Caf and month are within the capacity; the ON_SITE and fraud shares
are within 3 points of their settings. The capacity is raised tenfold
(scripts/synthetic_capacity.yaml) so that 20 000 households get about 200 DMDE controls a
month, 2 400 over the year: the shares' standard errors are then under 1 point.
Slow on 2 cores (a score run a month); a data dir already generated is reused.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from pyspark.sql import Window
from pyspark.sql import functions as F

from _bench import arguments, population
from domain.calendar import add_months, months
from jobs.lib import delta
from jobs.lib.publish import read_published
from jobs.replay import replay
from transforms import ranking

OVERLAY = str(Path(__file__).resolve().parent / "synthetic_capacity.yaml")
TOLERANCE = 0.03


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.set_defaults(households=20_000)
    parser.add_argument("--months", type=int, default=12, help="months replayed up to --month")
    args = parser.parse_args()
    started = time.perf_counter()
    config, spark, last = population(args, overlays=(OVERLAY,))
    first = add_months(last, 1 - args.months)
    replay(spark, config, first, last)
    print(f"replayed {first:%Y-%m} … {last:%Y-%m} in {time.perf_counter() - started:.0f} s", flush=True)

    settings = config.synth().simulation
    replayed = months(first, last)
    controls = delta.read(spark, config.source_path("controls"))
    month_of = F.trunc("control_date", "month")
    dmde = controls.where(F.col("origin") == "DMDE")
    rows = dmde.where(month_of.isin(*[F.lit(m) for m in replayed])).persist()
    scores = None
    targets = None
    for m in replayed:
        s = read_published(spark, config, "scores", m).select("caf", "household_id", "score_month")
        t = read_published(spark, config, "targets", m).select("household_id", "score_month")
        scores = s if scores is None else scores.unionByName(s)
        targets = t if targets is None else targets.unionByName(t)

    n, on_list, on_site, fraud = rows.agg(
        F.count(F.lit(1)), F.count("target_score_month"), F.sum((F.col("mode") == "ON_SITE").cast("int")),
        F.sum(F.col("fraud").cast("int"))).first()
    listed = rows.where(F.col("target_score_month").isNotNull())
    not_on_list = listed.join(targets.withColumnRenamed("score_month", "target_score_month"),
                              on=["household_id", "target_score_month"], how="left_anti").count()
    lag = F.months_between(month_of, F.col("target_score_month"))
    wrong_list_month = listed.where((lag < 0) | (lag > settings.list_months - 1)).count()

    # consecutive DMDE controls of a household: months apart vs the delay at the second one
    delays = config.control_delays
    by_date = Window.partitionBy("household_id").orderBy("control_date")
    impact = (F.col("overpayment_eur") > 0) | (F.col("underpayment_eur") > 0)
    previous = dmde.select("household_id", "control_date", month_of.alias("month"),
                           F.lag("control_date").over(by_date).alias("previous"),
                           F.lag(impact).over(by_date).alias("previous_impact"))
    gap = (F.year("month") - F.year("previous")) * 12 + F.month("month") - F.month("previous")
    delay = (F.when(F.col("month") >= F.lit(delays.uniform_from), delays.uniform_months)
             .when(F.col("previous_impact"), delays.with_impact_months)
             .otherwise(delays.without_impact_months))
    too_close = previous.where(F.col("previous").isNotNull() & F.col("month").isin(*[F.lit(m) for m in replayed])
                               & (gap < delay)).count()

    over_capacity, used, capacity_total = 0, 0, 0
    for m in replayed:
        s = scores.where(F.col("score_month") == F.lit(m))
        capacity = ranking.monthly_capacity(s, national_per_year=config.capacity.national_controls_per_year,
                                            reference_households=config.capacity.reference_households,
                                            per_caf_monthly=config.capacity.per_caf_monthly)
        per_caf = (rows.where(month_of == F.lit(m)).join(s.select("household_id", "caf"), on="household_id",
                                                         how="inner").groupBy("caf").count())
        joined = capacity.join(per_caf, on="caf", how="full").fillna(0, ["count"])
        over_capacity += joined.where(F.col("capacity").isNull() | (F.col("count") > F.col("capacity"))).count()
        u, c = joined.agg(F.sum("count"), F.sum("capacity")).first()
        used, capacity_total = used + (u or 0), capacity_total + (c or 0)

    checks = [
        ("DMDE controls in the replayed months",
         f"{n:,} (capacity {capacity_total:,}, used {used / max(capacity_total, 1):.1%}, "
         f"fill_rate {settings.fill_rate:.0%})", n > 0),
        ("on-list controls not in the list they name", f"{not_on_list:,} (of {on_list:,})", not_on_list == 0),
        ("on-list controls from a list outside c-2 … c", f"{wrong_list_month:,}", wrong_list_month == 0),
        ("on-list share", f"{on_list / n:.2%} (adherence {settings.adherence:.0%})",
         abs(on_list / n - settings.adherence) <= TOLERANCE),
        ("pairs of DMDE controls closer than the delay", f"{too_close:,}", too_close == 0),
        ("Caf × month over capacity", f"{over_capacity:,}", over_capacity == 0),
        ("ON_SITE share", f"{on_site / n:.2%} (setting {settings.on_site_share:.2%})",
         abs(on_site / n - settings.on_site_share) <= TOLERANCE),
        ("fraud share", f"{fraud / n:.2%} (setting {settings.fraud_share:.0%})",
         abs(fraud / n - settings.fraud_share) <= TOLERANCE),
    ]
    print(f"\n{args.households:,} households, replay {first:%Y-%m} … {last:%Y-%m}, seed {args.seed}")
    for name, figure, ok in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name:<46} {figure}")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
