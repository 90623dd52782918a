"""`dmde whatif`: households of a file scored by the scoring's own transforms.

- households of the shared population's scored month, described in source terms from
  their source rows, get exactly the modalities and scores `dmde score` gave them;
- a household given by its modalities gets the probability computed by hand from the
  model file;
- every malformed input is one line naming the household, the key and the problem;
- the "what would change it" change is the best single change (brute force);
- `dmde whatif conf/personas.yaml` prints every persona, and `--json` parses.
"""
from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml
from chispa import assert_df_equality
from pyspark.sql import functions as F

from domain.calendar import Span
from domain.errors import ConfigError
from domain.model import Intercept
from domain.whatif import SCORED_EVENTS
from jobs.cli import main
from jobs.lib.config import load_config
from jobs.lib.whatif import WhatIfError, load_whatif, modalities_of, score_whatif
from transforms import whatif as whatif_transforms

ROOT = Path(__file__).resolve().parents[1]
PERSONAS = ROOT / "conf" / "personas.yaml"
M = date(2026, 2, 1)
B0_MODEL1, B0_MODEL2 = -2.0, -2.2
W_CAF_75 = 11 / 24  # 2026-02: W24 = 2024-02 … 2026-01, from the Caf's pre-filling start 2025-03: 11 months


def intercept(value: float) -> Intercept:
    return Intercept(value=value, sample_size=6000, score_month=date(2025, 12, 1),
                     computed_at=datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc), method="fixed for the tests")


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    """A configuration whose data directory has no tables, and the model file with fixed intercepts."""
    config = load_config(env="local", overrides={"data_dir": str(tmp_path_factory.mktemp("whatif-empty"))})
    spec = config.model.with_intercept("model1", intercept(B0_MODEL1)).with_intercept("model2", intercept(B0_MODEL2))
    return config, spec


def write(tmp_path: Path, document: dict | str, name: str = "whatif.yaml") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False),
                    encoding="utf-8")
    return path


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def by_hand(spec, codes: dict[str, str], weight: float) -> tuple[float, float, float]:
    """p_model1, p_model2 and the score of a household in `codes` (every variable), from the
    model file's odds ratios."""
    def p(model: str, b0: float) -> float:
        return sigmoid(b0 + sum(math.log(v.modality(codes[v.name]).odds_ratio[model])
                                for v in spec.variables if v.in_model(model)))
    p1, p2 = p("model1", B0_MODEL1), p("model2", B0_MODEL2)
    return p1, p2, (1 - weight) * p1 + weight * p2


# ---------------------------------------------------------------------------------------
# (1) Households of a scored month, described in source terms, score as `dmde score` scored them


def described(households, members, payments, declarations, events) -> dict:
    """A household's source rows (as Rows) in the terms of a what-if file."""
    snapshot = max(households, key=lambda r: r.month)
    by_member: dict[str, list] = {}
    for row in members:
        by_member.setdefault(row.member_id, []).append(row)
    return {
        "id": snapshot.household_id,
        "caf": snapshot.caf,
        "couple": snapshot.couple,
        "guardianship": snapshot.guardianship,
        "resources": [{"month": f"{r.month:%Y-%m}", "amount_eur": float(r.resources_eur)} for r in households],
        "members": [{"role": spells[0].role, "birth_date": spells[0].birth_date,
                     "spells": [{**({"activity": s.activity} if s.activity is not None else {}),
                                 "valid_from": s.valid_from,
                                 **({"valid_to": s.valid_to} if s.valid_to is not None else {})}
                                for s in sorted(spells, key=lambda s: s.valid_from)]}
                    for _, spells in sorted(by_member.items())],
        "payments": [{"benefit": r.benefit, "month": f"{r.month:%Y-%m}", "amount_eur": float(r.amount_eur)}
                     for r in payments],
        "declarations": [{"quarter_start": f"{r.quarter_start:%Y-%m}", "declared_eur": float(r.declared_eur),
                          **({"prefilled_eur": float(r.prefilled_eur)} if r.prefilled_eur is not None else {}),
                          "alimony": r.alimony, "self_employment_eur": float(r.self_employment_eur),
                          "corrected": r.corrected, "verified": r.verified} for r in declarations],
        # codes no variable reads have no effect: a what-if file refuses them
        "events": [{"code": r.code, "date": r.event_date} for r in events if r.code in SCORED_EVENTS],
    }


