"""The rows of the published monitoring tables (MONITORING.md §2), built on the driver from
inputs bounded by design: the controls of a window (OPBD ≈ 6 000, DMDE ≈ 166 000 a year
nationally) and cross-tab counts. Point values, Wilson intervals and percentile-bootstrap
intervals (`transforms/monitoring_estimates.py`), then small-cell suppression
(`transforms/monitoring_suppression.py`). Pure functions of pandas frames: no Spark, no I/O.

Every row carries the keys of `Keys` (score month, run, model version, the window) and its
`caf` ('ALL' for a national row, computed on all households, never summed from suppressed
Caf rows), and `ci_method`: `bootstrap` when the row has bootstrap intervals, `wilson` when
its only intervals are Wilson's, `none` when it has none.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from domain.model import ModelSpec
from domain.monitoring import (
    ALL_ATTRIBUTES, CI_BOOTSTRAP, CI_NONE, CI_WILSON, DMDE_RULES, FLAG_NONE, FLAG_OVER, FLAG_UNDER,
    NATIONAL, PSI_MODERATE, PSI_SIGNIFICANT, PSI_STABLE, RULE_BENEFITS_6M, RULE_MODEL, RULE_RANDOM, SCORE_VARIABLE,
    SUPPRESSION,
)
from domain.settings import MonitoringSettings
from transforms import monitoring_estimates as est
from transforms.monitoring_suppression import suppress_small_cells

MODES = {"ON_SITE": "ON_SITE", "DOCUMENTS": "DOCUMENTS", "ALL": None}  # mode -> the controls' mode (None: all)


@dataclass(frozen=True)
class Keys:
    """What every row of a month's tables shares."""

    score_month: date
    run_id: str
    model_version: str
    window_start: date
    window_end: date
    window_months_available: int

    def row(self, caf: str, **values) -> dict:
        return {"score_month": self.score_month, "run_id": self.run_id, "model_version": self.model_version,
                "caf": caf, "window_start": self.window_start, "window_end": self.window_end,
                "window_months_available": self.window_months_available, **values}


def _ci(name: str, estimate: est.Estimate) -> dict:
    return {name: estimate.value, f"{name}_ci_low": estimate.ci_low, f"{name}_ci_high": estimate.ci_high}


def _wilson(name: str, k: int, n: int, level: float) -> dict:
    if n == 0:
        return {name: None, f"{name}_ci_low": None, f"{name}_ci_high": None}
    low, high = est.wilson_interval(k, n, level=level)
    return {name: k / n, f"{name}_ci_low": low, f"{name}_ci_high": high}


def _count(value: object) -> int:
    """A cross-tab count: absent (None, NaN) is 0."""
    return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def _cells(counts: pd.DataFrame, keys: Sequence[str], columns: Sequence[str], inner: str = "category"
           ) -> dict[tuple, dict[str, dict]]:
    """The rows of a cross-tab grouped by `keys`: {key values: {inner value: {column: value}}},
    in one pass (a pandas group per cell would cost more than the statistics)."""
    cells: dict[tuple, dict[str, dict]] = {}
    for record in counts[[*keys, inner, *columns]].to_dict("records"):
        cells.setdefault(tuple(record[k] for k in keys), {})[record[inner]] = record
    return cells


def _div(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _ci_method(*estimates: est.Estimate, wilson: bool = False) -> str:
    if any(e.ci_method == CI_BOOTSTRAP for e in estimates):
        return CI_BOOTSTRAP
    return CI_WILSON if wilson else CI_NONE


def band_flag(ratio: float | None, low: float | None, high: float | None, band: Sequence[float]) -> tuple:
    """(within_band, flag) of a ratio (§2.3, §8.7): the band's edges inclusive; OVER/UNDER
    need the threshold and a CI excluding 1; a null ratio has neither."""
    if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)):
        return None, None
    within = band[0] <= ratio <= band[1]
    if ratio > band[1] and low is not None and low > 1:
        return within, FLAG_OVER
    if ratio < band[0] and high is not None and high < 1:
        return within, FLAG_UNDER
    return within, FLAG_NONE


def resampling(n: int, settings: MonitoringSettings, table: str, month: date, caf: str, window: str,
               rule: str = "") -> est.Resampling | None:
    """The replicates of a set of n controls (None when empty), keyed as §3 says."""
    if n == 0:
        return None
    return est.Resampling(n, settings.bootstrap, est.bootstrap_key(table, month, caf, rule, "", "", window))


# ---------------------------------------------------------------------------------------
# §2.1 performance


