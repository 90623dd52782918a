"""A month of published monitoring tables for the report's tests, without Spark.

A small synthetic population is drawn with numpy (households with the attributes of
MONITORING.md §1, a score, the baseline, a target list, DMDE and OPBD controls), its
cross-tabs are counted with pandas, and the rows of every table are built by the monitor
job's own driver-side functions (`transforms/monitoring_tables.py`: estimates, bootstrap
intervals, flags, §4 suppression). They are written as Delta tables with the `deltalake`
package (partitioned by score_month, the schemas of `domain.monitoring.table_schema`), then
a `succeeded` row of `monitoring_runs` records their versions, as `dmde monitor` would.

Planted so that the report has something to say: single parents over-represented in the
top decile, zero-resource households in the baseline's top decile, households of non-EU
nationality controlled more often within the list (controller bias), a drift of the
activity variable; small Caf cells and UNKNOWN categories fall under suppression.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

from domain.calendar import add_months
from domain.codes import CAF_CODES, DROM_CAFS
from domain.monitoring import ALL_ATTRIBUTES, ALL_LIST, LIST_BANDS, NATIONAL, SCORE_VARIABLE, table_schema
from jobs.lib.config import Config
from jobs.lib.publish import MONITORING_RUNS_SCHEMA
from transforms import monitoring_tables as mt
from transforms.monitoring import score_bin_labels

MONITORING_TABLES = ("monitoring_performance", "monitoring_calibration", "monitoring_model_fit",
                     "monitoring_representation", "monitoring_parity", "monitoring_volumes",
                     "monitoring_human_decisiveness", "monitoring_drift")
RUN_FINISHED_AT = datetime(2026, 2, 3, 6, 41, 12, tzinfo=timezone.utc)
DETAILED_CAFS = ("59", "75", "974")  # the Caf rows of representation, decisiveness and drift


# ---------------------------------------------------------------------------------------
# Arrow schemas of the Spark DDL


def arrow_type(kind: str) -> pa.DataType:
    kind = kind.strip()
    simple = {"string": pa.string(), "date": pa.date32(), "double": pa.float64(), "bigint": pa.int64(),
              "long": pa.int64(), "int": pa.int32(), "boolean": pa.bool_(),
              "timestamp": pa.timestamp("us", tz="UTC")}
    if kind in simple:
        return simple[kind]
    if kind.startswith("decimal("):
        precision, scale = (int(x) for x in kind[8:-1].split(","))
        return pa.decimal128(precision, scale)
    if kind.startswith("map<"):
        key, value = kind[4:-1].split(",", 1)
        return pa.map_(arrow_type(key), arrow_type(value))
    if kind.startswith("array<"):
        return pa.list_(arrow_type(kind[6:-1]))
    raise ValueError(f"no arrow type for {kind!r}")


ddl_columns = mt.columns_of


def arrow_schema(ddl: str) -> pa.Schema:
    return pa.schema([pa.field(name, arrow_type(kind)) for name, kind in ddl_columns(ddl)])


def _cell(value, kind: pa.DataType):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if pa.types.is_decimal(kind):
        from decimal import ROUND_HALF_EVEN, Decimal
        return Decimal(str(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    if pa.types.is_integer(kind):
        return int(value)
    if pa.types.is_floating(kind):
        return float(value)
    if pa.types.is_boolean(kind):
        return bool(value)
    if pa.types.is_date(kind) and isinstance(value, pd.Timestamp):
        return value.date()
    if pa.types.is_map(kind):
        return list(value.items())
    return value


def to_arrow(records: list[dict], schema: pa.Schema) -> pa.Table:
    columns = {field.name: [_cell(r.get(field.name), field.type) for r in records] for field in schema}
    return pa.table(columns, schema=schema)


# ---------------------------------------------------------------------------------------
# The synthetic population of a month


CATEGORY_PROBABILITIES = {
    "family_situation": {"SINGLE": 0.42, "SINGLE_PARENT": 0.2, "COUPLE": 0.38},
    "sex": {"F": 0.56, "M": 0.44},
    "nationality": {"FR": 0.84, "EU": 0.05, "NON_EU": 0.11},
    "residence": {"URBAN": 0.62, "PERIURBAN": 0.24, "RURAL": 0.14},
    "income_band": {"0": 0.18, "<0.5": 0.2, "0.5-1": 0.26, "1-2": 0.24, ">=2": 0.12},
    "minimum_income": {"RSA": 0.17, "NO_RSA": 0.83},
    "age_band": {"<25": 0.08, "25-34": 0.26, "35-44": 0.27, "45-54": 0.2, "55-64": 0.11, ">=65": 0.08},
    "disability": {"AAH_OR_AEEH": 0.09, "NONE": 0.91},
    "student": {"YES": 0.06, "NO": 0.94},
    "self_employed": {"YES": 0.05, "NO": 0.95},
}
UNKNOWN_SHARE = 0.0015  # a missing source value: rare, so its cells are small


def draw_population(rng: np.random.Generator, households: int) -> pd.DataFrame:
    weights = np.array([4.0 if c in ("59", "75", "13", "93", "69") else (0.6 if c in DROM_CAFS else 1.0)
                        for c in CAF_CODES])
    frame = pd.DataFrame({"caf": rng.choice(np.array(CAF_CODES), size=households, p=weights / weights.sum())})
    for attribute, probabilities in CATEGORY_PROBABILITIES.items():
        codes = np.array([*probabilities, "UNKNOWN"])
        p = np.array([*probabilities.values(), UNKNOWN_SHARE])
        frame[attribute] = rng.choice(codes, size=households, p=p / p.sum())
    frame["territory"] = np.where(frame["caf"].isin(DROM_CAFS), "DROM", "METROPOLE")
    risk = (rng.normal(0, 1, households) + 0.8 * (frame["family_situation"] == "SINGLE_PARENT")
            + 0.5 * (frame["minimum_income"] == "RSA") - 0.7 * (frame["age_band"] == ">=65"))
    frame["score"] = 1 / (1 + np.exp(-(-1.9 + 0.9 * risk)))
    frame["p_model1"] = np.clip(frame["score"] * 1.03, 0.001, 0.999)
    frame["p_model2"] = np.clip(frame["score"] * 0.96, 0.001, 0.999)
    frame["decile"] = 10 - np.minimum(9, (frame["score"].rank(method="first", pct=True) * 10).astype(int) - 0)
    frame["decile"] = frame["decile"].clip(1, 10)
    frame["rank_in_caf"] = frame.groupby("caf")["score"].rank(method="first", ascending=False).astype(int)
    frame["households_in_caf"] = frame.groupby("caf")["caf"].transform("size")
    frame["percentile_in_caf"] = np.ceil(100 * frame["rank_in_caf"] / frame["households_in_caf"])
    benefits = np.exp(rng.normal(7.2, 0.7, households) + 0.25 * risk + 0.9 * (frame["income_band"] == "0"))
    frame["benefits_6m_eur"] = np.round(benefits, 2)
    frame["benefits_6m_decile"] = (10 - np.minimum(9, (frame["benefits_6m_eur"].rank(method="first", pct=True) * 10)
                                                   .astype(int))).clip(1, 10)
    frame["benefits_rank_in_caf"] = frame.groupby("caf")["benefits_6m_eur"].rank(method="first", ascending=False)
    frame["eligible"] = rng.random(households) < 0.9
    capacity = np.maximum(1, np.round(0.012 * frame.groupby("caf")["caf"].transform("size"))).astype(int)
    eligible_rank = frame[frame["eligible"]].groupby("caf")["score"].rank(method="first", ascending=False)
    frame["target_rank"] = eligible_rank.reindex(frame.index)
    frame["capacity"] = capacity
    frame["on_list"] = frame["target_rank"].notna() & (frame["target_rank"] <= frame["capacity"])
    frame["target"] = rng.random(households) < frame["score"]
    return frame


def outcomes(rng: np.random.Generator, controls: pd.DataFrame, without_score: float) -> pd.DataFrame:
    n = len(controls)
    target = controls["target"].to_numpy(bool)
    small = ~target & (rng.random(n) < 0.2)
    controls["overpayment_eur"] = np.round(np.where(target, 600 + rng.exponential(1500, n),
                                                    np.where(small, rng.uniform(40, 590, n), 0.0)), 2)
    controls["underpayment_eur"] = np.round(np.where(rng.random(n) < 0.12, rng.exponential(450, n), 0.0), 2)
    controls["fraud"] = rng.random(n) < np.where(target, 0.2, 0.02)
    controls["has_score"] = rng.random(n) >= without_score
    return controls


@dataclass
class MonthFixture:
    config: Config
    month: date
    versions: dict[str, int]
    tables: dict[str, pd.DataFrame]
    run: dict
    estimates: list[dict] = field(default_factory=list)  # model_estimates rows, when published


def build_tables(config: Config, month: date, *, households: int = 200_000, opbd_controls: int = 2_400,
                 dmde_controls: int = 12_000, seed: int = 5) -> tuple[dict[str, pd.DataFrame], dict]:
    """The month's rows of every monitoring table (as the job writes them) and its ledger row."""
    rng = np.random.default_rng(seed)
    settings, spec, populations = config.monitoring, config.model, config.populations
    months = [add_months(month, -k) for k in range(settings.evaluation_months, 0, -1)]
    run_id = f"monitor-{month:%Y-%m}-20260203T064000-fixture"
    keys = mt.Keys(month, run_id, spec.version, months[0], months[-1], len(months))
    people = draw_population(rng, households)
    attributes = list(populations.attributes)
    intersections = [f"{a}×{b}" for a, b in settings.intersections]
    for name in intersections:
        first, second = name.split("×")
        people[name] = people[first] + "×" + people[second]
    categories = {name: populations.codes(name) for name in attributes}

    # OPBD: a simple random sample of the window's households, their selections per fraction
    opbd = outcomes(rng, people.sample(n=opbd_controls, random_state=seed).sort_index().reset_index(drop=True), 0.015)
    for i, q in enumerate(settings.fractions):
        opbd[f"model_{i}"] = opbd["rank_in_caf"] <= np.ceil(q * opbd["households_in_caf"])
        opbd[f"baseline_{i}"] = opbd["benefits_rank_in_caf"] <= np.ceil(q * opbd["households_in_caf"])

    # DMDE controls: mostly from the list and the top deciles; the controllers favour NON_EU
    weight = (np.where(people["on_list"], 40.0, 0.0) + np.where(people["decile"] <= 3, 1.0, 0.02))
    weight *= np.where(people["nationality"] == "NON_EU", 1.8, 1.0)
    chosen = rng.choice(len(people), size=dmde_controls, replace=False, p=weight / weight.sum())
    dmde = outcomes(rng, people.iloc[np.sort(chosen)].reset_index(drop=True), 0.0)
    dmde["mode"] = np.where(rng.random(len(dmde)) < 1 / 3, "ON_SITE", "DOCUMENTS")
    dmde["control_month"] = np.array(months, dtype=object)[rng.integers(0, len(months), len(dmde))]
    calibration_window = int(opbd_controls * 0.6)

    rows: dict[str, list[dict]] = {
        "monitoring_performance": mt.performance_rows(opbd, dmde, keys, settings, calibration_window),
        "monitoring_calibration": mt.calibration_rows(opbd, dmde, keys, settings, spec),
        "monitoring_model_fit": mt.model_fit_rows(opbd, keys, settings, spec, calibration_window),
        "monitoring_parity": mt.parity_rows(opbd, keys, settings, attributes),
    }

    # representation: counts per (caf, attribute, category)
    controlled = set(dmde.index)
    people["n_scored"] = 1
    people["n_top_decile"] = (people["decile"] == 1).astype(int)
    people["n_target_list"] = people["on_list"].astype(int)
    people["n_eligible"] = people["eligible"].astype(int)
    people["n_benefits_top"] = (people["benefits_6m_decile"] == 1).astype(int)
    people["n_pooled"] = 12
    people["n_controlled"] = 0
    people.loc[people.index[np.sort(chosen)], "n_controlled"] = 1
    people["n_opbd_target"] = 0
    opbd_target = opbd[opbd["target"]]
    count_columns = ["n_scored", "n_top_decile", "n_target_list", "n_eligible", "n_benefits_top", "n_pooled",
                     "n_controlled", "n_opbd_target"]
    del controlled

    def counts_of(frame: pd.DataFrame, opbd_frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
        parts = []
        for scope, part, opbd_part in ((NATIONAL, frame, opbd_frame),
                                       *((c, frame[frame["caf"] == c], opbd_frame.iloc[0:0]) for c in DETAILED_CAFS)):
            for name in names:
                if scope != NATIONAL and name in intersections:
                    continue
                grouped = part.groupby(name)[count_columns].sum()
                grouped["n_opbd_target"] = opbd_part.groupby(name).size().reindex(grouped.index).fillna(0)
                grouped = grouped.reset_index().rename(columns={name: "category"})
                grouped["caf"], grouped["attribute"] = scope, name
                parts.append(grouped)
            total = part[count_columns].sum().to_frame().T
            total["n_opbd_target"] = len(opbd_part)
            total["caf"], total["attribute"], total["category"] = scope, ALL_ATTRIBUTES, ALL_ATTRIBUTES
            parts.append(total)
        return pd.concat(parts, ignore_index=True).fillna(0)

    counts = counts_of(people, opbd_target, [*attributes, *intersections])
    rows["monitoring_representation"] = mt.representation_rows(counts, keys, settings, categories, intersections)

    # human decisiveness: the month's households as the cohort of each horizon
    people["band"] = np.where(people["on_list"], "LIST_Q" + np.ceil(
        4 * people["target_rank"].fillna(1) / people["capacity"]).clip(1, 4).astype(int).astype(str),
        np.where(people["decile"] == 1, "OFF_LIST_DECILE_1", "DECILE_" + people["decile"].astype(str)))
    cohort = people[people["eligible"]].copy()
    listed = cohort["band"].isin(LIST_BANDS)
    hazard = np.where(listed, 0.07, np.where(cohort["decile"] <= 3, 0.004, 0.0004))
    hazard = hazard * np.where(listed & (cohort["nationality"] == "NON_EU"), 1.7, 1.0)
    months_to_control = rng.geometric(np.clip(hazard, 1e-6, 1))
    decisiveness = []
    for horizon in settings.horizons_months:
        cohort["controlled"] = (months_to_control <= horizon).astype(int)
        cohort["other"] = (rng.random(len(cohort)) < 0.01 * horizon).astype(int)
        cohort["months"] = np.where(cohort["controlled"] == 1, months_to_control, np.nan)
        parts = []
        for scope in (NATIONAL, *DETAILED_CAFS):
            part = cohort if scope == NATIONAL else cohort[cohort["caf"] == scope]
            for band_name, in_band in (*((b, part[part["band"] == b]) for b in sorted(part["band"].unique())),
                                       (ALL_LIST, part[part["band"].isin(LIST_BANDS)])):
                names = [*attributes, *(intersections if scope == NATIONAL else [])] if band_name == ALL_LIST else []
                for name in [ALL_ATTRIBUTES, *names]:
                    key = pd.Series(ALL_ATTRIBUTES, index=in_band.index) if name == ALL_ATTRIBUTES else in_band[name]
                    grouped = in_band.groupby(key).agg(n_households=("controlled", "size"),
                                                       n_controlled_dmde=("controlled", "sum"),
                                                       n_controlled_other_origin=("other", "sum"),
                                                       median_months_to_control=("months", "median"))
                    grouped = grouped.reset_index(names="category")
                    grouped["caf"], grouped["band"], grouped["attribute"] = scope, band_name, name
                    parts.append(grouped)
        frame = pd.concat(parts, ignore_index=True)
        decisiveness += mt.decisiveness_rows(frame, keys, settings, horizon, add_months(month, -horizon),
                                             categories, intersections)
    rows["monitoring_human_decisiveness"] = decisiveness

    # volumes: every Caf
    others = pd.DataFrame([(c, m, origin, int(rng.integers(11, 40)) if rng.random() < 0.5 else 0)
                           for c in CAF_CODES for m in months for origin in ("OPBD", "OTHER")],
                          columns=["caf", "control_month", "origin", "n"])
    size = people.groupby("caf").size()
    scored = pd.DataFrame([(c, m, int(size.get(c, 0))) for c in CAF_CODES for m in months],
                          columns=["caf", "score_month", "households"])
    capacity = pd.DataFrame([(c, m, max(1, round(0.012 * size.get(c, 0)))) for c in CAF_CODES for m in months],
                            columns=["caf", "score_month", "capacity"])
    rows["monitoring_volumes"] = mt.volumes_rows(dmde, others, scored, capacity, keys, months)

    # drift: modality counts of the month (activity drifts), the previous month, the score
    published = {v.name: np.array([m.share for m in v.modalities], float) for v in spec.variables}
    bins = score_bin_labels(settings.score_bins)
    edges = np.array(settings.score_bins)
    current, previous, reference = [], [], []
    for scope in (NATIONAL, *DETAILED_CAFS):
        n_scope = int(size.sum() if scope == NATIONAL else size.get(scope, 0))
        for variable in spec.variables:
            share = published[variable.name] / published[variable.name].sum()
            if variable.name == "activity":
                share = share * np.array([0.82, 1.9, 1.0, 1.0])[: len(share)]
                share = share / share.sum()
            noise = rng.dirichlet(share * 4000)
            for k, modality in enumerate(variable.codes()):
                current.append((scope, variable.name, modality, int(round(noise[k] * n_scope))))
                previous.append((scope, variable.name, modality, int(round(share[k] * n_scope))))
        part = people if scope == NATIONAL else people[people["caf"] == scope]
        binned = np.clip(np.searchsorted(edges, part["score"].to_numpy(), side="right") - 1, 0, len(bins) - 1)
        for k, label in enumerate(bins):
            current.append((scope, SCORE_VARIABLE, label, int((binned == k).sum())))
            previous.append((scope, SCORE_VARIABLE, label, int((binned == k).sum() * 0.98 + 3)))
            reference.append((scope, SCORE_VARIABLE, label, int((binned == k).sum() * 1.05)))
    columns = ["caf", "variable", "modality", "n_households"]
    opbd_by_modality = []
    for variable in spec.variables:
        codes = variable.codes()
        assigned = rng.choice(len(codes), size=len(opbd), p=published[variable.name] / published[variable.name].sum())
        for k, modality in enumerate(codes):
            mask = assigned == k
            rate = 0.45 if modality == "partner_inactive" else variable.modalities[k].target_share / 100
            target = int((rng.random(mask.sum()) < rate).sum())
            opbd_by_modality.append((variable.name, modality, int(mask.sum()), int(target)))
    rows["monitoring_drift"] = mt.drift_rows(
        pd.DataFrame(current, columns=columns), pd.DataFrame(previous, columns=columns),
        pd.DataFrame(reference, columns=columns), add_months(month, -14),
        pd.DataFrame(opbd_by_modality, columns=["variable", "modality", "n_opbd", "n_target"]),
        keys, settings, spec, bins)

    model_names = tuple(spec.model_names())
    tables = {name: mt.table_frame(name, table_rows, table_schema(name, model_names), settings.min_cell)
              for name, table_rows in rows.items()}
    flag_columns = {"monitoring_representation": "flag", "monitoring_parity": "flag",
                    "monitoring_human_decisiveness": "flag"}
    flagged = {name: int(tables[name][column].isin(["OVER", "UNDER"]).sum()) for name, column in flag_columns.items()}
    flagged["monitoring_drift"] = int((tables["monitoring_drift"]["psi_status"].isin(["MODERATE", "SIGNIFICANT"])
                                       & (tables["monitoring_drift"]["modality"] == tables["monitoring_drift"]
                                          .groupby(["caf", "variable"])["modality"].transform("first"))).sum())
    month_controls = dmde[dmde["control_month"] == months[-1]]
    run = {
        "run_id": run_id, "job": "monitor", "score_month": month, "status": "succeeded", "claim": 1,
        "host": "fixture", "pid": 1, "pid_started": None, "started_at": datetime(2026, 2, 3, 6, 40, tzinfo=timezone.utc),
        "finished_at": RUN_FINISHED_AT, "message": None, "model_version": spec.version, "code_version": "0.1.0",
        "data_origin": "synthetic", "window_start": months[0], "window_end": months[-1],
        "window_months_available": len(months), "months_read": [*months, month], "households_scored": households,
        "dmde_controls_month": len(month_controls), "dmde_controls_window": len(dmde),
        "opbd_controls_window": len(opbd),
        "output_rows": {name: len(frame) for name, frame in tables.items()},
        "suppressed_rows": {name: int(frame["suppressed"].sum()) for name, frame in tables.items()},
        "cells_tested": int(sum(tables[n]["flag"].notna().sum() for n in flag_columns)),
        "flagged_rows": flagged, "stage_seconds": {"fixture": 0.0},
    }
    return tables, run


def write_month(config: Config, month: date, tables: dict[str, pd.DataFrame], run: dict) -> dict[str, int]:
    """Write the tables (each replacing its month) and publish the run's ledger row."""
    model_names = tuple(config.model.model_names())
    versions = {}
    for name, frame in tables.items():
        schema = arrow_schema(table_schema(name, model_names))
        path = config.output_path(name)
        write_deltalake(path, to_arrow(frame.to_dict("records"), schema), mode="overwrite",
                        partition_by=["score_month"], predicate=f"score_month = '{month:%Y-%m-%d}'",
                        commit_properties=None) if _exists(path) else \
            write_deltalake(path, to_arrow(frame.to_dict("records"), schema), partition_by=["score_month"])
        from deltalake import DeltaTable
        versions[name] = DeltaTable(path).version()
    ledger = arrow_schema(MONITORING_RUNS_SCHEMA)
    write_deltalake(config.output_path("monitoring_runs"), to_arrow([{**run, "table_versions": versions}], ledger),
                    mode="append", partition_by=["score_month"])
    return versions


def _exists(path: str) -> bool:
    from deltalake import DeltaTable
    return DeltaTable.is_deltatable(path)


def publish_month(config: Config, month: date, **options) -> MonthFixture:
    tables, run = build_tables(config, month, **options)
    versions = write_month(config, month, tables, run)
    return MonthFixture(config, month, versions, tables, {**run, "table_versions": versions})


# ---------------------------------------------------------------------------------------
# the month's re-estimated odds ratios (`dmde estimate`), for the report's annex


def estimate_rows(config: Config, month: date, run_id: str) -> list[dict]:
    """model_estimates rows of every modality of every model: estimates near the published
    odds ratios, every fifth estimated modality far enough for its interval to exclude the
    published value, small modalities (counts under the minimum cell) and the last modality
    of the first model not estimable."""
    from domain.estimation import ESTIMATED, INTERCEPT, MODALITY, NOT_ESTIMABLE, REFERENCE, design

    spec, rows = config.model, []
    for name in spec.model_names():
        terms = design(spec, name)
        common = {"score_month": month, "model": name, "sample_size": 4_000, "confidence_level": 0.95,
                  "model_version": spec.version, "run_id": run_id}
        rows.append({**common, "term": INTERCEPT, "variable": None, "modality": None, "is_reference": False,
                     "status": ESTIMATED, "n_sample": 4_000, "n_target": 520, "coefficient": -2.31,
                     "standard_error": 0.05, "coefficient_ci_low": -2.41, "coefficient_ci_high": -2.21,
                     "p_value": 0.0, "published_outside_ci": False})
        for i, term in enumerate(terms):
            n_sample = 7 if i % 7 == 3 else 40 + 13 * i
            row = {**common, "term": MODALITY, "variable": term.variable, "modality": term.modality,
                   "is_reference": term.is_reference, "n_sample": n_sample, "n_target": n_sample // 8,
                   "published_odds_ratio": term.published_odds_ratio}
            if term.is_reference:
                rows.append({**row, "status": REFERENCE, "odds_ratio": 1.0})
            elif name == spec.model_names()[0] and i == len(terms) - 1:
                rows.append({**row, "status": NOT_ESTIMABLE, "reason": "absent from the sample"})
            else:
                ratio = term.published_odds_ratio * (1.9 if i % 5 == 0 else 0.96)
                low, high = ratio * math.exp(-0.35), ratio * math.exp(0.35)
                rows.append({**row, "status": ESTIMATED, "coefficient": math.log(ratio), "standard_error": 0.18,
                             "coefficient_ci_low": math.log(low), "coefficient_ci_high": math.log(high),
                             "odds_ratio": ratio, "odds_ratio_ci_low": low, "odds_ratio_ci_high": high,
                             "p_value": 0.04, "published_outside_ci": not low <= term.published_odds_ratio <= high})
    return rows


def publish_estimates(config: Config, month: date) -> list[dict]:
    """Write the month's model_estimates and the `succeeded` estimate row of `runs` that
    records its version, as `dmde estimate` would; the rows written."""
    from deltalake import DeltaTable

    from domain.estimation import MODEL_ESTIMATES_COLUMNS
    from jobs.lib.publish import RUNS_SCHEMA

    run_id = f"estimate-{month:%Y-%m}-fixture"
    rows = estimate_rows(config, month, run_id)
    path = config.output_path("model_estimates")
    write_deltalake(path, to_arrow(rows, arrow_schema(MODEL_ESTIMATES_COLUMNS)), partition_by=["score_month"])
    run = {"run_id": run_id, "job": "estimate", "score_month": month, "status": "succeeded", "claim": 1,
           "host": "fixture", "pid": 1, "started_at": RUN_FINISHED_AT, "finished_at": RUN_FINISHED_AT,
           "table_versions": {"model_estimates": DeltaTable(path).version()},
           "output_rows": {"model_estimates": len(rows)}, "model_version": config.model.version}
    write_deltalake(config.output_path("runs"), to_arrow([run], arrow_schema(RUNS_SCHEMA)), mode="append",
                    partition_by=["score_month"])
    return rows