@pytest.fixture(scope="module")
def from_the_month(spark, population, tmp_path_factory):
    """Three households of the population's scored month, each with something to compute
    (RSA changes and DTRs; a couple with working-age children or self-employment; a Caf
    that pre-filled early when there is one), described from the source rows the score run used."""
    from jobs.lib import delta
    from jobs.lib.models import load_scoring_model
    from jobs.lib.publish import published_run, read_published
    from jobs.lib.sources import read_sources
    from jobs.lib.validation import as_validated

    config, month = population.config, population.month
    features = read_published(spark, config, "features", month)
    scores = read_published(spark, config, "scores", month)
    picks = []
    for condition in [(F.col("n_rsa_changes") >= 1) & (F.col("n_dtr_w24") > 0),
                      F.col("couple") & ((F.col("n_children_16_plus") > 0) | (F.col("n_self_employment_practice") > 0)),
                      F.col("caf").isin("06", "10", "34", "64", "85"),
                      F.lit(True)]:
        candidates = (features.join(delta.read(spark, config.source_path("households"),
                                               where={"month": [date(2026, 1, 1)]}).select("household_id", "couple"),
                                    on="household_id", how="inner")
                      .where(condition & ~F.col("household_id").isin(*picks))
                      .orderBy("household_id").limit(1).collect())
        if candidates and len(picks) < 3:
            picks.append(candidates[0].household_id)
    assert len(picks) == 3

    cal = config.calendar(month)
    run = published_run(spark, config, "runs", month, "score")
    sources = as_validated(spark, config, read_sources(spark, config, Span.of(cal), with_controls=False).as_dict(),
                           Span.of(cal), month, run.run_id)
    rows = {name: df.where(F.col("household_id").isin(*picks)).collect() for name, df in sources.items()}
    document = {"month": f"{month:%Y-%m}", "households": [
        described(*[[r for r in rows[t] if r.household_id == h]
                    for t in ("households", "members", "payments", "declarations", "events")]) for h in picks]}
    path = write(tmp_path_factory.mktemp("from-the-month"), document)
    spec = load_scoring_model(config)
    what = load_whatif(path, config, spec)
    return {"config": config, "spec": spec, "what": what, "picks": picks, "results": score_whatif(spark, config, spec, what),
            "features": features.where(F.col("household_id").isin(*picks)),
            "scores": scores, "picked_scores": {r.household_id: r for r in scores.where(
                F.col("household_id").isin(*picks)).collect()}}


def test_households_of_a_scored_month_get_the_modalities_of_the_features_table(spark, from_the_month):
    spec, what = from_the_month["spec"], from_the_month["what"]
    names = ["score_month", "caf", "household_id", *[v.name for v in spec.variables]]
    actual = modalities_of(spark, from_the_month["config"], spec, what).select(*names)
    assert_df_equality(actual, from_the_month["features"].select(*names), ignore_row_order=True,
                       ignore_nullable=True)


def test_households_of_a_scored_month_score_exactly_as_in_scores(from_the_month):
    results = {r["id"]: r for r in from_the_month["results"]}
    assert sorted(results) == sorted(from_the_month["picks"])
    for household_id, expected in from_the_month["picked_scores"].items():
        result = results[household_id]
        for column in ("p_model1", "p_model2", "w_model2", "score"):
            assert abs(result[column] - expected[column]) <= 1e-12, (household_id, column)


def test_the_place_in_the_caf_is_the_rank_of_the_first_household_with_that_score(from_the_month):
    """rank = 1 + the Caf's households with a higher score: among equal scores, the first
    rank_in_caf; percentile as `scores` computes it."""
    scores = from_the_month["scores"]
    for result in from_the_month["results"]:
        place = result["place_in_caf"]
        assert place["status"] == "scored"
        expected = scores.where((F.col("caf") == result["caf"]) & (F.col("score") == result["score"])) \
            .agg(F.min("rank_in_caf").alias("rank"), F.first("households_in_caf").alias("n")).first()
        assert (place["rank_in_caf"], place["households_in_caf"]) == (expected.rank, expected.n)
        assert place["percentile_in_caf"] == math.ceil(100 * expected.rank / expected.n)


