"""Driver-side statistics of the monitoring (MONITORING.md §2.1–§2.4, §3), on inputs that
are bounded by design and never by the population: the OPBD controls of a window (≈ 6 000 a
year), a year of DMDE controls (≈ 166 000) and cross-tab counts.

Pure functions on numpy arrays: no Spark, no I/O. Each statistic has a point function and
an `*_estimate` function that adds its percentile-bootstrap interval (§3) and returns an
`Estimate(value, ci_low, ci_high, ci_method)`, the four columns a published row carries.

**Units and pairing.** The arrays of one window are aligned on its units (controls) in one
fixed order — the caller sorts them, e.g. by control id — and a `Resampling` draws, once,
the replicate indices over those n units. Every rule, fraction, metric and predictor of the
window is evaluated on the same indices, so that differences and ratios between rules are
*paired* (§3). Its key follows `bootstrap_key`; for the shared resampling of an OPBD window
leave selection-or-rule, reference and attribute empty:
`bootstrap_key(table, M, caf, "", "", "", window)`.

**Determinism.** The indices of replicate b are ⌊u·n⌋ for the b-th run of n uniform doubles
of a fresh `numpy.random.default_rng([bootstrap.seed, zlib.crc32(key)])` (each double
consumes one 64-bit output, and ⌊u·n⌋ is uniform on 0…n−1 up to n/2⁵³), so they depend on
(seed, key, n, b) only: not on the call order, on which statistics were computed before, or
on the block size used to bound memory. Cross-tabs (§2.3) are drawn as multinomials on the
counts from the same generator of their own key.

**Undefined values.** A point statistic that is undefined (empty set, zero denominator, no
target or no non-target for an AUC, a logistic fit below its minimum size) is None. A
bootstrap interval is None (`ci_method = 'none'`) as soon as one replicate is undefined:
percentiles of the defined replicates only would describe another statistic, conditioned on
the resample being favourable. On a published cell (≥ 11 units, §4) this is rare.
"""
from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logit
from scipy.stats import rankdata
from statsmodels.discrete.discrete_model import Logit
from statsmodels.tools.sm_exceptions import PerfectSeparationError

from domain.monitoring import (
    CI_BOOTSTRAP, CI_NONE, NOTE_ZERO_REFERENCE, PARITY_METRICS, normal_quantile,
)
from domain.settings import BootstrapSettings

# §2.2: the calibration fit is null below these sizes.
CALIBRATION_MIN_CONTROLS = 100
CALIBRATION_MIN_TARGETS = 20
# Replicate indices are materialised in blocks of about this many cells (int64: 32 MB), so
# that a year of DMDE controls × 1 000 replicates never sits in memory at once.
BLOCK_CELLS = 4_000_000


