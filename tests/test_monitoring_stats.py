"""MONITORING.md §2–§3, §5: the Column statistics on tiny inline frames — Wilson, ceil(q·n)
selections, representation, band and flags, PSI — each with its edge."""
from __future__ import annotations

import math

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from transforms import monitoring_estimates as est
from transforms import monitoring_stats as stats

BAND = (0.8, 1.25)


def test_wilson_pinned_values_and_the_numpy_twin(spark):
    counts = spark.createDataFrame([(1, 18, 100), (2, 0, 20), (3, 1080, 6000), (4, 3, 0), (5, None, 10)],
                                   "row int, n_target long, n_controls long")
    low, high = stats.wilson_interval("n_target", "n_controls", level=0.95)
    actual = counts.select("row", low.alias("ci_low"), high.alias("ci_high"))
    schema = "row int, ci_low double, ci_high double"
    pinned = spark.createDataFrame(
        [(1, 0.1170, 0.2667), (2, 0.0, 0.1611), (3, 0.1705, 0.1899), (4, None, None), (5, None, None)],
        schema)
    assert_approx_df_equality(actual, pinned, 5e-5, ignore_row_order=True, ignore_nullable=True)
    twin = [(row, *est.wilson_interval(k, n, level=0.95))
            for row, k, n in ((1, 18, 100), (2, 0, 20), (3, 1080, 6000))]
    numpy_values = spark.createDataFrame(twin + [(4, None, None), (5, None, None)], schema)
    assert_approx_df_equality(actual, numpy_values, 1e-12, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("fraction, households, size", [
    (0.1, 30, 3),        # 0.1 × 30 is 3.0000000000000004 in double: still 3 ranks
    (0.1, 31, 4),        # 3.1 → 4
    (0.012, 1000, 12),
    (0.012, 1001, 13),   # 12.012 → 13
    (0.012, 1, 1),       # a tiny Caf still selects its first household
    (1.0, 57, 57),
])
def test_top_fraction_size_is_the_ceiling_of_q_n(spark, fraction, households, size):
    frame = spark.createDataFrame([(households,)], "households_in_caf long")
    assert frame.select(stats.top_fraction_size(fraction, "households_in_caf")).first()[0] == size


def test_in_top_fraction_at_its_edge(spark):
    ranks = spark.createDataFrame([(r, 30, 0.1) for r in (1, 3, 4, 30)],
                                  "rank_in_caf int, households_in_caf long, fraction double")
    selected = ranks.select(
        "rank_in_caf",
        stats.in_top_fraction("rank_in_caf", "households_in_caf", 0.1).alias("by_float"),
        stats.in_top_fraction("rank_in_caf", "households_in_caf", F.col("fraction")).alias("by_column"))
    expected = spark.createDataFrame([(1, True, True), (3, True, True), (4, False, False), (30, False, False)],
                                     "rank_in_caf int, by_float boolean, by_column boolean")
    assert_df_equality(selected, expected, ignore_row_order=True, ignore_nullable=True)


COUNTS = "category string, n_selected long, n_selected_total long, n_reference long, n_reference_total long"


def test_representation_columns_and_the_rr_identity(spark):
    # S = 200 of R = 1000; category RURAL: 60 of 150 selected.
    counts = spark.createDataFrame([("RURAL", 60, 200, 150, 1000), ("URBAN", 140, 200, 850, 1000),
                                    ("EMPTY", 0, 200, 0, 1000)], COUNTS)
    actual = stats.with_representation(counts, nested=True).select(
        "category", "share_selected", "share_reference", "selection_rate", "representation_ratio",
        "excess_selection_pts")
    expected = spark.createDataFrame([
        ("RURAL", 0.30, 0.15, 0.40, 2.0, 100 * (0.40 - 0.2)),
        ("URBAN", 0.70, 0.85, 140 / 850, 0.70 / 0.85, 100 * (140 / 850 - 0.2)),
        ("EMPTY", 0.0, 0.0, None, None, None),
    ], "category string, share_selected double, share_reference double, selection_rate double, "
       "representation_ratio double, excess_selection_pts double")
    assert_approx_df_equality(actual, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)
    # RR = selection_rate / (n(S)/n(R)) whenever S ⊂ R
    for row in stats.with_representation(counts, nested=True).where("n_reference > 0").collect():
        assert row.representation_ratio == pytest.approx(
            row.selection_rate / (row.n_selected_total / row.n_reference_total), rel=1e-12)


def test_representation_against_an_independent_reference_has_no_selection_rate(spark):
    counts = spark.createDataFrame([("RURAL", 60, 200, 300, 1000)], COUNTS)
    row = stats.with_representation(counts, nested=F.lit(False)).first()
    assert row.representation_ratio == pytest.approx(0.30 / 0.30)
    assert row.selection_rate is None and row.excess_selection_pts is None


def test_band_edges_are_inclusive_and_flags_need_the_interval(spark):
    rows = [  # ratio, ci_low, ci_high → within_band, flag
        (0.7999, 0.70, 0.99, False, "UNDER"),
        (0.8, 0.70, 0.90, True, "NONE"),      # on the edge: within, never UNDER
        (1.0, 0.90, 1.10, True, "NONE"),
        (1.25, 1.10, 1.40, True, "NONE"),     # on the edge: within, never OVER
        (1.2501, 1.01, 1.50, False, "OVER"),
        (1.30, 1.00, 1.60, False, "NONE"),    # CI touches 1: no flag
        (0.70, 0.50, 1.00, False, "NONE"),
        (1.30, None, None, False, "NONE"),    # no interval: no flag
        (None, None, None, None, None),       # suppressed or undefined
    ]
    frame = spark.createDataFrame([r[:3] for r in rows], "ratio double, ci_low double, ci_high double")
    actual = frame.select("ratio", "ci_low", "ci_high",
                          stats.within_band("ratio", BAND).alias("within_band"),
                          stats.band_flag("ratio", "ci_low", "ci_high", BAND).alias("flag"))
    expected = spark.createDataFrame(rows, "ratio double, ci_low double, ci_high double, "
                                           "within_band boolean, flag string")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


PSI_ROWS = "caf string, variable string, modality string, share_population double, share_percent double"


def test_psi_pinned_value_on_normalised_published_shares(spark):
    """Published (62, 8, 24, 7) % sum to 101: normalised to 1 they give, against the
    population (0.60, 0.10, 0.23, 0.07), PSI = 0.00542 (§5)."""
    shares = spark.createDataFrame([
        ("ALL", "activity", "other", 0.60, 62.0), ("ALL", "activity", "partner_inactive", 0.10, 8.0),
        ("ALL", "activity", "dual_earner", 0.23, 24.0), ("ALL", "activity", "retired", 0.07, 7.0),
    ], PSI_ROWS)
    published = shares.select("*", stats.normalised_share("share_percent", ["caf", "variable"])
                              .alias("share_published"))
    psi = stats.with_psi(published, ["caf", "variable"], floor=0.0001)
    values = {row.psi_variable for row in psi.collect()}
    assert len(values) == 1 and values.pop() == pytest.approx(0.00542, abs=5e-6)
    assert sum(row.psi_term for row in psi.collect()) == pytest.approx(0.0054186, abs=1e-7)


def test_psi_floors_shares_without_renormalising(spark):
    shares = spark.createDataFrame([("59", "v", "a", 0.0, 0.5), ("59", "v", "b", 1.0, 0.5)],
                                   "caf string, variable string, modality string, "
                                   "share_population double, share_published double")
    psi = {row.modality: row for row in stats.with_psi(shares, ["caf", "variable"], floor=0.0001).collect()}
    # a: p = 0 floored to 0.0001; b: p = 1 kept (the floored shares sum to 1.0001)
    assert psi["a"].psi_term == pytest.approx((0.0001 - 0.5) * math.log(0.0001 / 0.5), rel=1e-12)
    assert psi["b"].psi_term == pytest.approx((1.0 - 0.5) * math.log(1.0 / 0.5), rel=1e-12)
    assert psi["a"].psi_variable == pytest.approx(psi["a"].psi_term + psi["b"].psi_term, rel=1e-12)


def test_psi_status_edges(spark):
    frame = spark.createDataFrame([(0.0999,), (0.10,), (0.2499,), (0.25,), (None,)], "psi double")
    actual = frame.select("psi", stats.psi_status("psi", 0.10, 0.25).alias("psi_status"))
    expected = spark.createDataFrame([(0.0999, "STABLE"), (0.10, "MODERATE"), (0.2499, "MODERATE"),
                                      (0.25, "SIGNIFICANT"), (None, None)], "psi double, psi_status string")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_rate_is_null_on_an_empty_denominator(spark):
    frame = spark.createDataFrame([(3, 4), (0, 0), (None, 5)], "k long, n long")
    assert [row[0] for row in frame.select(stats.rate("k", "n")).collect()] == [0.75, None, None]
