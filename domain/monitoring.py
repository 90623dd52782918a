"""The vocabulary of the monitoring tables (MONITORING.md), defined once.

The job, the statistics of `transforms/monitoring_*.py`, the report and the tests read these
names from here, so that a column value means the same thing everywhere.
"""
from __future__ import annotations

from statistics import NormalDist

# §0: a national row's `caf`.
NATIONAL = "ALL"

# §1: the attributes and their categories are data (conf/populations.yaml). The
# `attribute = 'ALL'` rows are the totals of a selection (or band).
ALL_ATTRIBUTES = "ALL"
UNKNOWN_CATEGORY = "UNKNOWN"  # a missing source value: reported like any other category
INTERSECTION_SEPARATOR = "×"  # `family_situation×sex`, `SINGLE_PARENT×F`

# §2.3 and §2.4: flags of a ratio against the band, with a CI that excludes 1.
FLAG_OVER = "OVER"
FLAG_UNDER = "UNDER"
FLAG_NONE = "NONE"

# §2.4: a disparity whose reference value is zero has no value.
NOTE_ZERO_REFERENCE = "ZERO_REFERENCE"

# §2.7: PSI status, STABLE < moderate ≤ MODERATE < significant ≤ SIGNIFICANT.
PSI_STABLE = "STABLE"
PSI_MODERATE = "MODERATE"
PSI_SIGNIFICANT = "SIGNIFICANT"

# §0 and §3: how a row's confidence interval was computed.
CI_WILSON = "wilson"
CI_BOOTSTRAP = "bootstrap"
CI_NONE = "none"

# §4: why a row is suppressed.
SUPPRESSED_PRIMARY = "PRIMARY"
SUPPRESSED_SECONDARY = "SECONDARY"

# §2.1 and §2.4: the rules compared on the OPBD sample.
RULE_MODEL = "MODEL"
RULE_BENEFITS_6M = "BENEFITS_6M"
RULE_RANDOM = "RANDOM"

# §2.4: the Aequitas metrics of a confusion table.
PARITY_METRICS: tuple[str, ...] = ("pprev", "prev", "precision", "fpr", "tpr")

# §0: `data_origin` drives the report's banner.
DATA_ORIGINS: tuple[str, ...] = ("real", "synthetic")


def normal_quantile(level: float) -> float:
    """z of a two-sided interval at `level`, rounded to 6 decimals as MONITORING.md §3
    writes it (level 0.95 → z = 1.959964): the Wilson interval's z."""
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1 (got {level})")
    return round(NormalDist().inv_cdf((1 + level) / 2), 6)
