"""Intercepts: the value b0 for which the mean predicted probability over a labelled sample
equals its observed target rate (DMDE.md §4)."""
from __future__ import annotations

import math
from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F


def in_target(min_eur: float, min_months: int) -> Column:
    """A control is in the model's target: an overpayment ≥ min_eur lasting ≥ min_months."""
    return (F.col("overpayment_eur") >= min_eur) & (F.col("overpayment_months") >= min_months)


def solve_intercept(groups: Sequence[tuple[float, int]], rate: float, tolerance: float = 1e-12) -> float:
    """b0 such that Σ n·σ(b0 + s) / Σ n = rate, for groups (s = Σ ln OR, n = households).

    The mean probability increases strictly with b0, so bisection converges; the groups
    are distinct linear predictors, a set bounded by the model's modality combinations.
    """
    total = sum(n for _, n in groups)
    if total == 0:
        raise ValueError("empty sample: no labelled control to calibrate on")
    if not 0.0 < rate < 1.0:
        raise ValueError(f"observed target rate {rate:.4f} must be strictly between 0 and 1")

    def mean_p(b0: float) -> float:
        return sum(n / (1.0 + math.exp(-(b0 + s))) for s, n in groups) / total

    low, high = -30.0, 30.0
    while high - low > tolerance:
        middle = (low + high) / 2
        if mean_p(middle) < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2
