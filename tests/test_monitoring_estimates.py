"""MONITORING.md §2–§3, §5: the driver-side statistics on tiny inline arrays — pinned values,
edges, the bootstrap's determinism and pairing, and a coverage check."""
from __future__ import annotations

import zlib
from datetime import date

import numpy as np
import pytest
from scipy.stats import rankdata

from domain.monitoring import CI_BOOTSTRAP, CI_NONE, NOTE_ZERO_REFERENCE, PARITY_METRICS
from domain.settings import BootstrapSettings
from transforms import monitoring_estimates as est

BOOTSTRAP = BootstrapSettings(replicates=1000, seed=20260101, level=0.95)
FEW = BootstrapSettings(replicates=200, seed=20260101, level=0.95)  # for the slower statistics


def resampling(n: int, key: str = "monitoring_performance|2026-02|ALL||||E(M)",
               bootstrap: BootstrapSettings = BOOTSTRAP) -> est.Resampling:
    return est.Resampling(n, bootstrap, key)


# ---------------------------------------------------------------------------------------
# Point statistics


@pytest.mark.parametrize("successes, n, low, high", [
    (18, 100, 0.1170, 0.2667), (0, 20, 0.0, 0.1611), (1080, 6000, 0.1705, 0.1899),
])
def test_wilson_pinned_values(successes, n, low, high):
    assert est.wilson_interval(successes, n, level=0.95) == (pytest.approx(low, abs=5e-5),
                                                             pytest.approx(high, abs=5e-5))


def test_wilson_on_arrays_and_without_units():
    low, high = est.wilson_interval([18, 0, 3], [100, 20, 0], level=0.95)
    assert low[:2] == pytest.approx([0.1170, 0.0], abs=5e-5)
    assert high[:2] == pytest.approx([0.2667, 0.1611], abs=5e-5)
    assert np.isnan(low[2]) and np.isnan(high[2])
    assert est.wilson_interval(20, 20, level=0.95)[1] == 1.0  # clipped, never above 1


def test_auc_pinned_with_a_tie_counted_half():
    # Targets at 0.9, 0.8, 0.1; non-targets at 0.8, 0.3, 0.2: of the 9 pairs, 5 ordered,
    # 1 tie (0.8 = 0.8) → (5 + ½) / 9.
    assert est.auc_mann_whitney([0.9, 0.8, 0.8, 0.3, 0.2, 0.1], [1, 0, 1, 0, 0, 1]) == \
        pytest.approx(0.6111, abs=5e-5)
    assert est.auc_mann_whitney([0.9, 0.8, 0.8, 0.3, 0.2, 0.1], [1, 0, 1, 0, 0, 1]) == \
        pytest.approx(5.5 / 9, rel=1e-12)


def test_auc_equals_the_pairwise_count_with_many_ties():
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 6, 60).astype(float)  # heavy ties
    target = rng.uniform(size=60) < 0.4
    pos, neg = scores[target], scores[~target]
    pairwise = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()
    assert est.auc_mann_whitney(scores, target) == pytest.approx(pairwise, rel=1e-12)


def test_auc_without_a_target_or_a_non_target_is_null():
    assert est.auc_mann_whitney([0.2, 0.4], [0, 0]) is None
    assert est.auc_mann_whitney([0.2, 0.4], [1, 1]) is None


def test_brier_o_e_and_exact_median():
    assert est.brier_score([0.1, 0.5, 0.8], [0, 1, 1]) == pytest.approx((0.01 + 0.25 + 0.04) / 3)
    assert est.o_e_ratio([0, 1, 1, 0], [0.2, 0.3, 0.4, 0.1]) == pytest.approx(2 / 1.0)
    assert est.o_e_ratio([0, 1], [0.0, 0.0]) is None
    assert est.exact_median([700, 100, 300, 1200]) == 500.0  # (300 + 700) / 2
    assert est.exact_median([5, 1, 3]) == 3.0
    assert est.exact_median([]) is None


def _calibration_sample(n: int, targets: int) -> tuple[np.ndarray, np.ndarray]:
    p = np.linspace(0.05, 0.6, n)
    y = np.zeros(n, dtype=bool)
    y[np.linspace(0, n - 1, targets).astype(int)] = True
    return p, y


@pytest.mark.parametrize("n, targets, fitted", [
    (99, 30, False), (100, 30, True),   # n < 100: null
    (200, 19, False), (200, 20, True),  # fewer than 20 targets: null
])
def test_calibration_fit_needs_100_controls_and_20_targets(n, targets, fitted):
    p, y = _calibration_sample(n, targets)
    assert (est.calibration_fit(p, y) is not None) is fitted


