"""Planted effects the monitoring's rows must find, and absent effects they must not flag
(MONITORING.md §5), on controls and counts drawn here with a fixed seed: the rows of
`transforms/monitoring_tables.py`.

Sizes: 6 000 OPBD controls (a national year). With a true top-decile target rate of about
0.45 against 0.18 at random, the Wilson interval of 600 controls (±0.04) cannot reach the
random rate; an O/E of 1.4 on 1 080 expected targets has a bootstrap interval of about
±0.06; a planted 2× control rate on 1 000 households against 3 000 (300 controls against
about 300) gives an interval of the ratio far from 1. The absent effects are the same draws
without the plant: each is one fixed draw, so the test is deterministic.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from jobs.lib.config import load_config
from transforms import monitoring_tables as rows_of

M = date(2026, 2, 1)
KEYS = rows_of.Keys(M, "run-test", "dmde_2025", date(2025, 2, 1), date(2026, 1, 1), 12)


@pytest.fixture(scope="module")
def config():
    """The configured monitoring, with 250 bootstrap replicates instead of 1 000 (the
    intervals' width barely changes; the suite stays fast)."""
    config = load_config(env="local")
    bootstrap = config.monitoring.bootstrap.model_copy(update={"replicates": 250})
    return config.model_copy(update={"monitoring": config.monitoring.model_copy(update={"bootstrap": bootstrap})})


def opbd_controls(settings, *, n=6000, miscalibration=1.0, seed=7) -> pd.DataFrame:
    """OPBD controls whose target is drawn with probability min(1, miscalibration × score);
    the score is skewed like the DMDE's (mean ≈ 0.18); the baseline is unrelated to it."""
    rng = np.random.default_rng(seed)
    score = np.clip(rng.beta(1.2, 5.5, n), 0.001, 0.999)
    target = rng.random(n) < np.minimum(1.0, miscalibration * score)
    frame = pd.DataFrame({
        "target": target, "score": score, "p_model1": score, "p_model2": score,
        "overpayment_eur": np.where(target, 1500.0, 0.0), "underpayment_eur": np.where(rng.random(n) < 0.1, 300.0, 0.0),
        "fraud": target & (rng.random(n) < 0.07), "has_score": True,
        "benefits_6m_eur": rng.gamma(2.0, 2000.0, n), "control_month": date(2025, 6, 1),
    })
    for i, q in enumerate(settings.fractions):
        frame[f"model_{i}"] = frame["score"] >= np.quantile(score, 1 - q)
        frame[f"baseline_{i}"] = frame["benefits_6m_eur"] >= np.quantile(frame["benefits_6m_eur"], 1 - q)
    frame["decile"] = 10 - np.minimum(9, (pd.Series(score).rank(pct=True).to_numpy() * 10).astype(int))
    frame["benefits_6m_decile"] = 10 - np.minimum(
        9, (frame["benefits_6m_eur"].rank(pct=True).to_numpy() * 10).astype(int))
    return frame


NO_DMDE = pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
    ("caf", object), ("mode", object), ("on_list", bool), ("has_score", bool), ("target", bool),
    ("overpayment_eur", float), ("underpayment_eur", float), ("fraud", bool))})


def test_the_model_beats_the_random_draw_it_is_compared_with(config):
    settings = config.monitoring
    rows = rows_of.performance_rows(opbd_controls(settings), NO_DMDE, KEYS, settings, 0)
    random = next(r for r in rows if r["rule"] == "RANDOM")
    top = next(r for r in rows if r["rule"] == "MODEL" and r["fraction"] == 0.10)
    assert top["n_controls"] == 600
    assert top["target_rate_ci_low"] > random["target_rate"]
    assert top["lift_vs_random_ci_low"] > 1
    assert top["diff_vs_benefits_pts_ci_low"] > 0  # the baseline here is unrelated to the target


