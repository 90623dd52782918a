"""Column expressions of the monitoring's population-sized statistics (MONITORING.md §2–§3):
Wilson intervals, PSI, representation ratios, band flags and the top-fraction selections.

Columns in, Columns out (or DataFrame in, DataFrame out): Spark computes these on cross-tab
counts and shares without collecting anything. A rate or ratio whose denominator is 0 or
null is null. Their numpy twins, for the statistics computed on the driver, are in
`transforms/monitoring_estimates.py`.
"""
from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from domain.monitoring import (
    FLAG_NONE, FLAG_OVER, FLAG_UNDER, PSI_MODERATE, PSI_SIGNIFICANT, PSI_STABLE, normal_quantile,
)

# A fraction q is multiplied in decimal, not in double: 0.1 × 30 is 3.0000000000000004 in
# double, whose ceiling would select 4 households instead of 3.
FRACTION_DECIMAL = "decimal(12,9)"


def _col(column: Column | str) -> Column:
    return F.col(column) if isinstance(column, str) else column


def rate(numerator: Column | str, denominator: Column | str) -> Column:
    """numerator / denominator as a double; null when the denominator is 0 or null."""
    numerator, denominator = _col(numerator), _col(denominator)
    return F.when(denominator != 0, numerator.cast("double") / denominator.cast("double"))


# ---------------------------------------------------------------------------------------
# §3: Wilson score interval of a single proportion


def wilson_interval(successes: Column | str, n: Column | str, *, level: float) -> tuple[Column, Column]:
    """(ci_low, ci_high) of successes/n by the Wilson score interval (MONITORING.md §3):
    centre = (p̂ + z²/2n) / (1 + z²/n), half-width = z / (1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²),
    z = 1.959964 at level 0.95, bounds clipped to [0, 1]; null when n is 0 or a count null.
    Operations in the order of `monitoring_estimates.wilson_interval`, so both give the same
    doubles."""
    z = normal_quantile(level)
    k, size = _col(successes).cast("double"), _col(n).cast("double")
    p = k / size
    denominator = 1 + F.lit(z * z) / size
    centre = (p + F.lit(z * z) / (2 * size)) / denominator
    half = F.lit(z) / denominator * F.sqrt(p * (1 - p) / size + F.lit(z * z) / (4 * size * size))
    # greatest/least skip nulls: without this guard a null count would give [0, 1].
    is_defined = k.isNotNull() & (size > 0)
    return (F.when(is_defined, F.greatest(F.lit(0.0), centre - half)),
            F.when(is_defined, F.least(F.lit(1.0), centre + half)))


# ---------------------------------------------------------------------------------------
# §2.1: the top fraction q of a Caf's ranks


def top_fraction_size(fraction: float | Column, households_in_caf: Column | str) -> Column:
    """ceil(q · households_in_caf) (§2.1), computed in decimal (q to 9 decimals) so that
    q · n is exact: the number of ranks a fraction selects in a Caf."""
    q = fraction if isinstance(fraction, Column) else F.lit(fraction)
    return F.ceil(q.cast(FRACTION_DECIMAL) * _col(households_in_caf)).cast("bigint")


def in_top_fraction(rank_in_caf: Column | str, households_in_caf: Column | str,
                    fraction: float | Column) -> Column:
    """rank_in_caf ≤ ceil(q · households_in_caf) (§2.1): the selection of a rule (MODEL with
    `rank_in_caf`, BENEFITS_6M with `benefits_6m_rank_in_caf`) at fraction q."""
    return _col(rank_in_caf) <= top_fraction_size(fraction, households_in_caf)


# ---------------------------------------------------------------------------------------
# §2.3: representation


def representation_ratio(n_selected: Column | str, n_selected_total: Column | str,
                         n_reference: Column | str, n_reference_total: Column | str) -> Column:
    """representation_ratio = share_selected / share_reference (§2.3), with
    share_selected = n(S,g)/n(S) and share_reference = n(R,g)/n(R)."""
    return rate(rate(n_selected, n_selected_total), rate(n_reference, n_reference_total))


def selection_rate(n_selected: Column | str, n_reference: Column | str) -> Column:
    """selection_rate = n(S,g)/n(R,g) (§2.3, Aequitas pprev), meaningful when S ⊂ R."""
    return rate(n_selected, n_reference)


def excess_selection_pts(n_selected: Column | str, n_reference: Column | str,
                         n_selected_total: Column | str, n_reference_total: Column | str) -> Column:
    """excess_selection_pts = 100 × (selection_rate − n(S)/n(R)) (§2.3), when S ⊂ R."""
    return 100 * (selection_rate(n_selected, n_reference) - rate(n_selected_total, n_reference_total))


