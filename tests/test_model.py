"""transforms.model: the model file applied to features (DMDE.md §3–§4).

Modalities from the file's bands and codes, each model's log-odds over its own
variables only, the prorata-temporis weight of model 2, the explanation, and four
households worked by hand whose probabilities and scores are pinned, so that a refactor
cannot move them silently. Each group of cases is computed in one Spark job.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from domain.errors import ConfigError
from domain.model import Intercept
from jobs.lib.config import load_config
from transforms.model import (
    log_odds_ratio,
    modality,
    after_weight,
    probability,
    score,
    unmatched,
    with_modalities,
)

M = date(2026, 1, 1)
B0_MODEL1, B0_MODEL2 = -2.0, -2.2
EARLY_CAF, OTHER_CAF = "06", "75"  # pre-filling from 2024-10-01 and from 2025-03-01

# The inputs of the model file, typed as compute_features writes them.
INPUTS = {
    "activity_code": "string", "n_children_19_plus": "bigint", "children_activity_code": "string",
    "guardianship_code": "string", "mean_total_benefits_eur": "decimal(16,4)", "mean_af_eur": "decimal(16,4)",
    "mean_cf_eur": "decimal(16,4)", "mean_pa_eur": "decimal(16,4)", "mean_rsa_eur": "decimal(16,4)",
    "resources_smic_ratio": "double", "allowance_code": "string", "alimony_code": "string",
    "n_self_employment_changes": "bigint", "n_self_employment_practice": "bigint", "corrections_code": "string",
    "n_conlogetu": "bigint", "n_proacc": "bigint", "n_volsoc": "bigint", "n_rsa_changes": "int",
}
INPUTS_DDL = ", ".join(f"{name} {kind}" for name, kind in INPUTS.items())
d = Decimal


def intercept(value: float) -> Intercept:
    return Intercept(value=value, sample_size=6000, score_month=date(2025, 12, 1),
                     computed_at=datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc), method="fixed for the tests")


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def spec(config):
    return (config.model.with_intercept("model1", intercept(B0_MODEL1))
            .with_intercept("model2", intercept(B0_MODEL2)))


def test_intercepts_shifted_moves_every_model_and_nothing_else(spec):
    shifted = spec.with_intercepts_shifted(0.4)
    assert shifted.intercepts() == {"model1": B0_MODEL1 + 0.4, "model2": B0_MODEL2 + 0.4}
    assert shifted.variables == spec.variables and spec.intercepts() == {"model1": B0_MODEL1, "model2": B0_MODEL2}


def test_model_file_sizes(spec):
    """Model 1 = variables 1–13 and 16–19 (17), model 2 = 1, 2, 4, 5, 8, 10, 14, 15, 16, 18, 19 (11)."""
    assert [v.name for v in spec.variables_of("model1")] == [
        "activity", "child_19_plus", "children_activity", "guardianship", "mean_total_benefits", "mean_af",
        "mean_cf", "mean_pa", "mean_rsa", "resources_smic", "allowance_neutralisation", "alimony",
        "self_employment_change", "conlogetu", "proacc", "volsoc", "rsa_changes"]
    assert [v.name for v in spec.variables_of("model2")] == [
        "activity", "child_19_plus", "guardianship", "mean_total_benefits", "mean_pa", "resources_smic",
        "self_employment_practice", "corrections", "conlogetu", "volsoc", "rsa_changes"]
    assert {v.input for v in spec.variables} == set(INPUTS)


def test_uncalibrated_intercept_is_an_error(config):
    """The intercept comes from the model file, never from code: none there is an error."""
    with pytest.raises(ConfigError, match="not calibrated yet"):
        probability(config.model, "model1")


# ---------------------------------------------------------------------------------------
# Modalities

BANDED_EDGES = [
    # exact 0 first, then [lower, upper): lower inclusive, upper exclusive
    ("child_19_plus", 0, "no"), ("child_19_plus", 1, "yes"), ("child_19_plus", 3, "yes"),
    ("mean_total_benefits", d("0"), "lt_200"), ("mean_total_benefits", d("199.9999"), "lt_200"),
    ("mean_total_benefits", d("200"), "200_1400"), ("mean_total_benefits", d("1399.9999"), "200_1400"),
    ("mean_total_benefits", d("1400"), "ge_1400"),
    ("mean_af", d("0"), "zero"), ("mean_af", d("0.0001"), "lt_155"), ("mean_af", d("154.9999"), "lt_155"),
    ("mean_af", d("155"), "155_335"), ("mean_af", d("334.9999"), "155_335"), ("mean_af", d("335"), "335_525"),
    ("mean_af", d("524.9999"), "335_525"), ("mean_af", d("525"), "ge_525"),
    ("mean_cf", d("0"), "zero"), ("mean_cf", d("190.9999"), "lt_191"), ("mean_cf", d("191"), "191_195"),
    ("mean_cf", d("194.9999"), "191_195"), ("mean_cf", d("195"), "ge_195"),
    ("mean_pa", d("0"), "zero"), ("mean_pa", d("149.9999"), "lt_150"), ("mean_pa", d("150"), "150_250"),
    ("mean_pa", d("249.9999"), "150_250"), ("mean_pa", d("250"), "ge_250"),
    ("mean_rsa", d("0"), "zero"), ("mean_rsa", d("544.9999"), "lt_545"), ("mean_rsa", d("545"), "545_560"),
    ("mean_rsa", d("559.9999"), "545_560"), ("mean_rsa", d("560"), "ge_560"),
    ("resources_smic", 0.0, "zero"), ("resources_smic", 1e-9, "lt_0_4"), ("resources_smic", 0.3999999, "lt_0_4"),
    ("resources_smic", 0.4, "0_4_0_6"), ("resources_smic", 0.5999999, "0_4_0_6"), ("resources_smic", 0.6, "0_6_1"),
    ("resources_smic", 0.9999999, "0_6_1"), ("resources_smic", 1.0, "1_1_5"),
    ("resources_smic", 1.4999999, "1_1_5"), ("resources_smic", 1.5, "1_5_2"),
    ("resources_smic", 1.9999999, "1_5_2"), ("resources_smic", 2.0, "ge_2"), ("resources_smic", 9.5, "ge_2"),
    ("self_employment_change", 0, "no"), ("self_employment_change", 1, "yes"),
    ("self_employment_practice", 0, "no"), ("self_employment_practice", 2, "yes"),
    ("conlogetu", 0, "none"), ("conlogetu", 1, "one_or_more"), ("proacc", 0, "none"), ("proacc", 4, "one_or_more"),
    ("volsoc", 0, "none"), ("volsoc", 1, "one_or_more"),
    ("rsa_changes", 0, "0"), ("rsa_changes", 1, "1"), ("rsa_changes", 2, "2_plus"), ("rsa_changes", 7, "2_plus"),
    # out of range or missing: no modality, never a catch-all
    ("mean_total_benefits", d("-0.0001"), None), ("mean_af", d("-5"), None), ("resources_smic", -0.1, None),
    ("child_19_plus", None, None), ("rsa_changes", None, None),
]

CATEGORICAL_CODES = [
    *[("activity", code, code) for code in ("other", "partner_inactive", "dual_earner", "retired")],
    *[("children_activity", code, code) for code in ("none_working_age", "student", "employed", "other",
                                                      "inactive")],
    ("guardianship", "no", "no"), ("guardianship", "yes", "yes"),
    *[("allowance_neutralisation", code, code) for code in ("none", "w12", "w24_only")],
    *[("alimony", code, code) for code in ("not_concerned", "yes", "no")],
    ("corrections", "other", "other"), ("corrections", "flagged", "flagged"),
    # unknown codes: no modality
    ("activity", "RETIRED", None), ("activity", "single", None), ("children_activity", None, None),
    ("guardianship", "true", None), ("alimony", "oui", None), ("corrections", "FLAGGED", None),
]


def case_id(variable, value) -> str:
    return f"{variable}={value}"


@pytest.fixture(scope="module")
def modalities(spark, spec):
    """Every modality case as a row holding only its variable's input: one Spark job."""
    inputs = list(INPUTS)
    rows = []
    for variable, value, _ in BANDED_EDGES + CATEGORICAL_CODES:
        row = dict.fromkeys(inputs)
        row[spec.variable(variable).input] = value
        rows.append((case_id(variable, value), *row.values()))
    frame = spark.createDataFrame(rows, f"case_id string, {INPUTS_DDL}")
    result = frame.select("case_id", *[modality(v).alias(v.name) for v in spec.variables]).collect()
    return {row.case_id: row for row in result}