def test_calibration_slope_of_a_calibrated_and_an_overconfident_predictor():
    rng = np.random.default_rng(11)
    truth = 1 / (1 + np.exp(-rng.normal(-1.5, 1.0, 4000)))
    y = rng.uniform(size=truth.size) < truth
    a, b = est.calibration_fit(truth, y)
    assert abs(a) < 0.2 and abs(b - 1) < 0.1
    overconfident = 1 / (1 + np.exp(-2 * np.log(truth / (1 - truth))))  # logit doubled
    fit = est.calibration_estimate(overconfident, y, resampling(y.size, bootstrap=FEW))
    assert fit.slope.value == pytest.approx(b / 2, rel=1e-6)
    assert fit.slope.ci_method == CI_BOOTSTRAP and fit.slope.ci_high < 1
    assert fit.slope.ci_low < fit.slope.value < fit.slope.ci_high


def test_calibration_estimate_is_null_below_its_minimum_size():
    p, y = _calibration_sample(99, 30)
    assert est.calibration_estimate(p, y, resampling(99, bootstrap=FEW)) == \
        est.Calibration(None, est.Estimate(None, None, None, CI_NONE))


def test_calibration_refuses_probabilities_of_0_or_1():
    p, y = _calibration_sample(200, 40)
    p[0] = 1.0
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        est.calibration_fit(p, y)


# ---------------------------------------------------------------------------------------
# Bootstrap: keys, determinism, pairing


def test_bootstrap_key_and_generator():
    key = est.bootstrap_key("monitoring_representation", date(2026, 2, 1), "59", "TOP_DECILE",
                            "SCORED", "sex", None)
    assert key == "monitoring_representation|2026-02|59|TOP_DECILE|SCORED|sex|"
    expected = np.random.default_rng([20260101, zlib.crc32(key.encode())]).random(3)
    assert np.array_equal(est.bootstrap_rng(20260101, key).random(3), expected)


def _opbd_window(n: int = 400, seed: int = 3):
    rng = np.random.default_rng(seed)
    score = rng.uniform(0.01, 0.6, n)
    target = rng.uniform(size=n) < score
    benefits = score + rng.normal(0, 0.3, n)
    amount = np.where(target, rng.gamma(2.0, 900.0, n).round(2), 0.0)
    model = score >= np.quantile(score, 0.8)
    baseline = benefits >= np.quantile(benefits, 0.8)
    return score, target, benefits, amount, model, baseline


def _all_estimates(order: str):
    score, target, benefits, amount, model, baseline = _opbd_window()
    window = resampling(score.size)
    everyone = np.ones(score.size, dtype=bool)
    statistics = {
        "lift": lambda: est.ratio_of_rates_estimate(target, model, everyone, window),
        "diff": lambda: est.difference_of_rates_pts_estimate(target, model, baseline, window),
        "capture": lambda: est.rate_estimate(model, target, window),
        "auc": lambda: est.auc_estimate(score, target, window),
        "auc_diff": lambda: est.auc_difference_estimate(score, benefits, target, window),
        "mean": lambda: est.mean_estimate(amount, model, window),
        "median": lambda: est.median_estimate(amount, model & (amount > 0), window),
        "o_e": lambda: est.o_e_ratio_estimate(target, score, window),
        "rr": lambda: est.representation_ratio_estimates(
            [40, 25, 10], [900, 500, 400], nested=True, bootstrap=BOOTSTRAP, key="rr"),
    }
    names = list(statistics) if order == "forward" else list(reversed(statistics))
    return {name: statistics[name]() for name in names}


def test_bootstrap_is_deterministic_whatever_the_call_order():
    first, again, backwards = (_all_estimates("forward"), _all_estimates("forward"),
                               _all_estimates("backward"))
    assert first == again == backwards
    for name, estimate in first.items():
        for e in (estimate if isinstance(estimate, list) else [estimate]):
            assert e.ci_method == CI_BOOTSTRAP and e.ci_low <= e.value <= e.ci_high, name


def test_replicates_do_not_depend_on_the_block_size(monkeypatch):
    window = resampling(300)
    whole = np.concatenate(list(window.blocks()))
    monkeypatch.setattr(est, "BLOCK_CELLS", 300 * 7)  # blocks of 7 replicates
    blocks = list(window.blocks())
    assert len(blocks) == 143 and np.array_equal(np.concatenate(blocks), whole)
    assert whole.shape == (1000, 300) and whole.min() >= 0 and whole.max() <= 299


