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


def normal_quantile(level: float) -> float:
    """z of a two-sided interval at `level`, rounded to 6 decimals as MONITORING.md §3
    writes it (level 0.95 → z = 1.959964): the Wilson interval's z."""
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1 (got {level})")
    return round(NormalDist().inv_cdf((1 + level) / 2), 6)


# ---------------------------------------------------------------------------------------
# The published tables (MONITORING.md §0, §2): their columns, which BI and the report rely
# on. Each table is these key columns, then its own, then the suppression and CI columns.
# Rates and ratios are double, money decimal(12,2), counts bigint.

SAMPLES = ("OPBD", "DMDE")
DMDE_RULES = ("AS_SELECTED", "ON_LIST", "OFF_LIST")
MODES = ("ON_SITE", "DOCUMENTS", "ALL")
VOLUME_WINDOWS = ("MONTH", "ROLLING_12")
SELECTIONS = ("DMDE_CONTROLLED", "TOP_DECILE", "TARGET_LIST", "BENEFITS_6M_TOP_DECILE")
REFERENCES = ("SCORED", "ELIGIBLE", "SCORED_POOLED", "OPBD_TARGET")
LIST_BANDS = ("LIST_Q1", "LIST_Q2", "LIST_Q3", "LIST_Q4")
ALL_LIST = "ALL_LIST"
SCORE_VARIABLE = "score"  # drift's pseudo-variable: the score's distribution over score_bins

MONEY = "decimal(12,2)"
KEY_COLUMNS = "score_month date, run_id string, model_version string, caf string"
TAIL_COLUMNS = "suppressed boolean, suppression_reason string, ci_method string"
WINDOW_COLUMNS = "window_start date, window_end date, window_months_available int"


def _with_ci(*names: str, kind: str = "double") -> str:
    return ", ".join(f"{name} {kind}, {name}_ci_low {kind}, {name}_ci_high {kind}" for name in names)


TABLE_COLUMNS: dict[str, str] = {
    "monitoring_performance": ", ".join([
        WINDOW_COLUMNS, "sample string, rule string, fraction double, mode string",
        "n_controls bigint, n_target bigint", _with_ci("target_rate"),
        "n_overpayment bigint", _with_ci("overpayment_rate"), _with_ci("mean_overpayment_eur", kind=MONEY),
        f"mean_overpayment_if_any_eur {MONEY}", _with_ci("median_overpayment_if_any_eur", kind=MONEY),
        "n_underpayment bigint", _with_ci("underpayment_rate"), _with_ci("mean_underpayment_eur", kind=MONEY),
        f"mean_underpayment_if_any_eur {MONEY}", _with_ci("median_underpayment_if_any_eur", kind=MONEY),
        "n_fraud bigint, fraud_rate double", _with_ci("capture_rate", "lift_vs_random", "diff_vs_benefits_pts"),
        "n_without_score bigint, n_in_calibration_window bigint"]),
    "monitoring_calibration": ", ".join([
        WINDOW_COLUMNS, "sample string, rule string, decile int, n_controls bigint, n_target bigint",
        _with_ci("observed_rate"), "mean_predicted double, {mean_probabilities}", _with_ci("o_e_ratio"),
        f"overpayment_rate double, underpayment_rate double, mean_overpayment_eur {MONEY}, "
        f"mean_underpayment_eur {MONEY}"]),
    "monitoring_model_fit": ", ".join([
        WINDOW_COLUMNS, "predictor string, n_controls bigint, n_target bigint",
        _with_ci("auc", "auc_diff_vs_benefits_6m"), "brier double, mean_predicted double, observed_rate double",
        _with_ci("o_e_ratio"), "calibration_intercept double", _with_ci("calibration_slope"),
        "n_in_calibration_window bigint"]),
    "monitoring_representation": ", ".join([
        WINDOW_COLUMNS, "selection string, reference string, attribute string, category string",
        "n_selected bigint, n_selected_total bigint, share_selected double",
        "n_reference bigint, n_reference_total bigint, share_reference double",
        "selection_rate double, representation_ratio double, rr_ci_low double, rr_ci_high double",
        "excess_selection_pts double, within_band boolean, flag string"]),
    "monitoring_parity": ", ".join([
        WINDOW_COLUMNS, "rule string, fraction double, attribute string, category string, metric string",
        "group_size bigint, n_selected bigint, n_target bigint, tp bigint, fp bigint, fn bigint, tn bigint",
        _with_ci("value"), "ref_category string, ref_value double", _with_ci("disparity"),
        "within_band boolean, flag string, note string"]),
    "monitoring_volumes": ", ".join([
        "window string, mode string, window_start date, window_end date, window_months_available int",
        "n_dmde_controls bigint, n_households_scored double, control_rate_per_1000 double",
        "capacity bigint, capacity_use double, share_on_list double, share_top_decile double",
        "median_percentile_in_caf double, p90_percentile_in_caf double",
        "n_with_financial_impact bigint, financial_impact_rate double, n_fraud bigint, fraud_rate double",
        f"total_overpayment_eur {MONEY}, total_underpayment_eur {MONEY}",
        "n_opbd_controls bigint, n_other_controls bigint, n_without_score bigint"]),
    "monitoring_human_decisiveness": ", ".join([
        "horizon_months int, cohort_month date, band string, attribute string, category string",
        "n_households bigint, n_controlled_dmde bigint, share_controlled double",
        _with_ci("share_not_controlled"), _with_ci("controlled_ratio_vs_band"),
        "within_band boolean, flag string, median_months_to_control double, n_controlled_other_origin bigint"]),
    "monitoring_drift": ", ".join([
        "variable string, modality string, n_households bigint, share_population double",
        "share_published double, share_diff_pts double, psi_term double, psi_variable double",
        "psi_status string, psi_vs_previous_month double, reference_month date",
        "n_opbd bigint", _with_ci("target_rate_opbd"), "target_share_published double, target_rate_flag boolean"]),
}