def _outcome_indicators(controls: pd.DataFrame, mask: np.ndarray, r: est.Resampling | None,
                        level: float) -> tuple[dict, list[est.Estimate]]:
    """The indicators of the controls of `mask` shared by every sample (§2.1)."""
    target = controls["target"].to_numpy(bool)
    over = controls["overpayment_eur"].to_numpy(float)
    under = controls["underpayment_eur"].to_numpy(float)
    fraud = controls["fraud"].to_numpy(bool)
    n = int(mask.sum())
    values: dict = {"n_controls": n, "n_target": int((target & mask).sum()), "n_fraud": int((fraud & mask).sum()),
                    "fraud_rate": _div(int((fraud & mask).sum()), n)}
    values |= _wilson("target_rate", values["n_target"], n, level)
    estimates = []
    for kind, amounts in (("overpayment", over), ("underpayment", under)):
        found = mask & (amounts > 0)
        values[f"n_{kind}"] = int(found.sum())
        values |= _wilson(f"{kind}_rate", int(found.sum()), n, level)
        mean = est.mean_estimate(amounts, mask, r) if r is not None and n else est.Estimate(None)
        median = est.median_estimate(amounts, found, r) if r is not None and found.any() else est.Estimate(None)
        values |= _ci(f"mean_{kind}_eur", mean) | _ci(f"median_{kind}_if_any_eur", median)
        values[f"mean_{kind}_if_any_eur"] = float(amounts[found].mean()) if found.any() else None
        estimates += [mean, median]
    return values, estimates


def performance_rows(opbd: pd.DataFrame, dmde: pd.DataFrame, keys: Keys, settings: MonitoringSettings,
                     n_in_calibration_window: int) -> list[dict]:
    """`opbd`: the OPBD controls of E(M), one row each (sorted), with target, amounts,
    fraud, has_score and the selections model_<i>/baseline_<i> of `settings.fractions`;
    `dmde`: the DMDE controls of E(M) with caf, mode, on_list. OPBD rows are national,
    mode ALL, over the controls whose household was scored in its control month (the others
    are counted in n_without_score); DMDE rows per Caf and national, per mode and rule."""
    table, level = "monitoring_performance", settings.bootstrap.level
    rows = []
    scored = opbd[opbd["has_score"]].reset_index(drop=True)
    without = int((~opbd["has_score"]).sum())
    r = resampling(len(scored), settings, table, keys.score_month, NATIONAL, "OPBD")
    target = scored["target"].to_numpy(bool)
    everyone = np.ones(len(scored), dtype=bool)

    def opbd_row(rule: str, fraction: float, mask: np.ndarray, other: np.ndarray | None = None) -> dict:
        values, estimates = _outcome_indicators(scored, mask, r, level)
        extra = []
        if r is not None:
            extra = [est.rate_estimate(mask, target, r), est.ratio_of_rates_estimate(target, mask, everyone, r)]
            values |= _ci("capture_rate", extra[0]) | _ci("lift_vs_random", extra[1])
            if other is not None:
                extra.append(est.difference_of_rates_pts_estimate(target, mask, other, r))
                values |= _ci("diff_vs_benefits_pts", extra[-1])
        return keys.row(NATIONAL, sample="OPBD", rule=rule, fraction=fraction, mode="ALL", **values,
                        n_without_score=without, n_in_calibration_window=n_in_calibration_window,
                        ci_method=_ci_method(*estimates, *extra, wilson=True))

    rows.append(opbd_row(RULE_RANDOM, 1.0, everyone))
    for i, q in enumerate(settings.fractions):
        model, baseline = scored[f"model_{i}"].to_numpy(bool), scored[f"baseline_{i}"].to_numpy(bool)
        rows.append(opbd_row(RULE_MODEL, q, model, other=baseline))
        rows.append(opbd_row(RULE_BENEFITS_6M, q, baseline))

    for caf, controls in _by_caf(dmde):
        without = int((~controls["has_score"]).sum())
        for mode, chosen in MODES.items():
            in_mode = controls if chosen is None else controls[controls["mode"] == chosen]
            in_mode = in_mode.reset_index(drop=True)
            for rule in DMDE_RULES:
                listed = in_mode["on_list"].to_numpy(bool)
                mask = {"AS_SELECTED": np.ones(len(in_mode), bool), "ON_LIST": listed, "OFF_LIST": ~listed}[rule]
                subset = in_mode[mask].reset_index(drop=True)
                r_rule = resampling(len(subset), settings, table, keys.score_month, caf, mode, rule)
                values, estimates = _outcome_indicators(subset, np.ones(len(subset), bool), r_rule, level)
                rows.append(keys.row(caf, sample="DMDE", rule=rule, fraction=None, mode=mode, **values,
                                     n_without_score=without, n_in_calibration_window=None,
                                     ci_method=_ci_method(*estimates, wilson=True)))
    return rows