class Estimate(NamedTuple):
    """A published value with its interval; `ci_method` is 'bootstrap' or 'none' (§0)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str = CI_NONE


# ---------------------------------------------------------------------------------------
# Wilson score interval (§3), the numpy twin of transforms.monitoring_stats.wilson_interval


def wilson_interval(successes: ArrayLike, n: ArrayLike, *, level: float):
    """Wilson score interval of successes/n at `level` (MONITORING.md §3):
    centre = (p̂ + z²/2n) / (1 + z²/n), half-width = z / (1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²),
    z = 1.959964 at 95 %; bounds clipped to [0, 1]. Scalars give floats, arrays arrays;
    NaN where n = 0 (no interval)."""
    z = normal_quantile(level)
    k, size = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / size
        denominator = 1 + z * z / size
        centre = (p + z * z / (2 * size)) / denominator
        half = z / denominator * np.sqrt(p * (1 - p) / size + z * z / (4 * size * size))
        low = np.where(size > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(size > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


# ---------------------------------------------------------------------------------------
# Point statistics


def exact_median(values: ArrayLike) -> float | None:
    """The exact median with linear interpolation between the two middle values (§2.1);
    None for an empty set."""
    values = np.asarray(values, dtype=float)
    return float(np.percentile(values, 50, method="linear")) if values.size else None


def auc_mann_whitney(predictor: ArrayLike, target: ArrayLike) -> float | None:
    """AUC by Mann–Whitney with mid-ranks for ties (§2.2):
    (Σ ranks of targets − n₁(n₁+1)/2) / (n₁·n₀), ranks by `scipy.stats.rankdata` (average);
    a tie between a target and a non-target counts ½. None without a target or a non-target."""
    scores, y = _floats(predictor), _bools(target)
    _same_length(scores, y)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def brier_score(predicted: ArrayLike, target: ArrayLike) -> float | None:
    """Brier score = mean (p − y)² (§2.2); None for an empty set."""
    p, y = _floats(predicted), _bools(target)
    _same_length(p, y)
    return float(np.mean((p - y) ** 2)) if p.size else None


def o_e_ratio(target: ArrayLike, predicted: ArrayLike) -> float | None:
    """O/E = observed_rate / mean_predicted = Σ y / Σ p (§2.2); None when Σ p = 0."""
    y, p = _bools(target), _floats(predicted)
    _same_length(y, p)
    expected = p.sum()
    return float(y.sum() / expected) if expected > 0 else None


def calibration_fit(predicted: ArrayLike, target: ArrayLike) -> tuple[float, float] | None:
    """(calibration_intercept a, calibration_slope b) of the unpenalised logistic fit
    logit P(y) = a + b·logit(p) (§2.2), by statsmodels' `Logit` (Newton). None when
    n < 100 or fewer than 20 targets, or when the fit does not converge. A predictor of
    exactly 0 or 1 has no logit: ValueError (a probability model never gives one)."""
    p, y = _floats(predicted), _bools(target)
    _same_length(p, y)
    if p.size < CALIBRATION_MIN_CONTROLS or y.sum() < CALIBRATION_MIN_TARGETS:
        return None
    return _logistic_fit(_logits(p), y)


# ---------------------------------------------------------------------------------------
# Bootstrap machinery (§3)


def bootstrap_key(table: str, score_month: date | str, caf: str, selection_or_rule: str | None,
                  reference: str | None, attribute: str | None, window: str | None) -> str:
    """`table|score_month|caf|selection-or-rule|reference|attribute|window` (§3), the month
    as YYYY-MM and an absent part as the empty string."""
    month = score_month.strftime("%Y-%m") if isinstance(score_month, date) else score_month
    return "|".join("" if part is None else str(part)
                    for part in (table, month, caf, selection_or_rule, reference, attribute, window))


def bootstrap_rng(seed: int, key: str) -> np.random.Generator:
    """`numpy.random.default_rng([seed, zlib.crc32(key)])` (§3): the generator of one key."""
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def percentile_interval(replicates: ArrayLike, level: float) -> tuple[float, float] | None:
    """The percentile bootstrap interval: the (1−level)/2 and (1+level)/2 quantiles of the
    replicates (linear interpolation; 2.5 and 97.5 % at 95 %). None if any is undefined."""
    values = np.asarray(replicates, dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return None
    low, high = np.percentile(values, [50 * (1 - level), 50 * (1 + level)], method="linear")
    return float(low), float(high)


@dataclass(frozen=True)
class Resampling:
    """The bootstrap replicates of one window's n units (§3): B sets of n indices drawn with
    replacement (n fixed), replicate b from the b-th run of n uniforms of a fresh
    `default_rng([bootstrap.seed, crc32(key)])`. Share one across the rules, fractions,
    metrics and predictors of a window to pair them."""

    n: int
    bootstrap: BootstrapSettings
    key: str

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"a resampling needs at least one unit (got n = {self.n})")

    @property
    def level(self) -> float:
        return self.bootstrap.level

    def blocks(self) -> Iterator[np.ndarray]:
        """The replicate indices, (rows, n) arrays of consecutive replicates."""
        rng = bootstrap_rng(self.bootstrap.seed, self.key)
        rows = max(1, BLOCK_CELLS // self.n)
        for start in range(0, self.bootstrap.replicates, rows):
            count = min(rows, self.bootstrap.replicates - start)
            # Each uniform double consumes exactly one 64-bit output of the generator, so
            # replicate b is the same however the replicates are grouped into blocks.
            uniforms = rng.random((count, self.n))
            yield np.minimum((uniforms * self.n).astype(np.int64), self.n - 1)

    def replicates(self, statistic: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """`statistic` (rows, n) indices → (rows, …) values, over all B replicates."""
        return np.concatenate([statistic(block) for block in self.blocks()])

    def check(self, *arrays: np.ndarray) -> None:
        for array in arrays:
            if array.shape[0] != self.n:
                raise ValueError(f"resampling {self.key!r} is over {self.n} units, got an array "
                                 f"of {array.shape[0]}")


def _estimate(value: float | None, replicates: np.ndarray, level: float) -> Estimate:
    if value is None:
        return Estimate(None)
    interval = percentile_interval(replicates, level)
    if interval is None:
        return Estimate(value)
    return Estimate(value, interval[0], interval[1], CI_BOOTSTRAP)


# ---------------------------------------------------------------------------------------
# Sums of a replicate: rates, ratios of rates, differences, means, O/E


def _multiplicities(indices: np.ndarray, n: int) -> np.ndarray:
    """(rows, n) indices → (rows, n) counts of each unit in each replicate."""
    rows = indices.shape[0]
    flat = (indices + (np.arange(rows) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n)


def _sums_statistic(columns: np.ndarray, combine: Callable[..., np.ndarray], n: int):
    """A replicate statistic `combine(Σ column 1, Σ column 2, …)` over resampled units."""
    def statistic(indices: np.ndarray) -> np.ndarray:
        sums = _multiplicities(indices, n) @ columns
        with np.errstate(divide="ignore", invalid="ignore"):
            return combine(*sums.T)
    return statistic


def _divide(numerator, denominator):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / np.where(denominator != 0, denominator, 1),
                        np.nan)


def _point(combine: Callable[..., np.ndarray], columns: np.ndarray) -> float | None:
    value = float(combine(*columns.sum(axis=0)[:, None])[0])
    return value if np.isfinite(value) else None


def _sums_estimate(columns: Sequence[np.ndarray], combine: Callable[..., np.ndarray],
                   resampling: Resampling) -> Estimate:
    matrix = np.column_stack(columns).astype(float)
    resampling.check(matrix)
    value = _point(combine, matrix)
    if value is None:
        return Estimate(None)
    return _estimate(value, resampling.replicates(_sums_statistic(matrix, combine, resampling.n)),
                     resampling.level)


def rate_estimate(outcome: ArrayLike, among: ArrayLike, resampling: Resampling) -> Estimate:
    """A rate whose denominator is itself random, e.g. `capture_rate` = #target in S /
    #target in the window (§2.1): Σ outcome·among / Σ among, with its bootstrap interval."""
    o, a = _bools(outcome), _bools(among)
    return _sums_estimate([o & a, a], _divide, resampling)