# ---------------------------------------------------------------------------------------
# (2) A household given by its modalities: the probability by hand

GIVEN = {"activity": "partner_inactive", "mean_pa": "ge_250", "resources_smic": "0_6_1", "rsa_changes": "1",
         "conlogetu": "one_or_more", "corrections": "flagged"}


@pytest.fixture(scope="module")
def given(spark, fixed, tmp_path_factory):
    config, spec = fixed
    path = write(tmp_path_factory.mktemp("given"), {"month": "2026-02", "households": [
        {"id": "given", "caf": "75", "modalities": GIVEN},
        {"id": "reference", "caf": "75", "modalities": {}},
        {"id": "under-guardianship", "caf": "75", "modalities": {"guardianship": "yes", "rsa_changes": "2_plus"}}]})
    what = load_whatif(path, config, spec)
    return {r["id"]: r for r in score_whatif(spark, config, spec, what)}


def test_a_household_given_by_its_modalities_gets_the_probability_by_hand(fixed, given):
    _, spec = fixed
    codes = {v.name: GIVEN.get(v.name, v.modalities[0].code) for v in spec.variables}
    # by hand: model 1 has activity, mean_pa, resources_smic, rsa_changes, conlogetu (not corrections)
    p1 = sigmoid(B0_MODEL1 + math.log(1.3) + math.log(2.7) + math.log(1.1) + math.log(1.1) + math.log(1.8))
    # model 2 has activity, mean_pa, resources_smic (OR 1), corrections, rsa_changes, conlogetu
    p2 = sigmoid(B0_MODEL2 + math.log(1.3) + math.log(2.6) + math.log(2.9) + math.log(1.5) + math.log(1.21))
    assert by_hand(spec, codes, W_CAF_75) == pytest.approx((p1, p2, (1 - W_CAF_75) * p1 + W_CAF_75 * p2), abs=1e-15)
    result = given["given"]
    assert abs(result["p_model1"] - p1) <= 1e-12 and abs(result["p_model2"] - p2) <= 1e-12
    assert abs(result["w_model2"] - W_CAF_75) <= 1e-15
    assert abs(result["score"] - ((1 - W_CAF_75) * p1 + W_CAF_75 * p2)) <= 1e-12
    assert [(item["variable"], item["modality"]) for item in result["variables"]] == list(codes.items())
    assert result["given_as"] == "modalities" and result["place_in_caf"] == {"status": "month not scored"}


def test_each_contribution_is_the_blended_log_odds_ratio_of_the_modality(fixed, given):
    _, spec = fixed
    for item in given["given"]["variables"]:
        modality = spec.variable(item["variable"]).modality(item["modality"])
        expected = ((1 - W_CAF_75) * math.log(modality.odds_ratio.get("model1", 1.0))
                    + W_CAF_75 * math.log(modality.odds_ratio.get("model2", 1.0)))
        assert item["contribution"] == pytest.approx(expected, abs=1e-15), item["variable"]
        assert item["modality_label"] == modality.label
    reference = given["reference"]
    assert all(item["contribution"] == 0 for item in reference["variables"])
    assert reference["p_model1"] == pytest.approx(sigmoid(B0_MODEL1), abs=1e-15)


# ---------------------------------------------------------------------------------------
# (4) What would change it: the best single change, checked by brute force


def brute_force(spec, codes: dict[str, str], weight: float) -> tuple[str, str, float]:
    """(variable, new modality, score) of the single change with the lowest score."""
    changes = [(by_hand(spec, {**codes, v.name: m.code}, weight)[2], position, v.name, m.code)
               for position, (v, m) in enumerate((v, m) for v in spec.variables for m in v.modalities)
               if m.code != codes[v.name]]
    score, _, variable, code = min(changes)
    return variable, code, score


@pytest.mark.parametrize("household_id, given_codes", [
    ("given", GIVEN), ("under-guardianship", {"guardianship": "yes", "rsa_changes": "2_plus"}), ("reference", {})])