def _by_caf(controls: pd.DataFrame) -> Iterable[tuple[str, pd.DataFrame]]:
    """The national set first, then each Caf's (controls without a Caf: national only)."""
    yield NATIONAL, controls
    for caf, group in controls[controls["caf"].notna()].groupby("caf", sort=True):
        yield str(caf), group


# ---------------------------------------------------------------------------------------
# §2.2 calibration and model fit


def calibration_rows(opbd: pd.DataFrame, dmde: pd.DataFrame, keys: Keys, settings: MonitoringSettings,
                     spec: ModelSpec) -> list[dict]:
    """National, per decile of the control month (MODEL: the score's national decile;
    BENEFITS_6M, OPBD only: the baseline's): observed vs predicted, O/E and amounts."""
    table, level = "monitoring_calibration", settings.bootstrap.level
    rows = []
    probabilities = [spec.probability_column(m) for m in spec.model_names()]
    for sample, controls, rules in (("OPBD", opbd, (RULE_MODEL, RULE_BENEFITS_6M)), ("DMDE", dmde, (RULE_MODEL,))):
        scored = controls[controls["has_score"]].reset_index(drop=True)
        r = resampling(len(scored), settings, table, keys.score_month, NATIONAL, sample)
        target = scored["target"].to_numpy(bool)
        for rule in rules:
            deciles = scored["decile" if rule == RULE_MODEL else "benefits_6m_decile"].to_numpy()
            for decile in range(1, 11):
                mask = deciles == decile
                n = int(mask.sum())
                values = {"n_controls": n, "n_target": int((target & mask).sum())}
                values |= _wilson("observed_rate", values["n_target"], n, level)
                is_model = rule == RULE_MODEL and n > 0
                values["mean_predicted"] = float(scored["score"][mask].mean()) if is_model else None
                values |= {f"mean_{column}": float(scored[column][mask].mean()) if is_model else None
                           for column in probabilities}
                ratio = (est.o_e_ratio_estimate(target, scored["score"].to_numpy(float), r, among=mask)
                         if is_model and r is not None else est.Estimate(None))
                values |= _ci("o_e_ratio", ratio)
                for kind in ("overpayment", "underpayment"):
                    amounts = scored[f"{kind}_eur"].to_numpy(float)
                    values[f"{kind}_rate"] = _div(int((mask & (amounts > 0)).sum()), n)
                    values[f"mean_{kind}_eur"] = float(amounts[mask].mean()) if n else None
                rows.append(keys.row(NATIONAL, sample=sample, rule=rule, decile=decile, **values,
                                     ci_method=_ci_method(ratio, wilson=True)))
    return rows


def model_fit_rows(opbd: pd.DataFrame, keys: Keys, settings: MonitoringSettings, spec: ModelSpec,
                   n_in_calibration_window: int) -> list[dict]:
    """National, OPBD of E(M): AUC of each predictor (and its paired difference with the
    baseline's), and for the probabilities Brier, O/E and the calibration fit (§2.2)."""
    scored = opbd[opbd["has_score"]].reset_index(drop=True)
    r = resampling(len(scored), settings, "monitoring_model_fit", keys.score_month, NATIONAL, "OPBD")
    target = scored["target"].to_numpy(bool)
    baseline = scored["benefits_6m_eur"].to_numpy(float)
    rows = []
    probabilities = ["score", *[spec.probability_column(m) for m in spec.model_names()]]
    for predictor in (*probabilities, "benefits_6m_eur"):
        values = scored[predictor].to_numpy(float)
        estimates = []
        row = {"predictor": predictor, "n_controls": len(scored), "n_target": int(target.sum()),
               "n_in_calibration_window": n_in_calibration_window}
        auc = est.auc_estimate(values, target, r) if r is not None else est.Estimate(None)
        diff = (est.auc_difference_estimate(values, baseline, target, r)
                if r is not None and predictor != "benefits_6m_eur" else est.Estimate(None))
        row |= _ci("auc", auc) | _ci("auc_diff_vs_benefits_6m", diff)
        estimates += [auc, diff]
        if predictor in probabilities and r is not None:
            ratio = est.o_e_ratio_estimate(target, values, r)
            fit = est.calibration_estimate(values, target, r)
            row |= {"brier": est.brier_score(values, target), "mean_predicted": float(values.mean()),
                    "observed_rate": float(target.mean()), "calibration_intercept": fit.intercept}
            row |= _ci("o_e_ratio", ratio) | _ci("calibration_slope", fit.slope)
            estimates += [ratio, fit.slope]
        rows.append(keys.row(NATIONAL, **row, ci_method=_ci_method(*estimates)))
    return rows


# ---------------------------------------------------------------------------------------
# §2.3 representation and §2.6 human decisiveness: ratios of shares from counts


