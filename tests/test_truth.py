"""The synthetic truth (`synth.truth`) and the control outcomes (`synth.outcomes`): the knobs
change the model exactly as they say, through the scorer's own functions; the outcomes are
coherent with the target; names the truth uses are checked against the model file and the
populations on load."""
from __future__ import annotations

import math
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from domain.errors import ConfigError
from domain.synth import AttributeEffect, PlantedOddsRatio, Truth
from jobs.lib.config import DEFAULT_CONF_DIR, load_config
from transforms import model
from transforms.synth_labels import PLANTED_CATEGORY, is_target, truth_probability, with_outcomes

CONFIG = load_config()
SPEC = CONFIG.model
SYNTH = CONFIG.synth()
INTERCEPTS = {"model1": -2.0, "model2": -2.5}


def logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.fixture(scope="module")
def households(spark):
    """Two households at the first modality of every variable (so Σ ln OR = 0, the logit is
    the intercept), one of them with guardianship "yes" (OR 0.3); one in the planted category."""
    first = {v.name: v.modalities[0].code for v in SPEC.variables}
    rows = [{**first, "household_id": "a", PLANTED_CATEGORY: "NON_EU"},
            {**first, "guardianship": "yes", "household_id": "b", PLANTED_CATEGORY: "FR"}]
    columns = ["household_id", PLANTED_CATEGORY, *first]
    frame = spark.createDataFrame([tuple(r[c] for c in columns) for r in rows], ", ".join(f"{c} string" for c in columns))
    # control month 2026-02, pre-filling from 2025-03: 11 of the 24 months after it
    return frame.select("*", F.lit(date(2026, 2, 1)).alias("control_month"),
                        F.lit(date(2025, 3, 1)).alias("prefill_start"))


def probabilities(households, truth: Truth, intercepts=INTERCEPTS) -> dict[str, float]:
    p = truth_probability(truth, truth.model_spec(SPEC), intercepts)
    return {r.household_id: r.p for r in households.select("household_id", p.alias("p")).collect()}


def test_default_truth_is_the_scorers_blend(households):
    blended = model.blended_probability(SPEC, F.col("control_month"), F.col("prefill_start"), INTERCEPTS)
    expected = {r.household_id: r.p for r in households.select("household_id", blended.alias("p")).collect()}
    assert probabilities(households, SYNTH.truth) == expected
    w = 11 / 24
    a = (1 - w) / (1 + math.exp(2.0)) + w / (1 + math.exp(2.5))
    assert expected["a"] == pytest.approx(a, abs=1e-12)


@pytest.mark.parametrize("name", ["model1", "model2"])
def test_one_model_alone(households, name):
    p = probabilities(households, Truth(model=name))
    assert logit(p["a"]) == pytest.approx(INTERCEPTS[name], abs=1e-9)
    assert logit(p["b"]) == pytest.approx(INTERCEPTS[name] + math.log(0.3), abs=1e-9)


def test_a_planted_odds_ratio_replaces_the_published_one(households):
    truth = Truth(model="model1", odds_ratios=[PlantedOddsRatio(variable="guardianship", modality="yes",
                                                                 odds_ratio=2.0)])
    p = probabilities(households, truth)
    assert logit(p["b"]) - logit(p["a"]) == pytest.approx(math.log(2.0), abs=1e-9)
    assert SPEC.variable("guardianship").modality("yes").odds_ratio == {"model1": 0.3, "model2": 0.3}


def test_a_planted_attribute_effect_multiplies_the_odds_of_its_category_only(households):
    truth = Truth(model="model2", attribute_effect=AttributeEffect(attribute="nationality", category="NON_EU", odds=1.5))
    p = probabilities(households, truth)
    assert logit(p["a"]) == pytest.approx(INTERCEPTS["model2"] + math.log(1.5), abs=1e-9)
    assert logit(p["b"]) == pytest.approx(INTERCEPTS["model2"] + math.log(0.3), abs=1e-9)


def test_the_target_draw_follows_the_probability(spark):
    rows = spark.range(4000).select(F.format_string("%05d", "id").alias("household_id"),
                                    F.lit(date(2025, 6, 3)).alias("control_date"))
    share = rows.where(is_target(F.lit(0.3), seed=1)).count() / 4000
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 4000)


# --- outcomes ----------------------------------------------------------------------------