def ratio_of_rates_estimate(outcome: ArrayLike, among: ArrayLike, among_reference: ArrayLike,
                            resampling: Resampling) -> Estimate:
    """A ratio of two rates of one outcome on the same units, paired: `lift_vs_random` =
    target_rate(S) / target_rate(RANDOM) (§2.1), rate(X) = Σ y·X / Σ X."""
    y, a, r = _bools(outcome), _bools(among), _bools(among_reference)
    return _sums_estimate([y & a, a, y & r, r],
                          lambda ya, na, yr, nr: _divide(_divide(ya, na), _divide(yr, nr)), resampling)


def difference_of_rates_pts_estimate(outcome: ArrayLike, among: ArrayLike, among_other: ArrayLike,
                                     resampling: Resampling) -> Estimate:
    """A difference of two rates in points, paired: `diff_vs_benefits_pts` =
    100 × (target_rate(MODEL, q) − target_rate(BENEFITS_6M, q)) (§2.1)."""
    y, a, b = _bools(outcome), _bools(among), _bools(among_other)
    return _sums_estimate([y & a, a, y & b, b],
                          lambda ya, na, yb, nb: 100 * (_divide(ya, na) - _divide(yb, nb)), resampling)


def mean_estimate(values: ArrayLike, among: ArrayLike, resampling: Resampling) -> Estimate:
    """The mean of an amount over the units of a set: `mean_overpayment_eur` (zeros included,
    the yield per control) or, with `among` = S and amount > 0, `mean_overpayment_if_any_eur`
    (§2.1, §8.2): Σ v·among / Σ among."""
    v, a = _floats(values), _bools(among)
    return _sums_estimate([np.where(a, v, 0.0), a], _divide, resampling)


def o_e_ratio_estimate(target: ArrayLike, predicted: ArrayLike, resampling: Resampling,
                       among: ArrayLike | None = None) -> Estimate:
    """`o_e_ratio` = observed_rate / mean_predicted = Σ y / Σ p over `among` (the window, or
    one decile) (§2.2)."""
    y, p = _bools(target), _floats(predicted)
    a = np.ones(y.size, dtype=bool) if among is None else _bools(among)
    return _sums_estimate([y & a, np.where(a, p, 0.0)], _divide, resampling)