def _category_order(spec_categories: Mapping[str, Sequence[str]], attribute: str, observed: Iterable[str]) -> list[str]:
    """The attribute's categories in the populations file's order, then any other observed
    (UNKNOWN, intersections' pairs) sorted."""
    listed = list(spec_categories.get(attribute, ()))
    return listed + sorted(set(observed) - set(listed))


def ratio_rows(order: Sequence[str], selected: Mapping[str, int], reference: Mapping[str, int], *, nested: bool,
               settings: MonitoringSettings, key: str) -> list[dict]:
    """Per category of `order`: the counts, shares, representation ratio with its bootstrap
    interval (multinomial on the counts, §3), and when nested the selection rate and excess
    points; `selected`, `reference` map a category to its count (0 when absent), and
    'ALL' to the attribute's total (the categories' sum when absent)."""
    categories = list(order)
    n_s = np.array([_count(selected.get(c)) for c in categories], dtype=np.int64)
    n_r = np.array([_count(reference.get(c)) for c in categories], dtype=np.int64)
    total_s = _count(selected.get(ALL_ATTRIBUTES, int(n_s.sum())))
    total_r = _count(reference.get(ALL_ATTRIBUTES, int(n_r.sum())))
    estimates = est.representation_ratio_estimates(n_s, n_r, nested=nested, bootstrap=settings.bootstrap, key=key)
    rows = []
    for category, s, ref, estimate in zip(categories, n_s, n_r, estimates):
        within, flag = band_flag(estimate.value, estimate.ci_low, estimate.ci_high, settings.band)
        rate = _div(int(s), int(ref)) if nested else None
        rows.append({"category": category, "n_selected": int(s), "n_selected_total": total_s,
                     "share_selected": _div(int(s), total_s), "n_reference": int(ref), "n_reference_total": total_r,
                     "share_reference": _div(int(ref), total_r), "selection_rate": rate,
                     "representation_ratio": estimate.value, "rr_ci_low": estimate.ci_low,
                     "rr_ci_high": estimate.ci_high,
                     "excess_selection_pts": 100 * (rate - total_s / total_r) if rate is not None and total_r else None,
                     "within_band": within, "flag": flag, "ci_method": estimate.ci_method})
    rows.append({"category": ALL_ATTRIBUTES, "n_selected": total_s, "n_selected_total": total_s,
                 "share_selected": 1.0 if total_s else None, "n_reference": total_r, "n_reference_total": total_r,
                 "share_reference": 1.0 if total_r else None,
                 "selection_rate": _div(total_s, total_r) if nested else None,
                 "representation_ratio": 1.0 if total_s and total_r else None, "rr_ci_low": None, "rr_ci_high": None,
                 "excess_selection_pts": 0.0 if nested and total_r else None, "within_band": None, "flag": None,
                 "ci_method": CI_NONE})
    return rows


# (selection, its count, reference, its count, nested, Caf rows too)
REPRESENTATION_PAIRS = (
    ("DMDE_CONTROLLED", "n_controlled", "SCORED_POOLED", "n_pooled", False, True),
    ("DMDE_CONTROLLED", "n_controlled", "OPBD_TARGET", "n_opbd_target", False, False),
    ("TOP_DECILE", "n_top_decile", "SCORED", "n_scored", True, True),
    ("TOP_DECILE", "n_top_decile", "OPBD_TARGET", "n_opbd_target", False, False),
    ("TARGET_LIST", "n_target_list", "SCORED", "n_scored", True, True),
    ("TARGET_LIST", "n_target_list", "ELIGIBLE", "n_eligible", True, True),
    ("BENEFITS_6M_TOP_DECILE", "n_benefits_top", "SCORED", "n_scored", True, True),
)