# The count columns of each table: a row with one of them between 1 and min_cell − 1 is
# suppressed (§4); `group` is the key that varies inside an additive group (kind a).
SUPPRESSION: dict[str, dict] = {
    "monitoring_performance": {"counts": ("n_controls", "n_target", "n_overpayment", "n_underpayment", "n_fraud"),
                               "keys": ("sample", "rule", "fraction", "mode"), "group": "mode"},
    "monitoring_calibration": {"counts": ("n_controls", "n_target"), "keys": ("sample", "rule", "decile"),
                               "group": "decile"},
    "monitoring_model_fit": {"counts": ("n_controls", "n_target"), "keys": ("predictor",), "group": None},
    "monitoring_representation": {"counts": ("n_selected", "n_reference"),
                                  "keys": ("selection", "reference", "attribute", "category"), "group": "category"},
    "monitoring_parity": {"counts": ("group_size", "n_selected", "n_target", "tp", "fp", "fn", "tn"),
                          "keys": ("rule", "fraction", "attribute", "metric", "category"), "group": "category"},
    "monitoring_volumes": {"counts": ("n_dmde_controls", "n_with_financial_impact", "n_fraud", "n_opbd_controls",
                                      "n_other_controls", "n_without_score"),
                           "keys": ("window", "mode"), "group": "mode"},
    "monitoring_human_decisiveness": {"counts": ("n_households", "n_controlled_dmde", "n_controlled_other_origin"),
                                      "keys": ("horizon_months", "band", "attribute", "category"),
                                      "group": "category"},
    "monitoring_drift": {"counts": ("n_households", "n_opbd"), "keys": ("variable", "modality"),
                         "group": "modality"},
}


def table_schema(table: str, model_names: tuple[str, ...] = ()) -> str:
    """The DDL of a published monitoring table; the calibration table has one
    `mean_p_<model>` column per model of the model file."""
    columns = TABLE_COLUMNS[table].replace(
        "{mean_probabilities}", ", ".join(f"mean_p_{name} double" for name in model_names) or "")
    return ", ".join(part for part in (KEY_COLUMNS, columns, TAIL_COLUMNS) if part)