# ---------------------------------------------------------------------------------------
# Statistics of the resampled values: medians, AUC, calibration slope


def median_estimate(values: ArrayLike, among: ArrayLike, resampling: Resampling) -> Estimate:
    """The exact median (linear interpolation) of an amount over a set, e.g.
    `median_overpayment_if_any_eur` with `among` = S and overpayment > 0 (§2.1)."""
    v, a = _floats(values), _bools(among)
    resampling.check(v, a)

    def statistic(indices: np.ndarray) -> np.ndarray:
        masked = np.where(a[indices], v[indices], np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty replicate: NaN
            return np.nanmedian(masked, axis=1)

    return _estimate(exact_median(v[a]), resampling.replicates(statistic), resampling.level)


def _auc_of_multiplicities(predictor: np.ndarray, target: np.ndarray):
    """The AUC of resampled controls from their multiplicities w (rows, n): the same value as
    the mid-rank formula on the resampled arrays, without sorting each replicate. With the
    units sorted by score once, and per tie group g the resampled targets P_g and
    non-targets N_g: U = Σ_g P_g · (N below g + N_g / 2), AUC = U / (n₁·n₀)."""
    order = np.argsort(predictor, kind="stable")
    ordered = predictor[order]
    group_ends = np.append(np.flatnonzero(ordered[1:] != ordered[:-1]), ordered.size - 1)
    is_target = target[order].astype(float)

    def statistic(multiplicities: np.ndarray) -> np.ndarray:
        weights = multiplicities[:, order]
        positives = np.cumsum(weights * is_target, axis=1)[:, group_ends]
        negatives = np.cumsum(weights * (1 - is_target), axis=1)[:, group_ends]
        positives_g = np.diff(positives, axis=1, prepend=0)
        negatives_g = np.diff(negatives, axis=1, prepend=0)
        below = negatives - negatives_g
        u = (positives_g * (below + negatives_g / 2)).sum(axis=1)
        return _divide(u, positives[:, -1] * negatives[:, -1])

    return statistic


def auc_estimate(predictor: ArrayLike, target: ArrayLike, resampling: Resampling) -> Estimate:
    """`auc` (Mann–Whitney, mid-ranks) with its bootstrap interval (§2.2)."""
    scores, y = _floats(predictor), _bools(target)
    resampling.check(scores, y)
    auc = _auc_of_multiplicities(scores, y)
    return _estimate(auc_mann_whitney(scores, y),
                     resampling.replicates(lambda idx: auc(_multiplicities(idx, resampling.n))),
                     resampling.level)


def auc_difference_estimate(predictor: ArrayLike, baseline: ArrayLike, target: ArrayLike,
                            resampling: Resampling) -> Estimate:
    """`auc_diff_vs_benefits_6m` = AUC(predictor) − AUC(baseline) on the same resampled
    controls (paired, §2.2)."""
    scores, base, y = _floats(predictor), _floats(baseline), _bools(target)
    resampling.check(scores, base, y)
    a, b = auc_mann_whitney(scores, y), auc_mann_whitney(base, y)
    value = None if a is None or b is None else a - b
    auc, auc_base = _auc_of_multiplicities(scores, y), _auc_of_multiplicities(base, y)

    def statistic(indices: np.ndarray) -> np.ndarray:
        multiplicities = _multiplicities(indices, resampling.n)
        return auc(multiplicities) - auc_base(multiplicities)

    return _estimate(value, resampling.replicates(statistic), resampling.level)


class Calibration(NamedTuple):
    """`calibration_intercept`, and `calibration_slope` with its interval (§2.2)."""

    intercept: float | None
    slope: Estimate


def calibration_estimate(predicted: ArrayLike, target: ArrayLike,
                         resampling: Resampling) -> Calibration:
    """The calibration fit of `calibration_fit` and a bootstrap interval of its slope; each
    replicate is refitted by statsmodels from the point estimate. A replicate whose fit does
    not converge (separation) is undefined, hence no interval."""
    p, y = _floats(predicted), _bools(target)
    resampling.check(p, y)
    fit = calibration_fit(p, y)
    if fit is None:
        return Calibration(None, Estimate(None))
    x = _logits(p)

    def statistic(indices: np.ndarray) -> np.ndarray:
        slopes = []
        for row in indices:
            refit = _logistic_fit(x[row], y[row], start=fit)
            slopes.append(np.nan if refit is None else refit[1])
        return np.asarray(slopes)

    return Calibration(fit[0], _estimate(fit[1], resampling.replicates(statistic), resampling.level))


def _logits(p: np.ndarray) -> np.ndarray:
    if np.any((p <= 0) | (p >= 1)):
        raise ValueError("a calibration fit needs predicted probabilities strictly between 0 and 1")
    return logit(p)


def _logistic_fit(x: np.ndarray, y: np.ndarray,
                  start: tuple[float, float] | None = None) -> tuple[float, float] | None:
    design = np.column_stack([np.ones_like(x), x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation and convergence are checked below
        try:
            result = Logit(y.astype(float), design).fit(
                disp=0, method="newton", maxiter=100,
                start_params=None if start is None else np.asarray(start))
        except (PerfectSeparationError, np.linalg.LinAlgError):
            return None
    params = np.asarray(result.params)
    if not result.mle_retvals.get("converged", False) or not np.all(np.isfinite(params)):
        return None
    return float(params[0]), float(params[1])


# ---------------------------------------------------------------------------------------
# Representation ratio from cross-tab counts (§2.3)


def representation_ratio_estimates(n_selected: ArrayLike, n_reference: ArrayLike, *, nested: bool,
                                   bootstrap: BootstrapSettings, key: str) -> list[Estimate]:
    """`representation_ratio` = share_selected / share_reference per category g,
    share_selected = n(S,g)/n(S), share_reference = n(R,g)/n(R) (§2.3), with its bootstrap
    interval (`rr_ci_low`, `rr_ci_high`), the categories being those of one attribute.

    Resampling households is a multinomial draw on the counts (§3), from
    `default_rng([seed, crc32(key)])`:
    - `nested` (S ⊂ R: SCORED, ELIGIBLE): one multinomial of n(R) over the cells
      (selected, g) and (not selected, g), so that numerator and denominator move together;
    - otherwise (SCORED_POOLED, OPBD_TARGET): S's counts are one multinomial of n(S), then R's
      a second, independent one of n(R).
    """
    selected, reference = _counts(n_selected), _counts(n_reference)
    if selected.shape != reference.shape or selected.ndim != 1:
        raise ValueError("n_selected and n_reference must be counts of the same categories")
    if nested and np.any(selected > reference):
        raise ValueError("a nested selection cannot hold more households than its reference")
    values = _representation_ratios(selected[None, :], reference[None, :])[0]
    total_selected, total_reference = int(selected.sum()), int(reference.sum())
    if total_selected == 0 or total_reference == 0:
        return [Estimate(None) for _ in selected]
    rng, size = bootstrap_rng(bootstrap.seed, key), bootstrap.replicates
    if nested:
        cells = np.concatenate([selected, reference - selected])
        draws = rng.multinomial(total_reference, cells / total_reference, size=size)
        drawn_selected = draws[:, :selected.size]
        drawn_reference = drawn_selected + draws[:, selected.size:]
    else:
        drawn_selected = rng.multinomial(total_selected, selected / total_selected, size=size)
        drawn_reference = rng.multinomial(total_reference, reference / total_reference, size=size)
    replicates = _representation_ratios(drawn_selected, drawn_reference)
    return [_estimate(None if not np.isfinite(value) else float(value), replicates[:, g],
                      bootstrap.level)
            for g, value in enumerate(values)]


def _representation_ratios(selected: np.ndarray, reference: np.ndarray) -> np.ndarray:
    share_selected = _divide(selected, selected.sum(axis=1, keepdims=True))
    share_reference = _divide(reference, reference.sum(axis=1, keepdims=True))
    return _divide(share_selected, share_reference)


# ---------------------------------------------------------------------------------------
# Parity: Aequitas metrics of a confusion table and their disparities (§2.4)


class ParityRow(NamedTuple):
    """One category × metric of `monitoring_parity` (§2.4)."""

    category: str
    metric: str
    group_size: int
    n_selected: int  # pp
    n_target: int
    tp: int
    fp: int
    fn: int
    tn: int
    value: Estimate
    ref_category: str
    ref_value: float | None
    disparity: Estimate
    note: str | None  # ZERO_REFERENCE when ref_value = 0


def reference_category(category: ArrayLike) -> str:
    """The attribute's largest group in the window (Aequitas "major group"), ties by
    category name (§2.4)."""
    names, sizes = np.unique(np.asarray(category).astype(str), return_counts=True)
    if names.size == 0:
        raise ValueError("no unit: no reference category")
    return str(names[np.argmax(sizes)])  # np.unique sorts: the first maximum is the first name


def _confusion(codes: np.ndarray, selected: np.ndarray, target: np.ndarray, groups: int,
               indices: np.ndarray) -> np.ndarray:
    """(rows, groups, 2, 2) counts [category, selected, target] of each replicate."""
    cells = codes * 4 + selected.astype(np.int64) * 2 + target.astype(np.int64)
    rows = indices.shape[0]
    flat = (cells[indices] + (np.arange(rows) * groups * 4)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * groups * 4).reshape(rows, groups, 2, 2)


def parity_metric(table: np.ndarray, metric: str) -> np.ndarray:
    """An Aequitas metric of confusion tables […, selected, target] (§2.4):
    pprev = pp/group_size, prev = (tp+fn)/group_size, precision = tp/pp,
    fpr = fp/(fp+tn), tpr = tp/(tp+fn); NaN where the denominator is 0."""
    tp, fp = table[..., 1, 1], table[..., 1, 0]
    fn, tn = table[..., 0, 1], table[..., 0, 0]
    group_size = tp + fp + fn + tn
    numerator, denominator = {
        "pprev": (tp + fp, group_size), "prev": (tp + fn, group_size),
        "precision": (tp, tp + fp), "fpr": (fp, fp + tn), "tpr": (tp, tp + fn),
    }[metric]
    return _divide(numerator, denominator)


def parity_estimates(category: ArrayLike, selected: ArrayLike, target: ArrayLike,
                     resampling: Resampling) -> list[ParityRow]:
    """Per category g (sorted) and metric of `PARITY_METRICS`: the confusion counts, `value`
    and `disparity` = value / ref_value against `reference_category`, both with bootstrap
    intervals from the window's shared resampling of OPBD controls (paired across metrics,
    rules and fractions). A zero ref_value gives a null disparity and the note
    ZERO_REFERENCE (Aequitas caps at 10 instead)."""
    labels = np.asarray(category).astype(str)
    s, y = _bools(selected), _bools(target)
    resampling.check(labels, s, y)
    names, codes = np.unique(labels, return_inverse=True)
    reference = reference_category(labels)
    ref = int(np.searchsorted(names, reference))
    observed = _confusion(codes, s, y, names.size, np.arange(labels.size)[None, :])[0]
    drawn = resampling.replicates(lambda idx: _confusion(codes, s, y, names.size, idx))
    rows = []
    for metric in PARITY_METRICS:
        values, replicate_values = parity_metric(observed, metric), parity_metric(drawn, metric)
        ref_value = None if np.isnan(values[ref]) else float(values[ref])
        replicate_disparities = _divide(replicate_values, replicate_values[:, [ref]])
        for g, name in enumerate(names):
            table = observed[g]
            value = None if np.isnan(values[g]) else float(values[g])
            zero_reference = ref_value == 0
            disparity = None if value is None or ref_value is None or zero_reference \
                else value / ref_value
            rows.append(ParityRow(
                category=str(name), metric=metric, group_size=int(table.sum()),
                n_selected=int(table[1].sum()), n_target=int(table[:, 1].sum()),
                tp=int(table[1, 1]), fp=int(table[1, 0]), fn=int(table[0, 1]), tn=int(table[0, 0]),
                value=_estimate(value, replicate_values[:, g], resampling.level),
                ref_category=reference, ref_value=ref_value,
                disparity=_estimate(disparity, replicate_disparities[:, g], resampling.level),
                note=NOTE_ZERO_REFERENCE if zero_reference else None))
    return rows


# ---------------------------------------------------------------------------------------
# Inputs


def _bools(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype != bool and not np.all(np.isin(array, (0, 1))):
        raise ValueError("expected booleans or 0/1 values")
    return array.astype(bool)


def _floats(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)):
        raise ValueError("expected finite numbers (no null, NaN or infinity)")
    return array


def _counts(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values)
    if array.size and (not np.issubdtype(array.dtype, np.integer) or array.min() < 0):
        raise ValueError("expected non-negative integer counts")
    return array.astype(np.int64)


def _same_length(*arrays: np.ndarray) -> None:
    if len({array.shape for array in arrays}) > 1:
        raise ValueError(f"arrays of different lengths: {[array.shape for array in arrays]}")