def representation_rows(counts: pd.DataFrame, keys: Keys, settings: MonitoringSettings,
                        categories: Mapping[str, Sequence[str]], intersections: Sequence[str]) -> list[dict]:
    """`counts`: (caf, attribute, category) with n_scored, n_top_decile, n_target_list,
    n_eligible, n_benefits_top, n_pooled, n_controlled, n_opbd_target (0 where absent),
    Caf rows and national rows (caf 'ALL'). Intersections: national rows only."""
    rows = []
    table = "monitoring_representation"
    columns = sorted({c for pair in REPRESENTATION_PAIRS for c in (pair[1], pair[3])})
    cells = _cells(counts, ["caf", "attribute"], columns)
    for (caf, attribute), group in sorted(cells.items()):
        if attribute == ALL_ATTRIBUTES or (caf != NATIONAL and attribute in intersections):
            continue
        totals = cells.get((caf, ALL_ATTRIBUTES), {})
        order = _category_order(categories, attribute, group)
        for selection, s_col, reference, r_col, nested, per_caf in REPRESENTATION_PAIRS:
            if caf != NATIONAL and not per_caf:
                continue
            key = est.bootstrap_key(table, keys.score_month, caf, selection, reference, attribute, "")
            for row in ratio_rows(order, _column(group, totals, s_col), _column(group, totals, r_col),
                                  nested=nested, settings=settings, key=key):
                if row["category"] == ALL_ATTRIBUTES:
                    continue
                rows.append(keys.row(caf, selection=selection, reference=reference, attribute=attribute, **row))
    for caf in sorted(counts["caf"].unique()):
        totals = cells.get((caf, ALL_ATTRIBUTES), {})
        for selection, s_col, reference, r_col, nested, per_caf in REPRESENTATION_PAIRS:
            if caf != NATIONAL and not per_caf:
                continue
            n_s, n_r = (sum(_count(record[column]) for record in totals.values()) for column in (s_col, r_col))
            rows.append(keys.row(caf, selection=selection, reference=reference, attribute=ALL_ATTRIBUTES,
                                 category=ALL_ATTRIBUTES, n_selected=n_s, n_selected_total=n_s,
                                 share_selected=1.0 if n_s else None, n_reference=n_r, n_reference_total=n_r,
                                 share_reference=1.0 if n_r else None,
                                 selection_rate=_div(n_s, n_r) if nested else None,
                                 representation_ratio=1.0 if n_s and n_r else None, rr_ci_low=None, rr_ci_high=None,
                                 excess_selection_pts=0.0 if nested and n_r else None, within_band=None, flag=None,
                                 ci_method=CI_NONE))
    return rows


def _column(group: Mapping[str, dict], totals: Mapping[str, dict], column: str) -> dict[str, object]:
    """One count column of a cell's categories, with the attribute's total as 'ALL'."""
    values = {category: record[column] for category, record in group.items()}
    if ALL_ATTRIBUTES in totals:
        values[ALL_ATTRIBUTES] = totals[ALL_ATTRIBUTES][column]
    return values


DECISIVENESS_COUNTS = ("n_households", "n_controlled_dmde", "n_controlled_other_origin", "median_months_to_control")


def decisiveness_rows(counts: pd.DataFrame, keys: Keys, settings: MonitoringSettings, horizon: int,
                      cohort_month: date, categories: Mapping[str, Sequence[str]],
                      intersections: Sequence[str]) -> list[dict]:
    """`counts`: (caf, band, attribute, category) with n_households, n_controlled_dmde,
    n_controlled_other_origin, median_months_to_control; Caf and national (caf 'ALL')
    rows. Per band: the share not controlled (Wilson) and, per category, the ratio of its
    share controlled to the band's (§2.6), with its bootstrap interval."""
    rows = []
    level = settings.bootstrap.level
    table = "monitoring_human_decisiveness"
    cells = _cells(counts, ["caf", "band", "attribute"], DECISIVENESS_COUNTS)
    for (caf, band, attribute), group in sorted(cells.items()):
        if caf != NATIONAL and attribute in intersections:
            continue
        totals = cells.get((caf, band, ALL_ATTRIBUTES), {})
        if attribute == ALL_ATTRIBUTES:
            controlled_any = sum(_count(record["n_controlled_dmde"]) for record in group.values())
            ratios = {ALL_ATTRIBUTES: est.Estimate(1.0 if controlled_any else None)}
        else:
            order = _category_order(categories, attribute, group)
            key = est.bootstrap_key(table, keys.score_month, caf, band, "", attribute, str(horizon))
            ratio = ratio_rows(order, _column(group, totals, "n_controlled_dmde"),
                               _column(group, totals, "n_households"), nested=True, settings=settings, key=key)
            ratios = {r["category"]: est.Estimate(r["representation_ratio"], r["rr_ci_low"], r["rr_ci_high"],
                                                  r["ci_method"]) for r in ratio}
        for category, record in group.items():
            n, controlled = int(record["n_households"]), int(record["n_controlled_dmde"])
            ratio = ratios.get(category, est.Estimate(None))
            within, flag = (band_flag(ratio.value, ratio.ci_low, ratio.ci_high, settings.band)
                            if attribute != ALL_ATTRIBUTES else (None, None))
            median = record["median_months_to_control"]
            rows.append(keys.row(
                caf, horizon_months=horizon, cohort_month=cohort_month, band=band, attribute=attribute,
                category=category, n_households=n, n_controlled_dmde=controlled,
                share_controlled=_div(controlled, n), **_wilson("share_not_controlled", n - controlled, n, level),
                **_ci("controlled_ratio_vs_band", ratio), within_band=within, flag=flag,
                median_months_to_control=None if pd.isna(median) else float(median),
                n_controlled_other_origin=int(record["n_controlled_other_origin"]),
                ci_method=_ci_method(ratio, wilson=True)))
    return rows


# ---------------------------------------------------------------------------------------
# §2.4 parity