def test_another_key_draws_other_replicates():
    a = next(resampling(50, key="a").blocks())
    b = next(resampling(50, key="b").blocks())
    assert not np.array_equal(a, b)


def test_paired_rules_on_the_same_units_differ_by_exactly_zero():
    """The same selection compared with itself: every replicate differs by 0, which only a
    shared set of indices gives (two independent resamplings would spread around 0)."""
    score, target, benefits, _, model, _ = _opbd_window()
    window = resampling(score.size)
    assert est.difference_of_rates_pts_estimate(target, model, model, window) == \
        est.Estimate(0.0, 0.0, 0.0, CI_BOOTSTRAP)
    assert est.auc_difference_estimate(score, score, target, window) == \
        est.Estimate(0.0, 0.0, 0.0, CI_BOOTSTRAP)


def test_replicate_auc_from_multiplicities_equals_mid_ranks_of_the_resample():
    rng = np.random.default_rng(8)
    scores = rng.integers(0, 10, 80).astype(float)
    target = rng.uniform(size=80) < 0.3
    indices = next(resampling(80).blocks())[:25]
    fast = est._auc_of_multiplicities(scores, target)(est._multiplicities(indices, 80))
    for row, value in zip(indices, fast):
        s, y = scores[row], target[row]
        ranks = rankdata(s)
        n1, n0 = y.sum(), (~y).sum()
        assert value == pytest.approx((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0), rel=1e-12)