@pytest.mark.parametrize("variable, value, code", [
    pytest.param(*case, id=case_id(*case[:2])) for case in BANDED_EDGES])
def test_banded_modality_edges(modalities, variable, value, code):
    assert modalities[case_id(variable, value)][variable] == code


@pytest.mark.parametrize("variable, value, code", [
    pytest.param(*case, id=case_id(*case[:2])) for case in CATEGORICAL_CODES])
def test_categorical_codes(modalities, variable, value, code):
    assert modalities[case_id(variable, value)][variable] == code


# ---------------------------------------------------------------------------------------
# Households: both models, the blend, the explanation

# Every variable in its reference modality (odds ratio 1 in both models).
REFERENCE = dict(
    activity_code="other", n_children_19_plus=0, children_activity_code="none_working_age",
    guardianship_code="no", mean_total_benefits_eur=d("150.0000"), mean_af_eur=d(0), mean_cf_eur=d(0),
    mean_pa_eur=d(0), mean_rsa_eur=d(0), resources_smic_ratio=0.3, allowance_code="none",
    alimony_code="not_concerned", n_self_employment_changes=0, n_self_employment_practice=0,
    corrections_code="other", n_conlogetu=0, n_proacc=0, n_volsoc=0, n_rsa_changes=0)

HOUSEHOLDS = {
    # A. Retired couple, housing benefit only, resources 2.3 × SMIC. Caf 75: w2 = 10/24.
    #   model 1: ln 0.8 (retired) + ln 0.5 (≥ 2 SMIC) = -0.223144 - 0.693147 = -0.916291
    #            logit = -2.0 - 0.916291 = -2.916291 → p1 = 1 / (1 + e^2.916291) = 0.051354104
    #   model 2: ln 0.6 (retired) + ln 0.4 (≥ 2 SMIC) = -0.510826 - 0.916291 = -1.427116
    #            logit = -2.2 - 1.427116 = -3.627116 → p2 = 0.025903902
    #   score = 14/24 · 0.051354104 + 10/24 · 0.025903902 = 0.040749853
    #   No variable raises the risk: no explanation.
    "A-retired-couple": (OTHER_CAF, dict(
        activity_code="retired", mean_total_benefits_eur=d("150.0000"), resources_smic_ratio=2.3)),
    # B. Single parent on RSA, a 17-year-old at school, 2 RSA changes. Caf 06: w2 = 15/24.
    #   model 1: ln 1.2 (child other) + ln 1.5 (total 200–1 400) + ln 1.2 (PA < 150) + ln 1.2 (RSA 545–560)
    #            + ln 1.2 (allowance in W12) + ln 1.9 (alimony no) + ln 0.9 (PROACC) + ln 1.3 (RSA 2+)
    #          = 0.182322 + 0.405465 + 0.182322 + 0.182322 + 0.182322 + 0.641854 - 0.105361 + 0.262364
    #          = 1.933609; logit = -0.066391 → p1 = 0.483408336
    #   model 2: ln 1.8 (total) + ln 1.5 (PA) + ln 1.8 (RSA 2+) = 0.587787 + 0.405465 + 0.587787
    #          = 1.581038; logit = -0.618962 → p2 = 0.350017665
    #   score = 9/24 · 0.483408336 + 15/24 · 0.350017665 = 0.400039167
    #   Blended ln OR: total 9/24·0.405465 + 15/24·0.587787 = 0.519416 (OR 1.681046),
    #   RSA changes 9/24·0.262364 + 15/24·0.587787 = 0.465753 (OR 1.593214),
    #   PA 9/24·0.182322 + 15/24·0.405465 = 0.321786 (OR 1.379590), then alimony 0.240695.
    "B-rsa-single-parent": (EARLY_CAF, dict(
        children_activity_code="other", mean_total_benefits_eur=d("905.0000"), mean_pa_eur=d("95.0000"),
        mean_rsa_eur=d("552.0000"), resources_smic_ratio=0.31, allowance_code="w12", alimony_code="no",
        n_proacc=1, n_rsa_changes=2)),
    # C. Dual-earner couple, a 20-year-old student, the partner turned self-employed, two
    #    unverified downward corrections, CONLOGETU and VOLSOC. Caf 75: w2 = 10/24.
    #   model 1: ln 0.8 (dual) + ln 1.5 (child 19+) + ln 1.5 (student) + ln 1.5 (total) + ln 0.9 (AF 155–335)
    #            + ln 1.1 (1–1.5 SMIC) + ln 1.8 (self-employment change) + ln 1.8 (CONLOGETU) + ln 0.7 (VOLSOC)
    #          = -0.223144 + 0.405465 · 3 - 0.105361 + 0.095310 + 0.587787 · 2 - 0.356675
    #          = 1.802100; logit = -0.197900 → p1 = 0.450685798
    #   model 2: ln 0.8 + ln 2.1 (child 19+) + ln 1.8 (total) + ln 1 (1–1.5 SMIC) + ln 1.8 (practice)
    #            + ln 2.9 (corrections) + ln 1.21 (CONLOGETU) + ln 0.6 (VOLSOC)
    #          = -0.223144 + 0.741937 + 0.587787 + 0 + 0.587787 + 1.064711 + 0.190620 - 0.510826
    #          = 2.438873; logit = 0.238873 → p2 = 0.559435800
    #   score = 14/24 · 0.450685798 + 10/24 · 0.559435800 = 0.495998299
    #   Blended ln OR: child 19+ 14/24·0.405465 + 10/24·0.741937 = 0.545662 (OR 1.725750),
    #   total 14/24·0.405465 + 10/24·0.587787 = 0.481432 (OR 1.618391),
    #   corrections 10/24·1.064711 = 0.443629 (OR 1.558353), then CONLOGETU 0.422301.
    "C-dual-earner-family": (OTHER_CAF, dict(
        activity_code="dual_earner", n_children_19_plus=1, children_activity_code="student",
        mean_total_benefits_eur=d("420.0000"), mean_af_eur=d("290.0000"), resources_smic_ratio=1.2,
        n_self_employment_changes=1, n_self_employment_practice=1, corrections_code="flagged",
        n_conlogetu=1, n_volsoc=1)),
    # D. Under an institutional guardian, 1 650 € of benefits a month, no resources. Caf 06: w2 = 15/24.
    #   model 1: ln 0.3 + ln 1.9 = -1.203973 + 0.641854 = -0.562119; logit = -2.562119 → p1 = 0.071616533
    #   model 2: ln 0.3 + ln 2.9 = -1.203973 + 1.064711 = -0.139262; logit = -2.339262 → p2 = 0.087923074
    #   score = 9/24 · 0.071616533 + 15/24 · 0.087923074 = 0.081808121
    #   One raising factor: total ≥ 1 400, 9/24·0.641854 + 15/24·1.064711 = 0.906139 (OR 2.474750).
    "D-guardianship": (EARLY_CAF, dict(
        guardianship_code="yes", mean_total_benefits_eur=d("1650.0000"), resources_smic_ratio=0.0)),
    # Model-1-only variables raised: model 2 sees the intercept alone, p2 = 1 / (1 + e^2.2).
    #   model 1: ln(1.5 · 0.9 · 1.9 · 1.3 · 1.2 · 1.9 · 1.8 · 0.9) = 2.510924 → p1 = 0.625023135
    "only-model1": (OTHER_CAF, dict(
        children_activity_code="student", mean_af_eur=d("200.0000"), mean_cf_eur=d("100.0000"),
        mean_rsa_eur=d("300.0000"), allowance_code="w12", alimony_code="yes", n_self_employment_changes=1,
        n_proacc=1)),
    # Model-2-only variables raised: p1 = 1 / (1 + e^2), p2 = sigmoid(-2.2 + ln 1.8 + ln 2.9).
    "only-model2": (OTHER_CAF, dict(n_self_employment_practice=1, corrections_code="flagged")),
    "reference": (OTHER_CAF, {}),
    "unknown-activity": (OTHER_CAF, dict(activity_code="single")),
    "missing-rsa-changes": (OTHER_CAF, dict(n_rsa_changes=None)),
    "negative-benefits": (OTHER_CAF, dict(mean_total_benefits_eur=d("-10.0000"))),
}


