"""`dmde whatif`: the households of a what-if file scored by the very transforms of
`dmde score`, so that a what-if and the monthly run can never disagree.

A household described in source terms becomes rows of the six source tables, with the
schemas of `expectations/` (the data contract the scoring reads); `compute_features`,
`model.with_modalities`, `model.with_prefill_start` and `model.score` then run on them
as `jobs/lib/scoring.py` runs them on a month's extract. A household given by its
modalities enters at `model.score`. The place of each score among its Caf's scored
households comes from the month's published `scores`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import reduce
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from domain.errors import ConfigError, Issue, Problems, display, format_path
from domain.model import ModelSpec
from domain.whatif import FORM_TAGS, ModalityHousehold, SourceHousehold, WhatIfFile
from expectations import declarations, events, households, members, payments
from jobs.lib.config import Config, _describe, read_yaml
from jobs.lib.opbd import caf_starts
from jobs.lib.publish import published_ledger_row, scan_published
from transforms import model, whatif
from transforms.features import compute_features

SOURCE_SCHEMAS = {"households": households.SCHEMA, "members": members.SCHEMA, "payments": payments.SCHEMA,
                  "declarations": declarations.SCHEMA, "events": events.SCHEMA}
MONTH_NOT_SCORED = "month not scored"


class WhatIfError(ConfigError):
    """A what-if file that cannot be scored: one `file: household: key path: problem`
    line per problem (exit code 2, as a bad argument)."""


@dataclass(frozen=True)
class WhatIf:
    """A checked what-if file, with the score month and each household's Caf resolved."""

    path: Path
    file: WhatIfFile
    month: date
    cafs: dict[str, str]  # household id -> Caf

    @property
    def households(self):
        return self.file.households


# ---------------------------------------------------------------------------------------
# The file


def load_whatif(path: Path | str, config: Config, spec: ModelSpec, *, month: date | None = None,
                caf: str | None = None) -> WhatIf:
    """The what-if file at `path`, checked against the model file and the score month
    (`month`, `caf`: the command line's, which override the file's)."""
    path = Path(path)
    data = read_yaml(path)
    try:
        file = WhatIfFile.model_validate(data)
    except ValidationError as exc:
        raise WhatIfError.from_issues(_issues(path, data, _flatten(exc))) from None
    score_month = file.score_month(month)
    if score_month is None:
        raise WhatIfError(display(path), "month", "no score month: give `month: YYYY-MM` in the file, or --month")
    cal = config.calendar(score_month)
    config.smic_for(cal.snapshot_month)  # a month before the SMIC table is a configuration error, said now
    problems = file.problems(spec, cal, caf)
    if problems:
        raise WhatIfError.from_issues(_issues(path, data, problems))
    return WhatIf(path, file, score_month, {h.id: file.caf_of(h, caf) for h in file.households})


def _flatten(exc: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    """(key path, problem) of each error, the household's form tag left out."""
    found = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part not in FORM_TAGS and part != "[key]")
        nested = (error.get("ctx") or {}).get("error")
        problems = nested.problems if isinstance(nested, Problems) else [((), _describe(error))]
        found += [(loc + tuple(sub), problem) for sub, problem in problems]
    return found


def _issues(path: Path, data: Any, problems: list[tuple[tuple[str | int, ...], str]]) -> list[Issue]:
    """Each problem named by its household (`household "<id>" (households[i])`) and the key
    path inside it."""
    listed = data.get("households") if isinstance(data, dict) else None
    issues = []
    for loc, problem in problems:
        where = format_path(loc)
        if len(loc) >= 2 and loc[0] == "households" and isinstance(loc[1], int):
            item = listed[loc[1]] if isinstance(listed, list) and loc[1] < len(listed) else None
            name = item.get("id") if isinstance(item, dict) else None
            household = f"household {name!r} (households[{loc[1]}])" if isinstance(name, str) \
                else f"households[{loc[1]}] (no id)"
            where = f"{household}: {format_path(loc[2:]) or 'the household'}"
        issues.append(Issue(display(path), where, problem))
    return issues


# ---------------------------------------------------------------------------------------
# Scoring


def source_frames(spark: SparkSession, rows: dict[str, list[dict[str, Any]]]) -> dict[str, DataFrame]:
    """The rows of each source table as a DataFrame with the table's schema."""
    frames = {}
    for table, schema in SOURCE_SCHEMAS.items():
        struct = StructType([StructField(name, kind, True) for name, kind in schema.items()])
        frames[table] = spark.createDataFrame([tuple(row[name] for name in schema) for row in rows.get(table, [])],
                                              struct)
    return frames


def input_column(variable: str) -> str:
    return f"input_{variable}"


def modalities_of(spark: SparkSession, config: Config, spec: ModelSpec, what: WhatIf) -> DataFrame:
    """score_month, caf, household_id, every variable's modality and the value it comes
    from (`input_<variable>`, as text; null for a household given by its modalities)."""
    cal = config.calendar(what.month)
    names = [v.name for v in spec.variables]
    parts = []
    described = [h for h in what.households if isinstance(h, SourceHousehold)]
    if described:
        rows: dict[str, list[dict[str, Any]]] = {}
        for household in described:
            for table, table_rows in household.rows(what.cafs[household.id], cal).items():
                rows.setdefault(table, []).extend(table_rows)
        sources = source_frames(spark, rows)
        features = compute_features(sources["households"], sources["members"], sources["payments"],
                                    sources["declarations"], sources["events"], cal=cal,
                                    smic_eur=config.smic_for(cal.snapshot_month), rules=config.rules)
        parts.append(features.transform(model.with_modalities, spec).select(
            *whatif.KEY, *names, *[F.col(v.input).cast("string").alias(input_column(v.name)) for v in spec.variables]))
    given = [h for h in what.households if isinstance(h, ModalityHousehold)]
    if given:
        schema = ", ".join(["score_month date", "caf string", "household_id string", *[f"{n} string" for n in names]])
        frame = spark.createDataFrame([(what.month, what.cafs[h.id], h.id, *h.codes(spec).values()) for h in given],
                                      schema)
        parts.append(frame.select("*", *[F.lit(None).cast("string").alias(input_column(n)) for n in names]))
    return reduce(DataFrame.unionByName, parts)