def test_what_would_change_it_is_the_best_single_change(fixed, given, household_id, given_codes):
    _, spec = fixed
    codes = {v.name: given_codes.get(v.name, v.modalities[0].code) for v in spec.variables}
    variable, code, score = brute_force(spec, codes, W_CAF_75)
    result = given[household_id]
    change = result["what_would_change_it"]
    assert (change["variable"], change["from"], change["to"]) == (variable, codes[variable], code)
    assert abs(change["score"] - score) <= 1e-12
    assert abs(change["score_change"] - (score - result["score"])) <= 1e-12 and change["score_change"] < 0


def test_single_changes_are_every_other_modality_of_one_variable(spark, fixed):
    _, spec = fixed
    names = [v.name for v in spec.variables]
    reference = {v.name: v.modalities[0].code for v in spec.variables}
    frame = spark.createDataFrame([(M, "75", "h", *reference.values())],
                                  ", ".join(["score_month date", "caf string", "household_id string",
                                             *[f"{n} string" for n in names]]))
    changes = frame.transform(whatif_transforms.single_changes, spec).collect()
    expected = {(v.name, m.code) for v in spec.variables for m in v.modalities[1:]}
    assert {(r.changed_variable, r.changed_to) for r in changes} == expected and len(changes) == len(expected)
    for r in changes:
        assert {n: r[n] for n in names} == {**reference, r.changed_variable: r.changed_to}
        assert r.changed_from == reference[r.changed_variable]


def test_place_in_caf_counts_the_households_with_a_higher_score(spark):
    scored = spark.createDataFrame([("top", "59", 0.9), ("tie", "59", 0.5), ("bottom", "59", 0.01),
                                    ("alone", "2A", 0.3)], "household_id string, caf string, score double")
    counts = spark.createDataFrame([("59", 0.8, 1), ("59", 0.5, 2), ("59", 0.2, 7), ("75", 0.1, 5)],
                                   "caf string, score double, households long")
    expected = spark.createDataFrame([("top", 10, 1, 10), ("tie", 10, 2, 20), ("bottom", 10, 11, 100),
                                      ("alone", 0, None, None)],
                                     "household_id string, households_in_caf long, rank_in_caf long, "
                                     "percentile_in_caf int")
    assert_df_equality(scored.transform(whatif_transforms.place_in_caf, counts), expected, ignore_row_order=True,
                       ignore_nullable=True)


# ---------------------------------------------------------------------------------------
# (3) Malformed input: one line naming the household, the key and the problem

BASE = """\
month: 2026-02
caf: "59"
households:
  - id: ok
    resources_eur: 1200
    members:
      - {role: HEAD, birth_date: 1980-01-01, activity: EMPLOYED}
  - id: foyer-a
    resources_eur: 800
    members:
      - {role: HEAD, birth_date: 1985-05-05, activity: EMPLOYED}
      - {role: CHILD, birth_date: 2010-02-02, activity: SCHOOL}
    payments:
      - {benefit: AF, amount_eur: 140}
  - id: foyer-b
    modalities: {rsa_changes: "1"}
"""