def parity_rows(opbd: pd.DataFrame, keys: Keys, settings: MonitoringSettings, attributes: Sequence[str]) -> list[dict]:
    """National, OPBD controls of E(M) with a score: per rule, parity fraction, attribute
    (categories as of the control month), category and Aequitas metric (§2.4)."""
    scored = opbd[opbd["has_score"]].reset_index(drop=True)
    r = resampling(len(scored), settings, "monitoring_parity", keys.score_month, NATIONAL, "OPBD")
    if r is None:
        return []
    target = scored["target"].to_numpy(bool)
    rows = []
    for rule, prefix in ((RULE_MODEL, "model"), (RULE_BENEFITS_6M, "baseline")):
        for q in settings.parity_fractions:
            selected = scored[f"{prefix}_{settings.fractions.index(q)}"].to_numpy(bool)
            for attribute in attributes:
                for p in est.parity_estimates(scored[attribute].astype(str).to_numpy(), selected, target, r):
                    within, flag = band_flag(p.disparity.value, p.disparity.ci_low, p.disparity.ci_high, settings.band)
                    rows.append(keys.row(
                        NATIONAL, rule=rule, fraction=q, attribute=attribute, category=p.category, metric=p.metric,
                        group_size=p.group_size, n_selected=p.n_selected, n_target=p.n_target, tp=p.tp, fp=p.fp,
                        fn=p.fn, tn=p.tn, **_ci("value", p.value), ref_category=p.ref_category,
                        ref_value=p.ref_value, **_ci("disparity", p.disparity), within_band=within, flag=flag,
                        note=p.note, ci_method=_ci_method(p.value, p.disparity)))
    return rows


# ---------------------------------------------------------------------------------------
# §2.5 volumes


def volumes_rows(dmde: pd.DataFrame, others: pd.DataFrame, scored: pd.DataFrame, capacity: pd.DataFrame,
                 keys: Keys, months: Sequence[date]) -> list[dict]:
    """`dmde`: DMDE controls of E(M) (caf, control_month, mode, on_list, decile,
    percentile_in_caf, amounts, fraud, has_score); `others`: (caf, control_month, origin,
    n) of OPBD/OTHER controls; `scored`: (caf, score_month, households) of the window's
    months; `capacity`: (caf, score_month, capacity). MONTH = control month M-1;
    ROLLING_12 = the available months of E(M), its rate per year."""
    rows = []
    last = max(months) if months else None
    for window, in_window in (("MONTH", [last] if last else []), ("ROLLING_12", list(months))):
        chosen = dmde[dmde["control_month"].isin(in_window)]
        other = others[others["control_month"].isin(in_window)]
        households = scored[scored["score_month"].isin(in_window)]
        cap = capacity[capacity["score_month"].isin(in_window)]
        per_year = 12 / len(in_window) if window == "ROLLING_12" and in_window else 1
        for caf, controls in _by_caf(chosen):
            caf_other = other if caf == NATIONAL else other[other["caf"] == caf]
            caf_households = households if caf == NATIONAL else households[households["caf"] == caf]
            caf_capacity = cap if caf == NATIONAL else cap[cap["caf"] == caf]
            mean_households = (float(caf_households.groupby("score_month")["households"].sum().mean())
                               if len(caf_households) else None)
            total_capacity = int(caf_capacity["capacity"].sum())
            for mode, wanted in MODES.items():
                c = controls if wanted is None else controls[controls["mode"] == wanted]
                n = len(c)
                impact = (c["overpayment_eur"] > 0) | (c["underpayment_eur"] > 0)
                percentiles = c["percentile_in_caf"].dropna().to_numpy(float)
                rows.append(keys.row(
                    caf, window=window, mode=mode, window_start=min(in_window) if in_window else None,
                    window_end=last, window_months_available=len(in_window),
                    n_dmde_controls=n, n_households_scored=mean_households,
                    control_rate_per_1000=(1000 * n * per_year / mean_households) if mean_households else None,
                    capacity=total_capacity if mode == "ALL" else None,
                    capacity_use=_div(n, total_capacity) if mode == "ALL" else None,
                    share_on_list=_div(int(c["on_list"].sum()), n), share_top_decile=_div(int((c["decile"] == 1).sum()), n),
                    median_percentile_in_caf=float(np.percentile(percentiles, 50)) if percentiles.size else None,
                    p90_percentile_in_caf=float(np.percentile(percentiles, 90)) if percentiles.size else None,
                    n_with_financial_impact=int(impact.sum()), financial_impact_rate=_div(int(impact.sum()), n),
                    n_fraud=int(c["fraud"].sum()), fraud_rate=_div(int(c["fraud"].sum()), n),
                    total_overpayment_eur=float(c["overpayment_eur"].sum()),
                    total_underpayment_eur=float(c["underpayment_eur"].sum()),
                    n_opbd_controls=int(caf_other.loc[caf_other["origin"] == "OPBD", "n"].sum()) if mode == "ALL" else None,
                    n_other_controls=int(caf_other.loc[caf_other["origin"] == "OTHER", "n"].sum()) if mode == "ALL" else None,
                    n_without_score=int((~c["has_score"]).sum()), ci_method=CI_NONE))
    return rows