def score_whatif(spark: SparkSession, config: Config, spec: ModelSpec, what: WhatIf) -> list[dict[str, Any]]:
    """Each household of the file: its modalities, probabilities, blend weight, score,
    contributions, best single change and place among its Caf's scored households (one
    dict per household, in the file's order)."""
    modalities = modalities_of(spark, config, spec, what).persist(StorageLevel.MEMORY_AND_DISK)
    prefill = model.with_prefill_start(caf_starts(spark, config))
    scored = (modalities.transform(prefill)
              .transform(model.score, spec, what.month)
              .transform(whatif.with_contributions, spec)
              .persist(StorageLevel.MEMORY_AND_DISK))
    # Each result is collected on its own (a handful of rows each): joined together on top
    # of the model's wide projections, they cost Spark's optimizer minutes.
    try:
        rows = {row.household_id: row.asDict() for row in scored.collect()}
        changes = (modalities.transform(whatif.single_changes, spec)
                   .transform(prefill)
                   .transform(model.score, spec, what.month))
        for row in whatif.best_change(changes, scored).collect():
            rows[row.household_id].update(row.asDict())
        run = published_ledger_row(config, "runs", what.month, "score")
        if run is not None:
            counts = score_counts(spark, config, what.month, run["table_versions"], sorted(set(what.cafs.values())))
            for row in whatif.place_in_caf(scored, counts).collect():
                rows[row.household_id].update(row.asDict())
    finally:
        scored.unpersist()
        modalities.unpersist()
    _check_matched(what, spec, rows)
    return [_household(what, spec, household, rows[household.id], run) for household in what.households]


def score_counts(spark: SparkSession, config: Config, month: date, versions: dict[str, int],
                 cafs: list[str]) -> DataFrame:
    """caf, score, households: how many of each Caf's households the month's published
    `scores` gives each score, read with polars from the Delta log as `dmde show` reads it
    (a handful of Caf, grouped before Spark sees them)."""
    import polars as pl

    grouped = (scan_published(config, "scores", month, versions)
               .filter(pl.col("caf").is_in(cafs))
               .group_by("caf", "score").agg(pl.len().alias("households"))
               .collect())
    return spark.createDataFrame(grouped.rows(), "caf string, score double, households long")


def _check_matched(what: WhatIf, spec: ModelSpec, rows: dict[str, dict[str, Any]]) -> None:
    """A described household whose input matches no modality (there is no catch-all)."""
    issues = []
    for i, household in enumerate(what.households):
        row = rows.get(household.id)
        if row is None:
            issues.append(Issue(display(what.path), f"household {household.id!r} (households[{i}])",
                                f"not in the scored population of {what.month:%Y-%m}"))
            continue
        for v in spec.variables:
            if row[v.name] is None:
                issues.append(Issue(display(what.path), f"household {household.id!r} (households[{i}])",
                                    f"{v.name}: its input {v.input} = {row[input_column(v.name)]} matches no "
                                    "modality of the model file"))
    if issues:
        raise WhatIfError.from_issues(issues)


def _household(what: WhatIf, spec: ModelSpec, household, row: dict[str, Any], run) -> dict[str, Any]:
    """One household's result, as `dmde whatif --json` prints it."""
    by_name = {v.name: v for v in spec.variables}
    change = None
    if row.get("changed_variable") is not None:
        variable = by_name[row["changed_variable"]]
        change = {"variable": variable.name, "variable_label": variable.label,
                  "from": row["changed_from"], "from_label": variable.modality(row["changed_from"]).label,
                  "to": row["changed_to"], "to_label": variable.modality(row["changed_to"]).label,
                  "score": row["changed_score"], "score_change": row["score_change"]}
    place: dict[str, Any] = {"status": MONTH_NOT_SCORED}
    if run is not None:
        if row.get("households_in_caf"):
            place = {"status": "scored", "rank_in_caf": row["rank_in_caf"],
                     "households_in_caf": row["households_in_caf"], "percentile_in_caf": row["percentile_in_caf"],
                     "run_id": run["run_id"], "model_version": run["model_version"]}
        else:
            place = {"status": f"no household of Caf {row['caf']} scored in {what.month:%Y-%m}",
                     "run_id": run["run_id"], "model_version": run["model_version"]}
    return {
        "id": household.id,
        "label": household.label,
        "given_as": "modalities" if isinstance(household, ModalityHousehold) else "source terms",
        "caf": row["caf"],
        "score_month": f"{what.month:%Y-%m}",
        "model_version": spec.calibrated_version(),
        **{name: row[name] for name in spec.score_columns},
        "place_in_caf": place,
        "variables": [{"variable": v.name, "variable_label": v.label, "modality": row[v.name],
                       "modality_label": v.modality(row[v.name]).label, "input": row[input_column(v.name)],
                       "contribution": row[whatif.contribution_column(v.name)]} for v in spec.variables],
        "what_would_change_it": change,
    }