def test_a_planted_miscalibration_is_found_and_a_calibrated_truth_is_not(config):
    settings = config.monitoring
    spec = config.model
    fit = {m: next(r for r in rows_of.model_fit_rows(opbd_controls(settings, miscalibration=m), KEYS, settings, spec, 0)
                   if r["predictor"] == "score") for m in (1.0, 1.4)}
    assert fit[1.4]["o_e_ratio_ci_low"] > 1.2
    assert fit[1.0]["o_e_ratio_ci_low"] <= 1 <= fit[1.0]["o_e_ratio_ci_high"]
    assert fit[1.0]["auc"] > 0.6 and fit[1.0]["auc_diff_vs_benefits_6m_ci_low"] > 0


def decisiveness_counts(planted: float) -> pd.DataFrame:
    """One band of a national cohort: FR 3 000 households, EU and NON_EU 1 000 each, 10 %
    controlled, NON_EU `planted` × as often."""
    rows = []
    groups = {"FR": (3000, 300), "EU": (1000, 100), "NON_EU": (1000, round(100 * planted))}
    for category, (n, controlled) in groups.items():
        rows.append(("ALL", "LIST_Q1", "nationality", category, n, controlled, 0, 1.0))
    total_n, total_c = sum(n for n, _ in groups.values()), sum(c for _, c in groups.values())
    rows.append(("ALL", "LIST_Q1", "ALL", "ALL", total_n, total_c, 0, 1.0))
    return pd.DataFrame(rows, columns=["caf", "band", "attribute", "category", "n_households", "n_controlled_dmde",
                                       "n_controlled_other_origin", "median_months_to_control"])


def test_a_planted_controller_bias_is_flagged_for_its_category_only(config):
    settings = config.monitoring
    categories = {"nationality": ["FR", "EU", "NON_EU"]}
    flags = {}
    for planted in (1.0, 2.0):
        rows = rows_of.decisiveness_rows(decisiveness_counts(planted), KEYS, settings, 3, date(2025, 11, 1),
                                         categories, [])
        flags[planted] = {r["category"]: r["flag"] for r in rows if r["attribute"] == "nationality"}
    # NON_EU: 0.20 / 0.12 = 1.67 > 1.25; FR and EU: 0.10 / 0.12 = 0.83, inside the band
    assert flags[2.0] == {"FR": "NONE", "EU": "NONE", "NON_EU": "OVER"}
    assert set(flags[1.0].values()) == {"NONE"}


def drift_counts(spec, shift: str | None) -> pd.DataFrame:
    """National modality counts of 100 000 households at the published shares, except the
    variable `shift`, whose first two modalities swap shares."""
    rows = []
    for variable in spec.variables:
        shares = np.array([m.share for m in variable.modalities], float)
        shares = shares / shares.sum()
        if variable.name == shift:
            shares[[0, 1]] = shares[[1, 0]]
        for modality, share in zip(variable.codes(), shares):
            rows.append(("ALL", variable.name, modality, int(round(100_000 * share))))
    return pd.DataFrame(rows, columns=["caf", "variable", "modality", "n_households"])


def test_a_planted_drift_moves_only_its_variable_past_the_threshold(config):
    settings, spec = config.monitoring, config.model
    shifted = next(v.name for v in spec.variables
                   if abs(v.modalities[0].share - v.modalities[1].share) >= 30)
    no_opbd = pd.DataFrame(columns=["variable", "modality", "n_opbd", "n_target"])
    for shift in (None, shifted):
        counts = drift_counts(spec, shift)
        rows = rows_of.drift_rows(counts, None, None, None, no_opbd, KEYS, settings, spec, [])
        moving = {r["variable"] for r in rows if r["psi_variable"] is not None
                  and r["psi_variable"] >= settings.psi.moderate}
        assert moving == ({shifted} if shift else set())


def test_the_summary_names_the_flagged_national_cells_only():
    frame = pd.DataFrame([
        {"caf": caf, "selection": "TOP_DECILE", "reference": "SCORED", "attribute": "sex", "category": "F",
         "representation_ratio": 1.4, "rr_ci_low": 1.3, "rr_ci_high": 1.5, "flag": flag}
        for caf, flag in (("ALL", "OVER"), ("59", "OVER"), ("ALL", "NONE"))])
    assert rows_of.flagged_cells({"monitoring_representation": frame}) == [
        "representation TOP_DECILE SCORED sex F: OVER 1.40 [1.30, 1.50]"]