# ---------------------------------------------------------------------------------------
# §2.7 drift


def psi_terms(p: np.ndarray, q: np.ndarray, floor: float) -> np.ndarray:
    """(p − q)·ln(p/q), p and q floored, not renormalised after flooring (§2.7)."""
    p, q = np.maximum(p, floor), np.maximum(q, floor)
    return (p - q) * np.log(p / q)


def psi_status(psi: float | None, settings: MonitoringSettings) -> str | None:
    if psi is None:
        return None
    if psi >= settings.psi.significant:
        return PSI_SIGNIFICANT
    return PSI_MODERATE if psi >= settings.psi.moderate else PSI_STABLE


def drift_rows(current: pd.DataFrame, previous: pd.DataFrame | None, reference: pd.DataFrame | None,
               reference_month: date | None, opbd: pd.DataFrame, keys: Keys, settings: MonitoringSettings,
               spec: ModelSpec, score_bins: Sequence[str]) -> list[dict]:
    """`current`, `previous`: (caf, variable, modality, n_households) of M and M-1, Caf rows
    and national rows (caf 'ALL'); `reference`: the same for the first score month of the
    model version (only the pseudo-variable `score` is read from it); `opbd`: (variable,
    modality, n_opbd, n_target) of the OPBD controls of E(M) as of their control month."""
    rows = []
    floor, level = settings.psi.floor, settings.bootstrap.level
    published = {v.name: (v.codes(), np.array([m.share for m in v.modalities], float),
                          {m.code: m.target_share / 100 for m in v.modalities}) for v in spec.variables}

    def by_cell(frame: pd.DataFrame | None) -> dict[tuple, dict[str, int]] | None:
        """{(caf, variable): {modality: n_households}}: one pass, then lookups."""
        if frame is None:
            return None
        return {key: {modality: record["n_households"] for modality, record in group.items()}
                for key, group in _cells(frame, ["caf", "variable"], ["n_households"], "modality").items()}

    def counts_of(cells: dict, caf: str, variable: str, modalities: Sequence[str]) -> np.ndarray:
        found = cells.get((caf, variable), {})
        return np.array([_count(found.get(m)) for m in modalities], dtype=np.int64)

    def shares(cells: dict | None, caf: str, variable: str, modalities: Sequence[str]) -> np.ndarray | None:
        if cells is None:
            return None
        counts = counts_of(cells, caf, variable, modalities).astype(float)
        return counts / counts.sum() if counts.sum() else None

    current_cells, previous_cells, reference_cells = by_cell(current), by_cell(previous), by_cell(reference)
    opbd_counts: dict[tuple, list[int]] = {}
    for record in opbd[["variable", "modality", "n_opbd", "n_target"]].to_dict("records"):
        found = opbd_counts.setdefault((record["variable"], record["modality"]), [0, 0])
        found[0] += _count(record["n_opbd"])
        found[1] += _count(record["n_target"])
    for caf in sorted(current["caf"].unique()):
        for variable in [*published, SCORE_VARIABLE]:
            if variable == SCORE_VARIABLE:
                modalities, targets = list(score_bins), {}
                q = shares(reference_cells, caf, variable, modalities)
            else:
                modalities, raw, targets = published[variable]
                q = raw / raw.sum()
            n = counts_of(current_cells, caf, variable, modalities)
            p = n / n.sum() if n.sum() else None
            terms = psi_terms(p, q, floor) if p is not None and q is not None else None
            psi = float(terms.sum()) if terms is not None else None
            prev = shares(previous_cells, caf, variable, modalities)
            psi_previous = float(psi_terms(p, prev, floor).sum()) if p is not None and prev is not None else None
            for k, modality in enumerate(modalities):
                row = {"variable": variable, "modality": modality, "n_households": int(n[k]),
                       "share_population": None if p is None else float(p[k]),
                       "share_published": None if q is None else float(q[k]),
                       "share_diff_pts": None if p is None or q is None else 100 * float(p[k] - q[k]),
                       "psi_term": None if terms is None else float(terms[k]), "psi_variable": psi,
                       "psi_status": psi_status(psi, settings), "psi_vs_previous_month": psi_previous,
                       "reference_month": reference_month if variable == SCORE_VARIABLE else None,
                       "n_opbd": None, "target_rate_opbd": None, "target_rate_opbd_ci_low": None,
                       "target_rate_opbd_ci_high": None, "target_share_published": targets.get(modality),
                       "target_rate_flag": None}
                wilson = False
                if caf == NATIONAL and variable != SCORE_VARIABLE:
                    n_opbd, n_target = opbd_counts.get((variable, modality), (0, 0))
                    row |= {"n_opbd": n_opbd, **_wilson("target_rate_opbd", n_target, n_opbd, level)}
                    if n_opbd:
                        wilson = True
                        published_rate = targets.get(modality)
                        row["target_rate_flag"] = not (row["target_rate_opbd_ci_low"] <= published_rate
                                                       <= row["target_rate_opbd_ci_high"])
                rows.append(keys.row(caf, **row, ci_method=CI_WILSON if wilson else CI_NONE))
    return rows