@pytest.fixture(scope="module")
def scored_frame(spark, spec, config):
    """with_modalities, unmatched and score over HOUSEHOLDS, computed once."""
    rows = [(household_id, caf, config.caf(caf).prefill_start, *({**REFERENCE, **inputs}[k] for k in INPUTS))
            for household_id, (caf, inputs) in HOUSEHOLDS.items()]
    features = spark.createDataFrame(rows, f"household_id string, caf string, prefill_start date, {INPUTS_DDL}")
    corrections = spec.variable("corrections")
    with_mods = with_modalities(features, spec).select(
        "*", unmatched(spec).alias("unmatched"),
        log_odds_ratio(corrections, "model1").alias("corrections_ln_or_model1"),
        log_odds_ratio(corrections, "model2").alias("corrections_ln_or_model2"))
    frame = score(with_mods, spec, M).cache()
    yield frame
    frame.unpersist()


@pytest.fixture(scope="module")
def scored(scored_frame):
    return {row.household_id: row for row in scored_frame.collect()}


@pytest.mark.parametrize("household_id, p_model1, p_model2, w_model2, final", [
    ("A-retired-couple", 0.051354104, 0.025903902, 10 / 24, 0.040749853),
    ("B-rsa-single-parent", 0.483408336, 0.350017665, 15 / 24, 0.400039167),
    ("C-dual-earner-family", 0.450685798, 0.559435800, 10 / 24, 0.495998299),
    ("D-guardianship", 0.071616533, 0.087923074, 15 / 24, 0.081808121),
])
def test_hand_worked_households(scored, household_id, p_model1, p_model2, w_model2, final):
    row = scored[household_id]
    assert row.p_model1 == pytest.approx(p_model1, abs=1e-9)
    assert row.p_model2 == pytest.approx(p_model2, abs=1e-9)
    assert row.w_model2 == pytest.approx(w_model2, abs=1e-15)
    assert row.score == pytest.approx(final, abs=1e-9)


