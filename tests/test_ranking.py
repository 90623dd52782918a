"""DMDE.md §5: ranking, deciles, eligibility delays and target lists."""
from __future__ import annotations

from datetime import date

import pytest
from chispa import assert_df_equality

from domain.settings import ControlDelays
from transforms import ranking

SCORES = "caf string, household_id string, score double"
CONTROLS = ("household_id string, control_date date, origin string, overpayment_eur decimal(12,2), "
            "underpayment_eur decimal(12,2)")


def test_rank_within_caf_breaks_ties_by_household_id(spark):
    scores = spark.createDataFrame(
        [("59", "h3", 0.5), ("59", "h1", 0.5), ("59", "h2", 0.9), ("75", "h4", 0.1)], SCORES)
    ranked = ranking.rank_within_caf(scores).select("household_id", "rank_in_caf", "households_in_caf",
                                                     "percentile_in_caf")
    expected = spark.createDataFrame(
        [("h2", 1, 3, 34), ("h1", 2, 3, 67), ("h3", 3, 3, 100), ("h4", 1, 1, 100)],
        "household_id string, rank_in_caf int, households_in_caf long, percentile_in_caf int")
    assert_df_equality(ranked, expected, ignore_row_order=True, ignore_nullable=True)


def test_national_decile_puts_top_tenth_in_decile_1_and_ties_together(spark):
    rows = [("59", f"h{i:03d}", float(i)) for i in range(100)] + [("59", "tie", 95.0)]
    deciles = {r.household_id: r.decile for r in ranking.national_decile(
        spark.createDataFrame(rows, SCORES)).collect()}
    assert deciles["h099"] == 1 and deciles["h000"] == 10
    assert deciles["tie"] == deciles["h095"]
    counts = [sum(1 for d in deciles.values() if d == k) for k in range(1, 11)]
    assert all(9 <= c <= 12 for c in counts), counts


def _eligibility(spark, month: date, control: date | None, over: str = "0.00", under: str = "0.00"):
    from decimal import Decimal
    scores = spark.createDataFrame([("59", "h1", 0.5)], SCORES)
    rows = [] if control is None else [("h1", control, "DMDE", Decimal(over), Decimal(under))]
    controls = spark.createDataFrame(rows, CONTROLS)
    delays = ControlDelays(with_impact_months=12, without_impact_months=18, uniform_from=date(2026, 3, 1),
                           uniform_months=24)
    result = ranking.eligibility(scores, ranking.last_dmde_control(controls, month), month, delays).collect()[0]
    return result


@pytest.mark.parametrize("control, over, under, eligible", [
    (date(2025, 1, 20), "700.00", "0.00", True),     # impact: 12 months, M-12 → eligible
    (date(2025, 2, 1), "700.00", "0.00", False),     # impact: M-11 → not yet
    (date(2025, 2, 1), "0.00", "35.00", False),      # an underpayment is an impact too
    (date(2024, 7, 31), "0.00", "0.00", True),       # no impact: 18 months, M-18 → eligible
    (date(2024, 8, 1), "0.00", "0.00", False),       # no impact: M-17 → not yet
])
def test_delays_before_2026_03_are_12_or_18_months(spark, control, over, under, eligible):
    row = _eligibility(spark, date(2026, 1, 1), control, over, under)
    assert row.eligible is eligible
    assert (row.ineligible_reason is None) is eligible


@pytest.mark.parametrize("control, over, eligible", [
    (date(2024, 3, 15), "700.00", True),     # M-24 → eligible
    (date(2024, 4, 1), "700.00", False),     # M-23, even with impact: 24 months from 2026-03
    (date(2024, 4, 1), "0.00", False),
])
def test_delay_from_2026_03_is_24_months(spark, control, over, eligible):
    row = _eligibility(spark, date(2026, 3, 1), control, over)
    assert row.eligible is eligible


def test_ineligible_reason_says_when_and_why(spark):
    row = _eligibility(spark, date(2026, 1, 1), date(2025, 6, 12), "700.00")
    assert row.ineligible_reason == ("last DMDE control on 2025-06-12 (with financial impact): "
                                     "12-month delay, eligible from 2026-06")
    assert row.eligible_from == date(2026, 6, 1)


def test_only_dmde_controls_before_the_month_count(spark):
    from decimal import Decimal
    controls = spark.createDataFrame([
        ("h1", date(2025, 12, 1), "OPBD", Decimal("0"), Decimal("0")),
        ("h2", date(2026, 1, 1), "DMDE", Decimal("0"), Decimal("0")),   # on M itself: not before
        ("h3", date(2025, 3, 1), "DMDE", Decimal("0"), Decimal("0")),
        ("h3", date(2025, 11, 1), "DMDE", Decimal("800"), Decimal("0")),
    ], CONTROLS)
    last = ranking.last_dmde_control(controls, date(2026, 1, 1)).collect()
    assert [(r.household_id, r.last_dmde_control_date, r.last_dmde_control_impact) for r in last] == [
        ("h3", date(2025, 11, 1), True)]


def test_capacity_is_shared_by_scored_households_and_overridable(spark):
    rows = [("59", f"a{i}", 0.1) for i in range(300)] + [("75", f"b{i}", 0.1) for i in range(100)]
    scores = spark.createDataFrame(rows, SCORES)
    capacity = {r.caf: r.capacity for r in ranking.monthly_capacity(
        scores, national_per_year=1200, reference_households=400, per_caf_monthly={}).collect()}
    assert capacity == {"59": 75, "75": 25}
    # a population smaller than the reference gets the same share, not the same number
    half = {r.caf: r.capacity for r in ranking.monthly_capacity(
        scores, national_per_year=1200, reference_households=800, per_caf_monthly={"75": 3}).collect()}
    assert half == {"59": 38, "75": 3}


def test_targets_are_eligible_households_in_rank_order_up_to_capacity(spark):
    scores = spark.createDataFrame([
        ("59", "h1", 1, True), ("59", "h2", 2, False), ("59", "h3", 3, True), ("59", "h4", 4, True),
        ("75", "h5", 1, True)], "caf string, household_id string, rank_in_caf int, eligible boolean")
    capacity = spark.createDataFrame([("59", 2), ("75", 0)], "caf string, capacity int")
    targets = ranking.targets(scores, capacity).select("household_id", "target_rank")
    expected = spark.createDataFrame([("h1", 1), ("h3", 2)], "household_id string, target_rank int")
    assert_df_equality(targets, expected, ignore_row_order=True, ignore_nullable=True)