def test_outcomes_are_coherent_with_the_target(spark):
    """In the target: >= 600 € over >= 6 months; outside: smaller or shorter, or an
    underpayment, or nothing (never both); fraud only with an overpayment."""
    target = SPEC.target
    controls = spark.range(6000).select(F.format_string("%05d", "id").alias("household_id"),
                                        F.lit(date(2025, 6, 3)).alias("control_date"),
                                        (F.col("id") % 2 == 0).alias("drawn_target"))
    found = with_outcomes(controls, F.col("drawn_target"), SYNTH.outcomes, target, seed=4).cache()
    in_target = (F.col("overpayment_eur") >= target.overpayment_min_eur) & (
        F.col("overpayment_months") >= target.overpayment_min_months)
    assert found.where(in_target != F.col("drawn_target")).count() == 0
    over, under = F.col("overpayment_eur") > 0, F.col("underpayment_eur") > 0
    assert found.where(over & under).count() == 0
    assert found.where(F.col("fraud") & ~over).count() == 0
    assert found.where(over != (F.col("overpayment_months") > 0)).count() == 0
    assert found.where(F.col("overpayment_months") > SYNTH.outcomes.max_months).count() == 0
    outside = found.where(~F.col("drawn_target"))
    assert outside.where(over).count() / outside.count() == pytest.approx(SYNTH.outcomes.other_overpayment, abs=0.03)
    assert outside.where(under).count() / outside.count() == pytest.approx(SYNTH.outcomes.underpayment, abs=0.03)
    assert found.where(F.col("drawn_target") & F.col("fraud")).count() / 3000 == pytest.approx(
        SYNTH.outcomes.fraud_given_target, abs=0.03)
    found.unpersist()


def test_a_quarter_of_the_amounts_regularised_are_underpayments():
    """« Un quart des montants régularisés sont des rappels. » at the OPBD target rate, and
    fraud near 7 % of controls in the target 40 % of the time (the past DMDE controls)."""
    outcomes, target = SYNTH.outcomes, SPEC.target
    over, under = outcomes.expected_amounts(target, target.published_rate)
    assert under / (over + under) == pytest.approx(0.25, abs=0.02)
    dmde = SYNTH.controls.target_rate["DMDE"]
    fraud = dmde * outcomes.fraud_given_target + (1 - dmde) * outcomes.other_overpayment \
        * outcomes.fraud_given_other_overpayment
    assert fraud == pytest.approx(0.07, abs=0.01)


# --- names checked on load ----------------------------------------------------------------

@pytest.fixture
def conf_dir(tmp_path, monkeypatch):
    shutil.copytree(DEFAULT_CONF_DIR, tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    return Path("conf")


BROKEN_TRUTH = {
    "unknown model": ({"model": "model3"}, "conf/synth.yaml: truth.model: must be 'blend' or a model of dmde_2025"),
    "unknown variable": ({"odds_ratios": [{"variable": "gender", "modality": "x", "odds_ratio": 2}]},
                         "conf/synth.yaml: truth.odds_ratios[0].variable: no variable 'gender'"),
    "unknown modality": ({"odds_ratios": [{"variable": "guardianship", "modality": "maybe", "odds_ratio": 2}]},
                         "conf/synth.yaml: truth.odds_ratios[0].modality: no modality 'maybe' of guardianship"),
    "variable of another model": ({"model": "model2", "odds_ratios": [
        {"variable": "mean_af", "modality": "zero", "odds_ratio": 2}]},
        "conf/synth.yaml: truth.odds_ratios[0].variable: mean_af is in none of the truth's models (model2)"),
    "unknown attribute": ({"attribute_effect": {"attribute": "religion", "category": "X", "odds": 2}},
                          "conf/synth.yaml: truth.attribute_effect.attribute: no attribute 'religion'"),
    "unknown category": ({"attribute_effect": {"attribute": "nationality", "category": "US", "odds": 2}},
                         "conf/synth.yaml: truth.attribute_effect.category: no category 'US' of nationality"),
}


@pytest.mark.parametrize("truth, message", BROKEN_TRUTH.values(), ids=BROKEN_TRUTH.keys())
def test_the_truth_names_what_exists(conf_dir, truth, message):
    path = conf_dir / "synth.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["truth"].update(truth)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(conf_dir=conf_dir).synth()
    assert message in str(raised.value)