def test_point_values_of_the_bootstrapped_statistics():
    target = np.array([1, 0, 1, 1, 0, 0, 0, 1], dtype=bool)
    model = np.array([1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    baseline = np.array([0, 1, 0, 1, 1, 0, 0, 0], dtype=bool)
    amount = np.array([900.0, 0, 650, 1200, 0, 0, 0, 2000])
    window = resampling(8)
    everyone = np.ones(8, dtype=bool)
    assert est.ratio_of_rates_estimate(target, model, everyone, window).value == \
        pytest.approx((2 / 3) / (4 / 8))
    assert est.difference_of_rates_pts_estimate(target, model, baseline, window).value == \
        pytest.approx(100 * (2 / 3 - 1 / 3))
    assert est.rate_estimate(model, target, window).value == pytest.approx(2 / 4)  # capture
    assert est.mean_estimate(amount, model, window).value == pytest.approx(1550 / 3)
    assert est.median_estimate(amount, amount > 0, window).value == pytest.approx((900 + 1200) / 2)
    assert est.o_e_ratio_estimate(target, np.full(8, 0.25), window).value == pytest.approx(2.0)


def test_an_undefined_replicate_leaves_no_interval():
    """One target among 20: some replicates hold none, their AUC is undefined, and the
    percentile interval of the others would describe another statistic."""
    target = np.zeros(20, dtype=bool)
    target[3] = True
    estimate = est.auc_estimate(np.linspace(0, 1, 20), target, resampling(20))
    assert estimate.value is not None
    assert estimate.ci_low is None and estimate.ci_method == CI_NONE


def test_arrays_must_match_the_resampling():
    with pytest.raises(ValueError, match="over 5 units"):
        est.rate_estimate(np.ones(4, dtype=bool), np.ones(4, dtype=bool), resampling(5))


# ---------------------------------------------------------------------------------------
# Representation ratio from counts (§2.3)


def test_representation_ratio_point_values_and_nesting():
    nested = est.representation_ratio_estimates([30, 10, 0], [600, 300, 100], nested=True,
                                                bootstrap=BOOTSTRAP, key="k")
    # share_selected (0.75, 0.25, 0) / share_reference (0.6, 0.3, 0.1)
    assert [e.value for e in nested] == pytest.approx([1.25, 0.25 / 0.3, 0.0])
    assert all(e.ci_low <= e.value <= e.ci_high for e in nested[:2])
    # a zero cell stays zero in every nested replicate: interval [0, 0]
    assert (nested[2].ci_low, nested[2].ci_high) == (0.0, 0.0)
    with pytest.raises(ValueError, match="nested selection"):
        est.representation_ratio_estimates([30, 400], [600, 300], nested=True,
                                           bootstrap=BOOTSTRAP, key="k")


def test_an_independent_reference_widens_the_interval():
    """S ⊂ R shares its households with R (the multinomial on selected/not-selected cells);
    an independent reference adds its own variability."""
    kwargs = {"bootstrap": BOOTSTRAP, "key": "k"}
    nested = est.representation_ratio_estimates([120, 80], [1200, 800], nested=True, **kwargs)[0]
    independent = est.representation_ratio_estimates([120, 80], [1200, 800], nested=False, **kwargs)[0]
    assert nested.value == independent.value == pytest.approx(1.0)
    assert independent.ci_high - independent.ci_low > nested.ci_high - nested.ci_low


# ---------------------------------------------------------------------------------------
# Parity (§2.4)


def test_parity_hand_worked_confusion_table():
    #            A: 6 households           B: 4 households
    category = ["A"] * 6 + ["B"] * 4
    selected = [1, 1, 1, 0, 0, 0] + [1, 1, 0, 0]
    target = [1, 1, 0, 1, 0, 0] + [1, 0, 0, 0]
    rows = {(r.category, r.metric): r for r in est.parity_estimates(
        category, selected, target, resampling(10, bootstrap=FEW))}
    a = rows[("A", "fpr")]
    assert (a.group_size, a.n_selected, a.n_target, a.tp, a.fp, a.fn, a.tn) == (6, 3, 3, 2, 1, 1, 2)
    assert a.ref_category == "A"
    expected = {  # A: tp 2 fp 1 fn 1 tn 2; B: tp 1 fp 1 fn 0 tn 2
        "pprev": (3 / 6, 2 / 4), "prev": (3 / 6, 1 / 4), "precision": (2 / 3, 1 / 2),
        "fpr": (1 / 3, 1 / 3), "tpr": (2 / 3, 1 / 1),
    }
    for metric, (value_a, value_b) in expected.items():
        assert rows[("A", metric)].value.value == pytest.approx(value_a)
        assert rows[("B", metric)].value.value == pytest.approx(value_b)
        assert rows[("B", metric)].ref_value == pytest.approx(value_a)
        assert rows[("B", metric)].disparity.value == pytest.approx(value_b / value_a)
    in_order = est.parity_estimates(category, selected, target, resampling(10, bootstrap=FEW))
    assert [(r.metric, r.category) for r in in_order] == [
        (metric, name) for metric in PARITY_METRICS for name in ("A", "B")]


def test_reference_category_ties_by_name_and_zero_reference():
    assert est.reference_category(["B", "B", "A", "A", "C"]) == "A"
    category = ["A", "A", "B", "B"]
    rows = {(r.category, r.metric): r for r in est.parity_estimates(
        category, [0, 0, 1, 0], [0, 0, 1, 1], resampling(4, bootstrap=FEW))}
    pprev_b = rows[("B", "pprev")]
    assert pprev_b.ref_category == "A" and pprev_b.ref_value == 0.0
    assert pprev_b.disparity == est.Estimate(None) and pprev_b.note == NOTE_ZERO_REFERENCE
    precision_b = rows[("B", "precision")]  # A has no selected household: 0/0
    assert rows[("A", "precision")].value == est.Estimate(None)
    assert precision_b.ref_value is None and precision_b.disparity == est.Estimate(None)
    assert precision_b.note is None


# ---------------------------------------------------------------------------------------
# Coverage


def test_percentile_bootstrap_covers_a_known_proportion():
    """200 simulated samples of n = 200 units with a true rate of 0.30; each gets a
    95 % percentile-bootstrap interval (B = 1000) of its rate.

    The number X of intervals holding 0.30 is Binomial(200, c), with c ≈ 0.95 (≈ 0.94 for
    the percentile method at n·p = 60). The test accepts 171 ≤ X ≤ 199. A correct method
    falls outside with probability P(X ≤ 170) + P(X = 200), which is, by
    `scipy.stats.binom`: 8.7e-8 + 3.5e-5 at c = 0.95 and 3.7e-6 + 4.2e-6 at c = 0.94 — so
    no seed makes it fail by chance — while an interval far too narrow (c = 0.80:
    P(X ≥ 171) < 2e-3) or one that always covers (X = 200) fails. The seeds are fixed, so
    the count is also reproducible."""
    rng = np.random.default_rng(2026)
    n, true_rate, covered = 200, 0.30, 0
    everyone = np.ones(n, dtype=bool)
    for simulation in range(200):
        outcome = rng.uniform(size=n) < true_rate
        estimate = est.rate_estimate(outcome, everyone, resampling(n, key=f"coverage|{simulation}"))
        covered += estimate.ci_low <= true_rate <= estimate.ci_high
    assert 171 <= covered <= 199, covered