@pytest.mark.parametrize("old, new, expected", [
    ("activity: SCHOOL", "activity: PLUMBER",
     "household 'foyer-a' (households[1]): members[1].activity: unknown activity code 'PLUMBER' (known: EMPLOYED"),
    ("amount_eur: 140", "amount_eur: -140",
     "household 'foyer-a' (households[1]): payments[0].amount_eur: negative amount -140"),
    ("{role: CHILD, birth_date", "{birth_date",
     "household 'foyer-a' (households[1]): members[1].role: required key is missing"),
    ("{rsa_changes: \"1\"}", "{rsa_changes: \"1\", salary: high}",
     "household 'foyer-b' (households[2]): modalities.salary: unknown variable 'salary' (known: activity"),
    ("{rsa_changes: \"1\"}", "{rsa_changes: \"7\"}",
     "household 'foyer-b' (households[2]): modalities.rsa_changes: unknown modality '7' of rsa_changes "
     "(known: 0, 1, 2_plus)"),
    ("birth_date: 2010-02-02", "birth_date: 2010-02-30",
     "household 'foyer-a' (households[1]): members[1].birth_date: must be a date YYYY-MM-DD (got '2010-02-30')"),
    ("birth_date: 2010-02-02", "birth_date: 2026-03-01",
     "household 'foyer-a' (households[1]): members[1].birth_date: 2026-03-01 is not between 1900-01-01 and the "
     "as-of date 2026-01-31"),
    ("benefit: AF", "benefit: BONUS",
     "household 'foyer-a' (households[1]): payments[0].benefit: unknown benefit 'BONUS'"),
    ("resources_eur: 800", "resources: [{from: 2025-02, to: 2025-12, amount_eur: 800}]",
     "household 'foyer-a' (households[1]): resources: no snapshot in 2026-01 (M-1)"),
    ("{role: HEAD, birth_date: 1985-05-05", "{role: PARTNER, birth_date: 1985-05-05",
     "household 'foyer-a' (households[1]): members: must have exactly one HEAD member (got 0)"),
    ("    resources_eur: 800\n", "",
     "household 'foyer-a' (households[1]): resources_eur: give either `resources_eur` (every month of W12) or "
     "`resources`"),
    ("  - id: foyer-b\n", "  - id: ok\n", "household 'ok' (households[2]): id: duplicate of households[0]"),
])
def test_a_malformed_file_names_the_household_the_key_and_the_problem(fixed, tmp_path, old, new, expected):
    config, spec = fixed
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(WhatIfError) as error:
        load_whatif(path, config, spec)
    lines = str(error.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: ") and expected in lines[0]
    assert isinstance(error.value, ConfigError) and error.value.exit_code == 2


def test_the_base_of_the_malformed_cases_is_well_formed(fixed, tmp_path):
    config, spec = fixed
    what = load_whatif(write(tmp_path, BASE), config, spec)
    assert [h.id for h in what.households] == ["ok", "foyer-a", "foyer-b"] and what.month == M


def test_a_file_without_a_month_says_where_to_give_it(fixed, tmp_path):
    config, spec = fixed
    path = write(tmp_path, BASE.replace("month: 2026-02\n", ""))
    with pytest.raises(WhatIfError, match="no score month: give `month: YYYY-MM` in the file, or --month"):
        load_whatif(path, config, spec)
    assert load_whatif(path, config, spec, month=M).month == M


def test_the_command_line_caf_overrides_the_file(fixed):
    config, spec = fixed
    what = load_whatif(PERSONAS, config, spec, caf="2A")
    assert set(what.cafs.values()) == {"2A"}
    assert load_whatif(PERSONAS, config, spec).cafs["couple-retraite"] == "06"


# ---------------------------------------------------------------------------------------
# (5) The command


@pytest.fixture
def local_partitions(spark):
    """The CLI applies conf/local.yaml to the shared session: restore the suite's settings."""
    yield
    spark.conf.set("spark.sql.shuffle.partitions", "2")


def persona_ids() -> list[str]:
    return [h["id"] for h in yaml.safe_load(PERSONAS.read_text(encoding="utf-8"))["households"]]


def test_dmde_whatif_prints_every_persona(population, capsys, local_partitions):
    assert main(["whatif", str(PERSONAS), "--data-dir", str(population.data_dir)]) == 0
    out = capsys.readouterr().out
    for persona in persona_ids():
        assert out.count(persona) == 2, persona  # its section and its row of the table
    assert "what would change it:" in out and "top " in out and "% of Caf 59" in out
    table = [line for line in out.splitlines() if line.startswith("| `")]
    assert len(table) == len(persona_ids())


def test_dmde_whatif_json_parses(population, capsys, local_partitions):
    """Without FILE: the configuration's personas_file, conf/personas.yaml."""
    assert main(["whatif", "--json", "--month", "2026-01", "--data-dir", str(population.data_dir)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [h["id"] for h in document["households"]] == persona_ids()
    assert document["score_month"] == "2026-01"
    for household in document["households"]:
        assert household["place_in_caf"] == {"status": "month not scored"}  # the population scored 2026-02 only
        assert len(household["variables"]) == 19 and 0 < household["score"] < 1


def test_a_bad_caf_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["whatif", str(PERSONAS), "--caf", "999"])
    assert exit_.value.code == 2 and "'999' is not a Caf code" in capsys.readouterr().err


def test_a_malformed_file_is_one_paragraph_without_traceback(population, tmp_path, capsys):
    path = write(tmp_path, BASE.replace("activity: SCHOOL", "activity: PLUMBER"))
    assert main(["whatif", str(path), "--data-dir", str(population.data_dir)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "household 'foyer-a' (households[1]): members[1].activity: unknown activity" in err