def test_hand_worked_modalities(spark, spec, scored_frame):
    """All 19 modalities of the hand-worked households, as the comments above read them."""
    names = [v.name for v in spec.variables]
    expected = spark.createDataFrame([
        ("A-retired-couple", "retired", "no", "none_working_age", "no", "lt_200", "zero", "zero", "zero", "zero",
         "ge_2", "none", "not_concerned", "no", "no", "other", "none", "none", "none", "0"),
        ("B-rsa-single-parent", "other", "no", "other", "no", "200_1400", "zero", "zero", "lt_150", "545_560",
         "lt_0_4", "w12", "no", "no", "no", "other", "none", "one_or_more", "none", "2_plus"),
        ("C-dual-earner-family", "dual_earner", "yes", "student", "no", "200_1400", "155_335", "zero", "zero",
         "zero", "1_1_5", "none", "not_concerned", "yes", "yes", "flagged", "one_or_more", "none", "one_or_more",
         "0"),
        ("D-guardianship", "other", "no", "none_working_age", "yes", "ge_1400", "zero", "zero", "zero", "zero",
         "zero", "none", "not_concerned", "no", "no", "other", "none", "none", "none", "0"),
    ], ", ".join(["household_id string", *[f"{name} string" for name in names]]))
    hand_worked = [h for h in HOUSEHOLDS if h[:2] in ("A-", "B-", "C-", "D-")]
    actual = scored_frame.where(F.col("household_id").isin(*hand_worked)).select(*expected.columns)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_log_odds_sum_only_the_models_variables(scored):
    only1, only2, reference = scored["only-model1"], scored["only-model2"], scored["reference"]
    assert only1.p_model1 == pytest.approx(0.625023135, abs=1e-9)
    assert only1.p_model2 == pytest.approx(sigmoid(B0_MODEL2), abs=1e-15)
    assert only2.p_model1 == pytest.approx(sigmoid(B0_MODEL1), abs=1e-15)
    assert only2.p_model2 == pytest.approx(sigmoid(B0_MODEL2 + math.log(1.8) + math.log(2.9)), abs=1e-15)
    assert (reference.p_model1, reference.p_model2) == pytest.approx((sigmoid(B0_MODEL1), sigmoid(B0_MODEL2)),
                                                                     abs=1e-15)
    assert (only2.corrections_ln_or_model1, only2.corrections_ln_or_model2) == pytest.approx(
        (0.0, math.log(2.9)), abs=1e-15)