def with_representation(counts: DataFrame, nested: bool | Column) -> DataFrame:
    """Adds share_selected, share_reference, selection_rate, representation_ratio and
    excess_selection_pts (§2.3) to rows holding n_selected, n_selected_total, n_reference and
    n_reference_total. `nested` says whether S ⊂ R (SCORED, ELIGIBLE: true; SCORED_POOLED,
    OPBD_TARGET: false), a bool or a boolean Column; selection_rate and excess_selection_pts
    are null when it is false, where they would have no meaning. By the definitions,
    RR = selection_rate / (n(S)/n(R)) whenever S ⊂ R."""
    is_nested = nested if isinstance(nested, Column) else F.lit(nested)
    return counts.select(
        "*",
        rate("n_selected", "n_selected_total").alias("share_selected"),
        rate("n_reference", "n_reference_total").alias("share_reference"),
        F.when(is_nested, selection_rate("n_selected", "n_reference")).alias("selection_rate"),
        representation_ratio("n_selected", "n_selected_total", "n_reference",
                             "n_reference_total").alias("representation_ratio"),
        F.when(is_nested, excess_selection_pts("n_selected", "n_reference", "n_selected_total",
                                               "n_reference_total")).alias("excess_selection_pts"),
    )


# ---------------------------------------------------------------------------------------
# §2.3, §2.4, §2.6: band and flags


def within_band(ratio: Column | str, band: Sequence[float]) -> Column:
    """band[0] ≤ ratio ≤ band[1], edges inclusive (§2.3, Aequitas τ = 0.8); null for a null
    ratio."""
    low, high = band
    return _col(ratio).between(low, high)


def band_flag(ratio: Column | str, ci_low: Column | str, ci_high: Column | str,
              band: Sequence[float]) -> Column:
    """OVER if ratio > band[1] and ci_low > 1; UNDER if ratio < band[0] and ci_high < 1;
    else NONE (§2.3, §8.7: a flag needs the threshold *and* a CI that excludes 1, so a null
    CI never flags); null for a null ratio (a suppressed or undefined cell)."""
    low, high = band
    ratio, ci_low, ci_high = _col(ratio), _col(ci_low), _col(ci_high)
    is_over = (ratio > high) & (ci_low > 1)
    is_under = (ratio < low) & (ci_high < 1)
    return F.when(ratio.isNull(), F.lit(None).cast("string")) \
        .when(is_over, FLAG_OVER).when(is_under, FLAG_UNDER).otherwise(FLAG_NONE)


# ---------------------------------------------------------------------------------------
# §2.7: population stability index


def normalised_share(share: Column | str, partition_by: Sequence[str]) -> Column:
    """share / Σ share over the rows of `partition_by` (e.g. caf, variable): the published
    percentages of a variable sum to 99–101, the reference sums to 1 (§2.7)."""
    whole = Window.partitionBy(*partition_by).rowsBetween(Window.unboundedPreceding,
                                                           Window.unboundedFollowing)
    return rate(share, F.sum(_col(share)).over(whole))


def psi_term(share_population: Column | str, share_reference: Column | str, floor: float) -> Column:
    """psi_term = (p − q) · ln(p / q) (§2.7) with p and q floored at `psi.floor` and not
    renormalised after flooring; p = share of the scored households of M in the modality
    (0, not null, for an empty modality), q = the reference share."""
    p = F.greatest(_col(share_population).cast("double"), F.lit(floor))
    q = F.greatest(_col(share_reference).cast("double"), F.lit(floor))
    return (p - q) * F.log(p / q)


def with_psi(shares: DataFrame, partition_by: Sequence[str], *, floor: float,
             population: str = "share_population", reference: str = "share_published") -> DataFrame:
    """Adds psi_term per modality row and psi_variable = Σ_k psi_term over the rows of
    `partition_by` (e.g. caf, variable) (§2.7)."""
    whole = Window.partitionBy(*partition_by).rowsBetween(Window.unboundedPreceding,
                                                           Window.unboundedFollowing)
    term = psi_term(population, reference, floor)
    return shares.select("*", term.alias("psi_term"), F.sum(term).over(whole).alias("psi_variable"))


def psi_status(psi: Column | str, moderate: float, significant: float) -> Column:
    """STABLE < moderate ≤ MODERATE < significant ≤ SIGNIFICANT (§2.7); null for null."""
    psi = _col(psi)
    return F.when(psi >= significant, PSI_SIGNIFICANT).when(psi >= moderate, PSI_MODERATE) \
        .when(psi.isNotNull(), PSI_STABLE)
