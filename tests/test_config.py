"""The configuration: the real files load and hold the published values; overlays merge
in order; every broken file fails on load with a message naming file, key and problem."""
from __future__ import annotations

import csv
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml

from domain.codes import CAF_CODES
from domain.errors import ConfigError, UnknownNameError
from domain.model import Intercept
from jobs.lib.config import DEFAULT_CONF_DIR, load_config, load_model, write_model


@pytest.fixture(scope="module")
def config():
    return load_config("local", conf_dir=DEFAULT_CONF_DIR)


@pytest.fixture
def conf_dir(tmp_path, monkeypatch):
    """A writable copy of conf/ at ./conf, so that messages read `conf/...`."""
    shutil.copytree(DEFAULT_CONF_DIR, tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DMDE_ENV", raising=False)
    monkeypatch.delenv("DMDE_CONF_DIR", raising=False)
    return Path("conf")


# ---------------------------------------------------------------------------------------
# The real configuration


def test_the_101_caf(config):
    assert [caf.code for caf in config.cafs] == list(CAF_CODES)
    assert len(config.cafs) == 101
    assert all(caf.name.startswith("Caf ") and caf.relative_size > 0 for caf in config.cafs)


@pytest.mark.parametrize("code, start", [
    ("06", date(2024, 10, 1)), ("10", date(2024, 10, 1)), ("34", date(2024, 10, 1)),
    ("64", date(2024, 10, 1)), ("85", date(2024, 10, 1)),
    ("01", date(2025, 3, 1)), ("2A", date(2025, 3, 1)), ("75", date(2025, 3, 1)),
    ("976", date(2025, 3, 1)),
])
def test_prefill_start(config, code, start):
    assert config.caf(code).prefill_start == start


def test_only_five_caf_started_prefilling_early(config):
    early = {caf.code for caf in config.cafs if caf.prefill_start < date(2025, 3, 1)}
    assert early == {"06", "10", "34", "64", "85"}


@pytest.mark.parametrize("month, eur", [
    (date(2021, 1, 1), 1231.00),
    (date(2024, 10, 31), 1398.69),
    (date(2024, 11, 1), 1426.30),
    (date(2025, 12, 1), 1426.30),
    (date(2026, 1, 1), 1443.11),
    (date(2030, 6, 1), 1443.11),
])
def test_smic_for(config, month, eur):
    assert config.smic_for(month) == eur


def test_smic_before_the_table_is_an_error(config):
    with pytest.raises(ConfigError, match=r"smic\.csv: no net monthly SMIC in force on 2020-12-01"):
        config.smic_for(date(2020, 12, 1))


@pytest.mark.parametrize("model, n_variables", [("model1", 17), ("model2", 11)])
def test_model_sizes(config, model, n_variables):
    assert len(config.model.variables_of(model)) == n_variables


def test_model2_variables(config):
    assert [v.name for v in config.model.variables_of("model2")] == [
        "activity", "child_19_plus", "guardianship", "mean_total_benefits", "mean_pa",
        "resources_smic", "self_employment_practice", "corrections", "conlogetu", "volsoc",
        "rsa_changes"]


# DMDE.md §3, pinned: variable -> modality code: (OR model 1, OR model 2, share, in target);
# None = not in that model.
PUBLISHED = {
    "activity": {"other": (1, 1, 62, 21), "partner_inactive": (1.3, 1.3, 8, 29),
                 "dual_earner": (0.8, 0.8, 24, 8), "retired": (0.8, 0.6, 7, 8)},
    "child_19_plus": {"no": (1, 1, 94, 17), "yes": (1.5, 2.1, 6, 32)},
    "children_activity": {"none_working_age": (1, None, 83, 16), "student": (1.5, None, 11, 24),
                          "employed": (1, None, 2, 24), "other": (1.2, None, 3, 21),
                          "inactive": (1.6, None, 2, 36)},
    "guardianship": {"no": (1, 1, 97, 18), "yes": (0.3, 0.3, 3, 6)},
    "mean_total_benefits": {"lt_200": (1, 1, 37, 10), "200_1400": (1.5, 1.8, 58, 21),
                            "ge_1400": (1.9, 2.9, 5, 33)},
    "mean_af": {"zero": (1, None, 63, 19), "lt_155": (1, None, 23, 13),
                "155_335": (0.9, None, 5, 19), "335_525": (0.8, None, 6, 19),
                "ge_525": (0.8, None, 3, 29)},
    "mean_cf": {"zero": (1, None, 92, 17), "lt_191": (1.9, None, 2, 27),
                "191_195": (1.4, None, 2, 14), "ge_195": (1.6, None, 3, 34)},
    "mean_pa": {"zero": (1, 1, 60, 11), "lt_150": (1.2, 1.5, 23, 22),
                "150_250": (1.9, 2, 10, 29), "ge_250": (2.7, 2.6, 7, 42)},
    "mean_rsa": {"zero": (1, None, 83, 15), "lt_545": (1.3, None, 10, 33),
                 "545_560": (1.2, None, 3, 21), "ge_560": (1.8, None, 4, 37)},
    "resources_smic": {"zero": (1, 1, 28, 15), "lt_0_4": (1, 1, 12, 26),
                       "0_4_0_6": (0.8, 0.8, 6, 23), "0_6_1": (1.1, 1, 16, 26),
                       "1_1_5": (1.1, 1, 11, 24), "1_5_2": (1, 0.8, 7, 15),
                       "ge_2": (0.5, 0.4, 20, 4)},
    "allowance_neutralisation": {"none": (1, None, 76, 15), "w12": (1.2, None, 19, 26),
                                 "w24_only": (1, None, 5, 21)},
    "alimony": {"not_concerned": (1, None, 45, 7), "yes": (1.9, None, 5, 28),
                "no": (1.9, None, 50, 26)},
    "self_employment_change": {"no": (1, None, 99, 17), "yes": (1.8, None, 1, 46)},
    "self_employment_practice": {"no": (None, 1, 98, 17), "yes": (None, 1.8, 2, 44)},
    "corrections": {"other": (None, 1, 95, 16), "flagged": (None, 2.9, 5, 48)},
    "conlogetu": {"none": (1, 1, 96, 18), "one_or_more": (1.8, 1.21, 4, 17)},
    "proacc": {"none": (1, None, 98, 17), "one_or_more": (0.9, None, 2, 30)},
    "volsoc": {"none": (1, 1, 92, 18), "one_or_more": (0.7, 0.6, 8, 8)},
    "rsa_changes": {"0": (1, 1, 91, 16), "1": (1.1, 1.5, 5, 32), "2_plus": (1.3, 1.8, 4, 37)},
}


def test_published_odds_ratios_and_shares(config):
    actual = {
        variable.name: {
            m.code: (m.odds_ratio.get("model1"), m.odds_ratio.get("model2"), m.share,
                     m.target_share)
            for m in variable.modalities}
        for variable in config.model.variables}
    assert actual == PUBLISHED


@pytest.mark.parametrize("name, bands", [
    ("mean_af", [(0, None, None), (None, 0, 155), (None, 155, 335), (None, 335, 525),
                 (None, 525, None)]),
    ("resources_smic", [(0, None, None), (None, 0, 0.4), (None, 0.4, 0.6), (None, 0.6, 1),
                        (None, 1, 1.5), (None, 1.5, 2), (None, 2, None)]),
    ("rsa_changes", [(0, None, None), (1, None, None), (None, 2, None)]),
])
def test_band_edges(config, name, bands):
    modalities = config.model.variable(name).modalities
    assert [(m.exact, m.lower, m.upper) for m in modalities] == bands


def test_model_starts_uncalibrated(config):
    assert not config.model.is_calibrated()
    assert config.model.uncalibrated_models() == ["model1", "model2"]
    with pytest.raises(ConfigError, match="not calibrated"):
        config.model.intercept_of("model1")


def test_write_model_round_trip(config, tmp_path):
    intercept = Intercept.model_validate({
        "value": -1.52, "sample_size": 6012, "score_month": "2026-01",
        "computed_at": "2026-11-22T10:00:00Z",
        "method": "mean predicted probability over the OPBD sample = observed target rate"})
    spec = config.model.with_intercept("model1", intercept)
    path = tmp_path / "model.yaml"
    write_model(spec, path)
    reloaded = load_model(path)
    assert reloaded == spec
    assert [v.name for v in reloaded.variables] == [v.name for v in config.model.variables]
    assert reloaded.uncalibrated_models() == ["model2"]
    assert reloaded.intercept_of("model1") == -1.52
    assert reloaded.models["model1"].intercept.computed_at == datetime(2026, 11, 22, 10,
                                                                       tzinfo=timezone.utc)
    assert 'score_month: 2026-01' in path.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------
# Environments and overlays


@pytest.mark.parametrize("env, master, partitions, data_dir", [
    ("local", "local[2]", 8, None),
    ("cluster", None, 400, "/data/dmde"),
])
def test_environments(conf_dir, env, master, partitions, data_dir):
    config = load_config(env, conf_dir=conf_dir)
    assert config.env == env
    assert config.spark.app_name == "dmde"
    assert config.spark.master == master
    assert config.spark.conf["spark.sql.shuffle.partitions"] == partitions
    assert config.spark.conf["spark.sql.adaptive.enabled"] is True  # kept from base
    assert config.data_dir == (Path(data_dir) if data_dir else Path.cwd() / "data")


def test_local_spark_settings(conf_dir):
    conf = load_config(conf_dir=conf_dir).spark.conf
    assert conf["spark.driver.memory"] == "8g" and conf["spark.ui.enabled"] is False


def test_env_and_conf_dir_from_environment(conf_dir, monkeypatch):
    monkeypatch.setenv("DMDE_ENV", "cluster")
    monkeypatch.setenv("DMDE_CONF_DIR", str(conf_dir))
    config = load_config()
    assert (config.env, config.conf_dir) == ("cluster", conf_dir.absolute())


def test_paths(conf_dir):
    config = load_config(conf_dir=conf_dir)
    assert config.source_path("households") == str(Path.cwd() / "data/sources/households")
    assert config.output_path("scores") == str(Path.cwd() / "data/tables/scores")
    assert config.synth_file == conf_dir.absolute() / "synth.yaml"
    assert config.model_file == conf_dir.absolute() / "models/dmde_2025.yaml"


@pytest.mark.parametrize("method, section", [("source_path", "sources"),
                                             ("output_path", "outputs")])
def test_unknown_table(conf_dir, method, section):
    config = load_config(conf_dir=conf_dir)
    with pytest.raises(UnknownNameError, match=rf"{section}: no table 'nope' \(known: .*"):
        getattr(config, method)("nope")
    with pytest.raises(KeyError):
        getattr(config, method)("nope")


def test_conf_file_then_overrides_merge_last(conf_dir, tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("spark: {conf: {spark.sql.shuffle.partitions: 16}}\n"
                     "windows: {short_months: 6}\ndata_dir: /elsewhere\n", encoding="utf-8")
    config = load_config("cluster", conf_dir=conf_dir, overlays=[extra],
                         overrides={"data_dir": str(tmp_path / "x"),
                                    "capacity": {"per_caf_monthly": {"59": 1200}}})
    assert config.spark.master is None  # cluster
    assert config.spark.conf == {"spark.sql.shuffle.partitions": 16,
                                 "spark.sql.adaptive.enabled": True,
                                 "spark.sql.codegen.hugeMethodLimit": 8000}
    assert (config.windows.short_months, config.windows.long_months) == (6, 24)
    assert config.data_dir == tmp_path / "x"
    assert config.capacity.per_caf_monthly == {"59": 1200}
    assert config.capacity.national_controls_per_year == 166000


@pytest.mark.parametrize("month, had_impact, months", [
    (date(2026, 2, 1), True, 12), (date(2026, 2, 1), False, 18),
    (date(2026, 3, 1), True, 24), (date(2026, 3, 1), False, 24),
])
def test_control_delays(config, month, had_impact, months):
    assert config.control_delays.months_for(month, had_impact) == months


# ---------------------------------------------------------------------------------------
# Broken files: each fails on load, naming file, key and problem


MODEL = "conf/models/dmde_2025.yaml"
POPULATIONS = "conf/populations.yaml"


def edit_yaml(path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def edit_csv(path, change):
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    change(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def modality(data, variable, index):
    return data["variables"][variable]["modalities"][index]


def assign(target, key, value):
    target[key] = value


BROKEN = {
    "unknown key in settings": (
        "conf/base.yaml", lambda d: assign(d["windows"], "medium_months", 6),
        "conf/base.yaml: windows.medium_months: unknown key"),
    "unknown key in a modality": (
        MODEL, lambda d: assign(modality(d, 0, 1), "weight", 2),
        f"{MODEL}: variables[0].modalities[1].weight: unknown key"),
    "negative odds ratio": (
        MODEL, lambda d: assign(modality(d, 3, 1)["odds_ratio"], "model1", -1.0),
        f"{MODEL}: variables[3].modalities[1].odds_ratio.model1: must be > 0 (got -1.0)"),
    "zero odds ratio": (
        MODEL, lambda d: assign(modality(d, 0, 2)["odds_ratio"], "model2", 0),
        f"{MODEL}: variables[0].modalities[2].odds_ratio.model2: must be > 0 (got 0)"),
    "odds ratio missing for one modality": (
        MODEL, lambda d: modality(d, 0, 1)["odds_ratio"].pop("model2"),
        f"{MODEL}: variables[0].modalities[1].odds_ratio: no odds ratio for model2"),
    "odds ratio for an unknown model": (
        MODEL, lambda d: [m["odds_ratio"].update(model3=1.0)
                          for m in d["variables"][1]["modalities"]],
        f"{MODEL}: variables[1].modalities[0].odds_ratio.model3: unknown model "
        "(models: model1, model2)"),
    "shares summing to 90": (
        MODEL, lambda d: assign(modality(d, 0, 0), "share", 51),
        f"{MODEL}: variables[0].modalities: shares sum to 90, must be 100 ± 2"),
    "band upper below lower": (
        MODEL, lambda d: assign(modality(d, 4, 1), "upper", 150),
        f"{MODEL}: variables[4].modalities[1].upper: must be > lower (got lower=200, "
        "upper=150)"),
    "band edges not increasing": (
        MODEL, lambda d: assign(modality(d, 5, 2), "lower", 100),
        f"{MODEL}: variables[5].modalities[2].lower: bands must be in increasing order: "
        "lower 100 is below the previous band's upper 155"),
    "band edges not contiguous": (
        MODEL, lambda d: assign(modality(d, 5, 3), "lower", 340),
        f"{MODEL}: variables[5].modalities[3].lower: bands must be contiguous: lower 340 "
        "leaves a gap after the previous band's upper 335"),
    "exact and band together": (
        MODEL, lambda d: assign(modality(d, 5, 0), "upper", 1),
        f"{MODEL}: variables[5].modalities[0].exact: use either `exact` or `lower`/`upper`"),
    "banded modality without edges": (
        MODEL, lambda d: modality(d, 1, 1).pop("lower"),
        f"{MODEL}: variables[1].modalities[1]: a banded modality needs `exact` or "
        "`lower`/`upper`"),
    "band fields on a categorical modality": (
        MODEL, lambda d: assign(modality(d, 0, 0), "lower", 0),
        f"{MODEL}: variables[0].modalities[0].lower: a categorical modality has no band fields"),
    "duplicate modality code": (
        MODEL, lambda d: assign(modality(d, 0, 2), "code", "other"),
        f"{MODEL}: variables[0].modalities[2].code: duplicate modality code 'other' "
        "(also modalities[0])"),
    "duplicate variable name": (
        MODEL, lambda d: assign(d["variables"][2], "name", "activity"),
        f"{MODEL}: variables[2].name: duplicate variable name 'activity' (also variables[0])"),
    "unknown kind": (
        MODEL, lambda d: assign(d["variables"][2], "kind", "numeric"),
        f"{MODEL}: variables[2].kind: must be one of 'categorical' or 'banded'"),
    "a category the rule cannot give": (
        POPULATIONS, lambda d: assign(d["attributes"]["sex"]["categories"][1], "code", "X"),
        f"{POPULATIONS}: attributes.sex.categories: the rule gives F, M (got F, X)"),
    "UNKNOWN listed as a category": (
        POPULATIONS, lambda d: d["attributes"]["residence"]["categories"].append(
            {"code": "UNKNOWN", "label": "Inconnu"}),
        f"{POPULATIONS}: attributes.residence.categories[3].code: 'UNKNOWN' is implicit"),
    "age bands with a gap": (
        POPULATIONS, lambda d: assign(d["attributes"]["age_band"]["categories"][2], "lower", 36),
        f"{POPULATIONS}: attributes.age_band.categories[2].lower: bands must be contiguous: lower 36 "
        "leaves a gap after the previous band's upper 35"),
    "a band on a category of codes": (
        POPULATIONS, lambda d: assign(d["attributes"]["sex"]["categories"][0], "lower", 0),
        f"{POPULATIONS}: attributes.sex.categories[0].lower: a categorical attribute's category has no band fields"),
    "an attribute missing": (
        POPULATIONS, lambda d: d["attributes"].pop("territory"),
        f"{POPULATIONS}: attributes: must list exactly the monitored attributes (docs/monitoring.md)"),
    "an intersection with an unknown attribute": (
        "conf/base.yaml", lambda d: assign(d["monitoring"], "intersections", [["family_situation", "gender"]]),
        "conf/base.yaml: monitoring.intersections[0]: unknown attribute(s) gender"),
}


@pytest.mark.parametrize("file, change, message", BROKEN.values(), ids=BROKEN.keys())
def test_broken_yaml(conf_dir, file, change, message):
    edit_yaml(Path(file), change)
    with pytest.raises(ConfigError) as raised:
        load_config(conf_dir=conf_dir)
    assert message in str(raised.value)


BROKEN_CSV = {
    "bad date": (
        "cafs.csv", lambda rows: assign(rows[5], 2, "2025-13-01"),
        "conf/cafs.csv: row 5 (line 6), column prefill_start: must be a date YYYY-MM-DD "
        "(got '2025-13-01')"),
    "bad number": (
        "cafs.csv", lambda rows: assign(rows[2], 3, "many"),
        "conf/cafs.csv: row 2 (line 3), column relative_size: must be a number (got 'many')"),
    "missing column": (
        "cafs.csv", lambda rows: [row.pop() for row in rows],
        "conf/cafs.csv: line 1: missing column(s): relative_size"),
    "unknown Caf code": (
        "cafs.csv", lambda rows: assign(rows[20], 0, "20"),
        "conf/cafs.csv: row 20 (line 21), column code: not a Caf code"),
    "duplicate Caf code": (
        "cafs.csv", lambda rows: assign(rows[3], 0, "01"),
        "conf/cafs.csv: row 3 (line 4), column code: duplicate Caf code '01' "
        "(first at row 1 (line 2))"),
    "100 Caf instead of 101": (
        "cafs.csv", lambda rows: rows.pop(),
        "conf/cafs.csv: expected the 101 Caf, got 100: missing 976"),
    "SMIC dates not increasing": (
        "smic.csv", lambda rows: rows.insert(3, ["2021-06-01", "1250.00"]),
        "conf/smic.csv: row 3 (line 4), column valid_from: must be after the previous row's "
        "2021-10-01"),
    "SMIC amount not positive": (
        "smic.csv", lambda rows: assign(rows[1], 1, "0"),
        "conf/smic.csv: row 1 (line 2), column net_monthly_eur: must be > 0 (got '0')"),
}


@pytest.mark.parametrize("file, change, message", BROKEN_CSV.values(), ids=BROKEN_CSV.keys())
def test_broken_csv(conf_dir, file, change, message):
    edit_csv(conf_dir / file, change)
    with pytest.raises(ConfigError) as raised:
        load_config(conf_dir=conf_dir)
    assert message in str(raised.value)


BROKEN_TEXT = {
    "YAML syntax error": (
        "spark:\n  master: local[2]\n   conf: {}\n",
        "conf/local.yaml: line 3, column 8: invalid YAML: mapping values are not allowed here"),
    "duplicate YAML key": (
        "spark:\n  master: local[2]\nspark:\n  master: local[4]\n",
        "conf/local.yaml: line 3, column 1: invalid YAML: duplicate key 'spark' "
        "(first at line 1)"),
    "unquoted yes/no": (
        "spark: {master: no}\n",
        "conf/local.yaml: spark.master: must be a string (got False)"),
    "unquoted Caf code": (
        "capacity: {per_caf_monthly: {06: 100}}\n",
        "conf/local.yaml: capacity.per_caf_monthly[6]: not a Caf code"),
    "not a mapping": (
        "- local\n", "conf/local.yaml: must hold a mapping at the top level"),
}


@pytest.mark.parametrize("text, message", BROKEN_TEXT.values(), ids=BROKEN_TEXT.keys())
def test_broken_overlay_text(conf_dir, text, message):
    (conf_dir / "local.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(conf_dir=conf_dir)
    assert message in str(raised.value)


def test_unknown_env(conf_dir):
    with pytest.raises(ConfigError, match=r"^conf: env: unknown environment 'prod': no prod\.yaml "
                                          r"\(known: cluster, local\)$"):
        load_config("prod", conf_dir=conf_dir)


def test_errors_name_the_layer_that_set_the_key(conf_dir):
    with pytest.raises(ConfigError) as raised:
        load_config("cluster", conf_dir=conf_dir, overrides={
            "quality": {"max_quarantine_share": 2}, "windows": {"long_months": 0}})
    assert str(raised.value).splitlines() == [
        "<overrides>: windows.long_months: must be > 0 (got 0)",
        "<overrides>: quality.max_quarantine_share: must be <= 1 (got 2)",
    ]


def test_missing_setting(conf_dir):
    edit_yaml(conf_dir / "base.yaml", lambda d: d["control_delays"].pop("uniform_from"))
    with pytest.raises(ConfigError, match=r"conf/base\.yaml: control_delays\.uniform_from: "
                                          r"required key is missing"):
        load_config(conf_dir=conf_dir)


def test_error_message_is_one_line_per_problem(conf_dir):
    def two_problems(data):
        modality(data, 3, 1)["odds_ratio"]["model1"] = -1.0
        modality(data, 0, 0)["share"] = 51

    edit_yaml(Path(MODEL), two_problems)
    with pytest.raises(ConfigError) as raised:
        load_config(conf_dir=conf_dir)
    lines = str(raised.value).splitlines()
    assert lines == [
        f"{MODEL}: variables[0].modalities: shares sum to 90, must be 100 ± 2",
        f"{MODEL}: variables[3].modalities[1].odds_ratio.model1: must be > 0 (got -1.0)",
    ]
    assert [issue.path for issue in raised.value.issues] == [
        "variables[0].modalities", "variables[3].modalities[1].odds_ratio.model1"]