@pytest.mark.parametrize("household_id, variable", [
    ("unknown-activity", "activity"), ("missing-rsa-changes", "rsa_changes"),
    ("negative-benefits", "mean_total_benefits"),
])
def test_unmatched_input_has_no_modality_and_no_score(scored, household_id, variable):
    row = scored[household_id]
    assert row[variable] is None
    assert row.unmatched is True
    assert (row.p_model1, row.p_model2, row.score) == (None, None, None)


def test_matched_household_is_not_unmatched(scored):
    assert sorted(h for h, row in scored.items() if row.unmatched) == [
        "missing-rsa-changes", "negative-benefits", "unknown-activity"]


# ---------------------------------------------------------------------------------------
# The explanation

TOTAL = "Montant moyen de prestations perçues sur les 12 derniers mois"


@pytest.mark.parametrize("household_id, factors", [
    ("B-rsa-single-parent", [
        ("mean_total_benefits", f"{TOTAL} : Compris entre 200 € et 1 400 € par mois", 1.681045769),
        ("rsa_changes", "Nombre de changements de droit au RSA dans les 24 derniers mois "
                        "(aller-retour dans la prestation) : 2 ou plus", 1.593213849),
        ("mean_pa", "Montant moyen de prime d'activité (PA) perçue sur les 12 derniers mois : "
                    "Inférieur à 150 € par mois", 1.379589893)]),
    ("C-dual-earner-family", [
        ("child_19_plus", "Présence d'au moins un enfant âgé de plus de 19 ans dans le foyer : Oui", 1.725750233),
        ("mean_total_benefits", f"{TOTAL} : Compris entre 200 € et 1 400 € par mois", 1.618390964),
        ("corrections", "Fréquence et montant moyen de signalements qui ne sont pas vérifiés par la Caf dans "
                        "les 12 derniers mois : Au moins 2 déclarations de ressources avec un signalement de "
                        "ressource à la baisse de plus de 150 € en moyenne", 1.558352968)]),
    ("D-guardianship", [
        ("mean_total_benefits", f"{TOTAL} : Supérieur à 1 400 € par mois", 2.474750092),
        (None, None, None), (None, None, None)]),
    ("A-retired-couple", [(None, None, None)] * 3),
    ("reference", [(None, None, None)] * 3),
])
def test_risk_factors_largest_blended_ln_or(scored, household_id, factors):
    row = scored[household_id]
    for i, (variable, label, odds_ratio) in enumerate(factors, start=1):
        assert row[f"factor_{i}"] == variable
        assert row[f"factor_{i}_label"] == label
        if odds_ratio is None:
            assert row[f"factor_{i}_odds_ratio"] is None
        else:
            assert row[f"factor_{i}_odds_ratio"] == pytest.approx(odds_ratio, abs=1e-9)