# ---------------------------------------------------------------------------------------
# §4 suppression and the tables' frames


def columns_of(schema: str) -> list[tuple[str, str]]:
    """[(column, type)] of a DDL string, types kept whole (decimal(12,2), map<string,long>)."""
    out, depth, token = [], 0, ""
    for char in schema + ",":
        if char == "," and depth == 0:
            name, _, kind = token.strip().partition(" ")
            out.append((name, kind.strip()))
            token = ""
            continue
        depth += char in "(<"
        depth -= char in ")>"
        token += char
    return out


def table_frame(table: str, rows: list[dict], schema: str, min_cell: int) -> pd.DataFrame:
    """The rows as a frame with exactly the table's columns, small cells suppressed (§4)."""
    columns = [name for name, _ in columns_of(schema)]
    frame = pd.DataFrame(rows, columns=[c for c in columns if c not in ("suppressed", "suppression_reason")])
    roles = SUPPRESSION[table]
    counts = list(roles["counts"])
    key_columns = ["caf", *roles["keys"]]
    values = [c for c in frame.columns if c not in key_columns and c not in counts and c not in (
        "score_month", "run_id", "model_version", "window_start", "window_end", "window_months_available",
        "ci_method", "cohort_month", "reference_month", "ref_category", "note")]
    if frame.empty:
        frame["suppressed"], frame["suppression_reason"] = pd.Series(dtype=bool), pd.Series(dtype=object)
        return frame[columns]
    suppressed = suppress_small_cells(frame, keys=key_columns, counts=counts, values=values, min_cell=min_cell,
                                      category=roles["group"], caf="caf", national=NATIONAL)
    return suppressed[columns]


def records(frame: pd.DataFrame, schema: str) -> list[tuple]:
    """The frame's rows as tuples Spark accepts for the DDL `schema`: nulls for NaN, money
    as Decimal with two places, counts as int, flags as bool."""
    from decimal import Decimal

    def convert(kind: str):
        if kind.startswith("decimal"):
            return lambda v: Decimal(f"{v:.2f}")
        if kind in ("bigint", "int", "long"):
            return int
        if kind == "double":
            return float
        if kind == "boolean":
            return bool
        return lambda v: v

    converters = [convert(kind) for _, kind in columns_of(schema)]
    out = []
    for row in frame.itertuples(index=False, name=None):
        out.append(tuple(None if v is None or pd.isna(v) else f(v) for f, v in zip(converters, row)))
    return out


# What a flagged cell is called in the job's summary: its table's distinguishing keys.
FLAG_LABELS = {
    "monitoring_representation": ("selection", "reference", "attribute", "category", "representation_ratio",
                                  "rr_ci_low", "rr_ci_high"),
    "monitoring_parity": ("rule", "fraction", "metric", "attribute", "category", "disparity", "disparity_ci_low",
                          "disparity_ci_high"),
    "monitoring_human_decisiveness": ("horizon_months", "band", "attribute", "category", "controlled_ratio_vs_band",
                                      "controlled_ratio_vs_band_ci_low", "controlled_ratio_vs_band_ci_high"),
}


def flagged_cells(frames: Mapping[str, pd.DataFrame]) -> list[str]:
    """The national cells flagged OVER or UNDER, one line each: table, keys, flag, ratio [CI]."""
    lines = []
    for table, columns in FLAG_LABELS.items():
        frame = frames.get(table)
        if frame is None or frame.empty:
            continue
        *keys, value, low, high = columns
        flagged = frame[(frame["caf"] == NATIONAL) & frame["flag"].isin([FLAG_OVER, FLAG_UNDER])]
        for row in flagged.sort_values(keys).itertuples(index=False):
            row = row._asdict()
            lines.append(f"{table.removeprefix('monitoring_')} {' '.join(str(row[k]) for k in keys)}: "
                         f"{row['flag']} {row[value]:.2f} [{row[low]:.2f}, {row[high]:.2f}]")
    return lines