# ---------------------------------------------------------------------------------------
# Prorata temporis

WEIGHT_MONTHS = [date(2023, 1, 1), date(2024, 10, 1), date(2024, 11, 1), date(2025, 3, 1), date(2025, 4, 1),
                 date(2026, 1, 1), date(2027, 2, 1), date(2027, 3, 1), date(2030, 1, 1)]


@pytest.fixture(scope="module")
def weights(spark, config):
    """w2 of every Caf for each month of WEIGHT_MONTHS: one Spark job."""
    cafs = spark.createDataFrame([(c.code, c.prefill_start) for c in config.cafs],
                                 "caf string, prefill_start date")
    result = cafs.select("caf", *[after_weight(config.model, m, F.col("prefill_start")).alias(m.isoformat())
                                  for m in WEIGHT_MONTHS]).collect()
    return {row.caf: row for row in result}


@pytest.mark.parametrize("score_month, caf, w2", [
    pytest.param(date(2026, 1, 1), EARLY_CAF, 15 / 24, id="2026-01, Caf 06: 2024-10 to 2025-12"),
    pytest.param(date(2026, 1, 1), OTHER_CAF, 10 / 24, id="2026-01, Caf 75: 2025-03 to 2025-12"),
    pytest.param(date(2027, 2, 1), OTHER_CAF, 23 / 24, id="2027-02, Caf 75: M-24 = 2025-02 is before"),
    pytest.param(date(2027, 2, 1), EARLY_CAF, 1.0, id="2027-02, Caf 06"),
    pytest.param(date(2027, 3, 1), OTHER_CAF, 1.0, id="2027-03, Caf 75"),
    pytest.param(date(2024, 10, 1), EARLY_CAF, 0.0, id="2024-10, Caf 06: W24 ends before pre-filling"),
    pytest.param(date(2024, 11, 1), EARLY_CAF, 1 / 24, id="2024-11, Caf 06: first month"),
    pytest.param(date(2025, 3, 1), OTHER_CAF, 0.0, id="2025-03, Caf 75: W24 ends before pre-filling"),
    pytest.param(date(2025, 4, 1), OTHER_CAF, 1 / 24, id="2025-04, Caf 75: first month"),
    pytest.param(date(2023, 1, 1), OTHER_CAF, 0.0, id="2023-01: long before"),
])
def test_model2_weight(weights, score_month, caf, w2):
    assert weights[caf][score_month.isoformat()] == pytest.approx(w2, abs=1e-15)


def test_model2_weight_is_one_everywhere_from_2027_03(weights):
    assert {row["2027-03-01"] for row in weights.values()} == {1.0}
    assert {row["2030-01-01"] for row in weights.values()} == {1.0}
    assert {row["2027-02-01"] for row in weights.values()} == {23 / 24, 1.0}
