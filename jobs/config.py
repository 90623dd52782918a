"""The one configuration loader: YAML settings, reference CSVs and model files, as strict
typed models checked on load.

`load_config()` reads `conf/base.yaml`, deep-merges the environment overlay
(`conf/<env>.yaml`), any extra `--conf` files and the command-line overrides, then loads
the reference data the settings point to: the 101 Caf (`cafs.csv`), the dated net
monthly SMIC (`smic.csv`) and the model file (`models/*.yaml`). Every problem is a
`ConfigError` naming the file, the key path (or CSV row and column) and what is wrong,
so that a bad edit fails at start-up and not in the middle of a Spark job.
"""
from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)

__all__ = [
    "Caf", "Capacity", "Ceilings", "Config", "ConfigError", "ControlDelays", "Intercept", "Issue",
    "Modality", "ModelInfo", "ModelSpec", "Quality", "Settings", "SmicRate",
    "SparkSettings", "Target", "UnknownNameError", "Variable", "Windows",
    "load_cafs", "load_config", "load_model", "load_smic", "write_model",
]

DEFAULT_CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
BASE_FILE = "base.yaml"
OVERRIDES_SOURCE = "<overrides>"
SHARE_TOLERANCE = 2.0  # the note's shares are rounded to whole percents

# The Caf codes: the départements of metropolitan France (Corsica as 2A/2B) and the five
# overseas départements.
CAF_CODES: tuple[str, ...] = (
    *(f"{n:02d}" for n in range(1, 20)), "2A", "2B", *(f"{n:02d}" for n in range(21, 96)),
    "971", "972", "973", "974", "976",
)


# ---------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class Issue:
    """One problem: where (file, then key path or CSV row/column) and what."""

    source: str
    path: str
    problem: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.path, self.problem) if part)


class ConfigError(ValueError):
    """A configuration problem; the message has one `file: path: problem` line per issue."""

    def __init__(self, source: str | Path, path: str, problem: str) -> None:
        self.issues: tuple[Issue, ...] = (Issue(_display(source), path, problem),)
        super().__init__(str(self))

    @classmethod
    def from_issues(cls, issues: Iterable[Issue]) -> ConfigError:
        issues = tuple(issues)
        if not issues:
            raise ValueError("a ConfigError needs at least one issue")
        error = cls.__new__(cls)
        error.issues = issues
        ValueError.__init__(error, str(error))
        return error

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


class UnknownNameError(ConfigError, KeyError):
    """A table, model, variable or Caf name that the configuration does not define."""

    def __str__(self) -> str:  # KeyError would quote the message
        return ConfigError.__str__(self)


class _Problems(ValueError):
    """Raised by model validators: problems at key paths relative to the validated object,
    so that the ConfigError points at the exact key rather than at the whole object."""

    def __init__(self, problems: Sequence[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{_format_path(loc)}: {msg}" for loc, msg in self.problems))


def _raise_problems(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    if problems:
        raise _Problems(problems)


def _display(source: str | Path) -> str:
    """A file as the user would type it: relative to the current directory when inside it."""
    text = str(source)
    if text.startswith("<"):
        return text
    path = Path(source)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return text


def _format_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_\-]+", str(part)):
            out += ("." if out else "") + str(part)
        else:
            out += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return out


def _got(value: Any) -> str:
    text = repr(value)
    return f" (got {text if len(text) <= 80 else text[:77] + '...'})"


def _describe(error: Mapping[str, Any]) -> str:
    """A pydantic error in the words of this project."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    bounds = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"),
              "less_than": ("<", "lt"), "less_than_equal": ("<=", "le")}
    if kind in bounds:
        op, name = bounds[kind]
        bound = ctx.get(name)
        bound = f"{bound:g}" if isinstance(bound, float) else bound
        return f"must be {op} {bound}{_got(value)}"
    if kind == "string_type":
        hint = ""
        if isinstance(value, (bool, int, float)):
            hint = " (YAML reads unquoted yes/no/on/off as booleans and digits as numbers: quote it)"
        return f"must be a string{_got(value)}{hint}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"must be an integer{_got(value)}"
    if kind in {"float_type", "float_parsing"}:
        return f"must be a number{_got(value)}"
    if kind == "finite_number":
        return f"must be a finite number{_got(value)}"
    if kind in {"bool_type", "bool_parsing"}:
        return f"must be true or false{_got(value)}"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"must be a mapping{_got(value)}"
    if kind in {"list_type", "tuple_type"}:
        return f"must be a list{_got(value)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{_got(value)}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s){_got(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in {"value_error", "assertion_error"}:
        return str(ctx.get("error") or error["msg"])
    return f"{error['msg']}{_got(value)}"


def _issues_from(exc: ValidationError, source_of, prefix: str = "") -> list[Issue]:
    """Flatten a ValidationError; `source_of(loc)` names the file that set that key."""
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")
        nested = (error.get("ctx") or {}).get("error")
        found = (nested.problems if isinstance(nested, _Problems)
                 else [((), _describe(error))])
        for sub_loc, problem in found:
            full = loc + tuple(sub_loc)
            path = _format_path(full)
            if prefix:
                path = f"{prefix}, column {path}" if path else prefix
            issues.append(Issue(_display(source_of(full)), path, problem))
    return issues


# ---------------------------------------------------------------------------------------
# Value types


def _parse_month(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        if value.day != 1:
            raise ValueError(f"must be a month YYYY-MM (got the date {value.isoformat()})")
        return value
    match = re.fullmatch(r"(\d{4})-(\d{2})", value) if isinstance(value, str) else None
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"must be a month YYYY-MM{_got(value)}")
    return date(int(match[1]), int(match[2]), 1)


def _parse_iso_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"must be a date YYYY-MM-DD{_got(value)}")


def _parse_timestamp(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(f"must be a timestamp with its time zone, YYYY-MM-DDTHH:MM:SSZ{_got(value)}")
    return parsed


def _spark_value(value: Any) -> str | int | float | bool:
    if isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"must be a string, number or boolean{_got(value)}")


def _caf_code(value: Any) -> str:
    if isinstance(value, str) and value in CAF_CODES:
        return value
    hint = " (quote it in YAML: \"06\")" if isinstance(value, int) else ""
    raise ValueError(f"not a Caf code (01…19, 2A, 2B, 21…95, 971…974, 976){_got(value)}{hint}")


# A month is a `date` on its first day, written YYYY-MM.
Month = Annotated[date, BeforeValidator(_parse_month),
                  PlainSerializer(lambda d: d.strftime("%Y-%m"), return_type=str)]
IsoDate = Annotated[date, BeforeValidator(_parse_iso_date)]
Timestamp = Annotated[datetime, BeforeValidator(_parse_timestamp)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
# YAML gives lists; the models keep immutable tuples.
_list_to_tuple = BeforeValidator(lambda value: tuple(value) if isinstance(value, list) else value)
SparkValue = Annotated[str | int | float | bool, PlainValidator(_spark_value)]
CafCode = Annotated[str, PlainValidator(_caf_code)]


class _Strict(BaseModel):
    """Values as YAML gives them: no string-to-number or number-to-string coercion."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Row(BaseModel):
    """A CSV row: every cell arrives as a string and is parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------
# Settings: base.yaml and its overlays


class SparkSettings(_Strict):
    app_name: NonEmptyStr
    master: str | None = None  # None: spark-submit decides
    conf: dict[str, SparkValue] = Field(default_factory=dict)


class Windows(_Strict):
    short_months: PositiveInt
    long_months: PositiveInt

    @model_validator(mode="after")
    def _short_within_long(self) -> Windows:
        if self.short_months > self.long_months:
            _raise_problems([(("short_months",),
                              f"must be <= long_months ({self.short_months} > {self.long_months})")])
        return self


class Capacity(_Strict):
    national_controls_per_year: PositiveInt
    # The national capacity is for this many households; a smaller scored population (a
    # synthetic one, a pilot) gets the same share of controls, not the same number.
    reference_households: PositiveInt
    per_caf_monthly: dict[CafCode, NonNegativeInt] = Field(default_factory=dict)


class Rules(_Strict):
    """Thresholds of DMDE.md §3 that are not band edges of the model file."""
    child_adult_age: PositiveInt
    child_working_age: PositiveInt
    corrections_min_count: PositiveInt
    corrections_min_mean_gap_eur: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ControlDelays(_Strict):
    with_impact_months: PositiveInt
    without_impact_months: PositiveInt
    uniform_from: Month
    uniform_months: PositiveInt

    def months_for(self, score_month: date, had_impact: bool) -> int:
        """Minimum months since the last DMDE control for a household to be eligible."""
        if score_month >= self.uniform_from:
            return self.uniform_months
        return self.with_impact_months if had_impact else self.without_impact_months


class Ceilings(_Strict):
    """Plausible upper bounds of source amounts: above them a row is quarantined."""
    payment_eur: Positive  # one benefit's monthly payment
    resources_eur: Positive  # a household's net monthly resources
    declaration_eur: Positive  # an amount of a quarterly DTR
    control_eur: Positive  # an over- or underpayment found by a control
    overpayment_months: PositiveInt


class Quality(_Strict):
    """Validation of the source tables (jobs/validate.py, rules in expectations/)."""
    max_quarantine_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    ceilings: Ceilings
    earliest_birth_date: IsoDate
    results_dir: NonEmptyStr  # relative to data_dir: <results_dir>/<run_id>/
    examples_per_rule: PositiveInt  # example keys per rule in the summary and error messages
    data_docs: bool  # also render Great Expectations' HTML data docs
    # GX checks every row rule too (two passes over each table); false: GX checks the
    # schemas only, the job's own filter still applies and counts every rule.
    gx_row_rules: bool
    # Values GX lists per failed expectation: each costs GX a pass over the table; the
    # quarantine table holds every rejected row anyway.
    gx_unexpected_examples: NonNegativeInt


class Settings(_Strict):
    """The merged YAML settings, before paths are resolved and reference data loaded."""

    data_dir: NonEmptyStr
    sources: dict[str, NonEmptyStr]
    outputs: dict[str, NonEmptyStr]
    spark: SparkSettings
    windows: Windows
    model_file: NonEmptyStr
    cafs_file: NonEmptyStr
    smic_file: NonEmptyStr
    synth_file: NonEmptyStr
    capacity: Capacity
    control_delays: ControlDelays
    quality: Quality
    rules: Rules


# ---------------------------------------------------------------------------------------
# Reference data: cafs.csv, smic.csv


class Caf(_Row):
    code: CafCode
    name: NonEmptyStr
    prefill_start: IsoDate  # first month of pre-filled resource declarations (model 2)
    relative_size: Positive  # relative weight only (≈ population in thousands)


class SmicRate(_Row):
    valid_from: IsoDate
    net_monthly_eur: Positive


# ---------------------------------------------------------------------------------------
# The model file: models/*.yaml


class Target(_Strict):
    overpayment_min_eur: Positive
    overpayment_min_months: PositiveInt
    published_rate: Annotated[float, Field(gt=0, lt=1)]


class Intercept(_Strict):
    """A calibrated intercept and where it comes from."""

    value: Finite
    sample_size: PositiveInt
    score_month: Month
    computed_at: Annotated[Timestamp, PlainSerializer(
        lambda t: t.isoformat().replace("+00:00", "Z"), return_type=str)]
    method: NonEmptyStr


class ModelInfo(_Strict):
    label: NonEmptyStr
    intercept: Intercept | None = None  # None: not calibrated yet


class Modality(_Strict):
    code: NonEmptyStr
    label: NonEmptyStr
    # Banded variables only: `exact`, or a band [lower, upper) with either edge omitted
    # for an unbounded one.
    exact: Finite | None = None
    lower: Finite | None = None
    upper: Finite | None = None
    odds_ratio: dict[str, Positive]  # model name -> published odds ratio
    share: Percent  # % of the published sample in this modality
    target_share: Percent  # % of this modality's sample in the target

    @property
    def is_band(self) -> bool:
        return self.lower is not None or self.upper is not None

    @model_validator(mode="after")
    def _one_form(self) -> Modality:
        problems = []
        if self.exact is not None and self.is_band:
            problems.append((("exact",), "use either `exact` or `lower`/`upper`, not both"))
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            problems.append((("upper",), f"must be > lower (got lower={self.lower:g}, "
                                         f"upper={self.upper:g})"))
        _raise_problems(problems)
        return self


class Variable(_Strict):
    name: NonEmptyStr  # the modality column written in `features`
    label: NonEmptyStr
    input: NonEmptyStr  # the column of the features transform the modality derives from
    kind: Literal["categorical", "banded"]
    modalities: Annotated[tuple[Modality, ...], _list_to_tuple, Field(min_length=2)]

    def in_model(self, model: str) -> bool:
        return model in self.modalities[0].odds_ratio

    def modality(self, code: str) -> Modality:
        for modality in self.modalities:
            if modality.code == code:
                return modality
        raise UnknownNameError(f"variable {self.name}", "modalities",
                               f"no modality {code!r} (known: {', '.join(self.codes())})")

    def codes(self) -> list[str]:
        return [modality.code for modality in self.modalities]

    @model_validator(mode="after")
    def _consistent(self) -> Variable:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        first_at: dict[str, int] = {}
        for i, modality in enumerate(self.modalities):
            if modality.code in first_at:
                problems.append((("modalities", i, "code"),
                                 f"duplicate modality code {modality.code!r} "
                                 f"(also modalities[{first_at[modality.code]}])"))
            first_at.setdefault(modality.code, i)
        problems += self._band_problems()
        models = {name for modality in self.modalities for name in modality.odds_ratio}
        for i, modality in enumerate(self.modalities):
            missing = sorted(models - modality.odds_ratio.keys())
            if missing:
                problems.append((("modalities", i, "odds_ratio"),
                                 f"no odds ratio for {', '.join(missing)}: a variable is in a "
                                 "model with all its modalities or with none"))
        total = sum(modality.share for modality in self.modalities)
        if abs(total - 100) > SHARE_TOLERANCE:
            problems.append((("modalities",),
                             f"shares sum to {total:g}, must be 100 ± {SHARE_TOLERANCE:g}"))
        _raise_problems(problems)
        return self

    def _band_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems = []
        if self.kind == "categorical":
            for i, modality in enumerate(self.modalities):
                for field in ("exact", "lower", "upper"):
                    if getattr(modality, field) is not None:
                        problems.append((("modalities", i, field),
                                         "a categorical modality has no band fields"))
            return problems
        bands = []
        for i, modality in enumerate(self.modalities):
            if modality.exact is None and not modality.is_band:
                problems.append((("modalities", i),
                                 "a banded modality needs `exact` or `lower`/`upper`"))
            elif modality.is_band:
                bands.append((i, modality))
        # The bands, in listed order, must tile an interval: each starts where the
        # previous one ends, so every value matches exactly one band.
        for (_, previous), (i, band) in zip(bands, bands[1:]):
            if previous.upper is None:
                problems.append((("modalities", i),
                                 f"comes after a band unbounded above ({previous.code}): "
                                 "bands must be listed in increasing order"))
            elif band.lower is None:
                problems.append((("modalities", i, "lower"),
                                 "only the first band may be unbounded below"))
            elif band.lower < previous.upper:
                problems.append((("modalities", i, "lower"),
                                 f"bands must be in increasing order: lower {band.lower:g} is "
                                 f"below the previous band's upper {previous.upper:g}"))
            elif band.lower > previous.upper:
                problems.append((("modalities", i, "lower"),
                                 f"bands must be contiguous: lower {band.lower:g} leaves a gap "
                                 f"after the previous band's upper {previous.upper:g}"))
        return problems


class ModelSpec(_Strict):
    """A scorecard: variables with modalities and odds ratios, one intercept per model."""

    version: NonEmptyStr
    title: NonEmptyStr
    source: NonEmptyStr
    target: Target
    models: Annotated[dict[str, ModelInfo], Field(min_length=1)]
    variables: Annotated[tuple[Variable, ...], _list_to_tuple, Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for field in ("name", "input"):
            first_at: dict[str, int] = {}
            for i, variable in enumerate(self.variables):
                value = getattr(variable, field)
                if value in first_at:
                    problems.append((("variables", i, field),
                                     f"duplicate variable {field} {value!r} "
                                     f"(also variables[{first_at[value]}])"))
                first_at.setdefault(value, i)
        for i, variable in enumerate(self.variables):
            for j, modality in enumerate(variable.modalities):
                for name in modality.odds_ratio:
                    if name not in self.models:
                        problems.append((("variables", i, "modalities", j, "odds_ratio", name),
                                         f"unknown model (models: {', '.join(self.models)})"))
        _raise_problems(problems)
        return self

    def model_names(self) -> list[str]:
        return list(self.models)

    def variables_of(self, model: str) -> list[Variable]:
        self._check_model(model)
        return [variable for variable in self.variables if variable.in_model(model)]

    def variable(self, name: str) -> Variable:
        for variable in self.variables:
            if variable.name == name:
                return variable
        raise UnknownNameError(f"model {self.version}", "variables",
                               f"no variable {name!r} (known: "
                               f"{', '.join(v.name for v in self.variables)})")

    def is_calibrated(self) -> bool:
        return not self.uncalibrated_models()

    def uncalibrated_models(self) -> list[str]:
        return [name for name, info in self.models.items() if info.intercept is None]

    def intercept_of(self, model: str) -> float:
        self._check_model(model)
        intercept = self.models[model].intercept
        if intercept is None:
            raise ConfigError(f"model {self.version}", f"models.{model}.intercept",
                              "not calibrated yet: run the calibration first")
        return intercept.value

    def with_intercept(self, model: str, intercept: Intercept) -> ModelSpec:
        """A copy of this spec with `model`'s intercept set (write it with write_model)."""
        self._check_model(model)
        info = self.models[model].model_copy(update={"intercept": intercept})
        return self.model_copy(update={"models": {**self.models, model: info}})

    def _check_model(self, model: str) -> None:
        if model not in self.models:
            raise UnknownNameError(f"model {self.version}", "models",
                                   f"no model {model!r} (known: {', '.join(self.models)})")


# ---------------------------------------------------------------------------------------
# The loaded configuration


class Config(BaseModel):
    """Settings with absolute paths, plus the reference data and the model they name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str
    conf_dir: Path
    data_dir: Path
    sources: dict[str, str]
    outputs: dict[str, str]
    spark: SparkSettings
    windows: Windows
    capacity: Capacity
    control_delays: ControlDelays
    quality: Quality
    rules: Rules
    model_file: Path
    cafs_file: Path
    smic_file: Path
    synth_file: Path
    cafs: tuple[Caf, ...]
    smic: tuple[SmicRate, ...]
    model: ModelSpec

    def source_path(self, name: str) -> str:
        return self._table_path("sources", self.sources, name)

    def output_path(self, name: str) -> str:
        return self._table_path("outputs", self.outputs, name)

    def _table_path(self, section: str, tables: Mapping[str, str], name: str) -> str:
        if name not in tables:
            raise UnknownNameError(self.conf_dir / BASE_FILE, section,
                                   f"no table {name!r} (known: {', '.join(tables)})")
        return str(self.data_dir / tables[name])

    def smic_for(self, month: date) -> float:
        """The net monthly SMIC in force on `month` (any day of it)."""
        in_force = [rate for rate in self.smic if rate.valid_from <= month]
        if not in_force:
            raise ConfigError(self.smic_file, "",
                              f"no net monthly SMIC in force on {month.isoformat()}: "
                              f"the table starts on {self.smic[0].valid_from.isoformat()}")
        return in_force[-1].net_monthly_eur

    def caf(self, code: str) -> Caf:
        for caf in self.cafs:
            if caf.code == code:
                return caf
        raise UnknownNameError(self.cafs_file, "code", f"no Caf {code!r}")


# ---------------------------------------------------------------------------------------
# Reading files


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            continue  # unhashable: construct_mapping reports it
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {first})", key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(path, where, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", f"invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, "", f"must hold a mapping at the top level{_got(data)}")
    return data


def _read_csv(path: Path, row_model: type[_Row]) -> list[tuple[str, _Row]]:
    """The rows of a CSV whose header is exactly `row_model`'s fields, each with its
    position (`row N (line L)`) for error messages."""
    columns = list(row_model.model_fields)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            lines = list(enumerate(csv.reader(handle, strict=True), start=1))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except csv.Error as exc:
        raise ConfigError(path, "", f"malformed CSV: {exc}") from None
    if not lines:
        raise ConfigError(path, "", f"empty file (expected the header {','.join(columns)})")
    header = [name.strip() for name in lines[0][1]]
    missing = [name for name in columns if name not in header]
    unknown = [name for name in header if name not in columns]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    for problem, names in (("missing column", missing), ("unknown column", unknown),
                           ("duplicate column", duplicated)):
        if names:
            raise ConfigError(path, "line 1", f"{problem}(s): {', '.join(names)} "
                                              f"(expected {','.join(columns)})")
    rows, issues, row_number = [], [], 0
    for line_number, cells in lines[1:]:
        if not any(cell.strip() for cell in cells):
            continue
        row_number += 1
        where = f"row {row_number} (line {line_number})"
        if len(cells) != len(header):
            issues.append(Issue(_display(path), where,
                                f"expected {len(header)} fields, got {len(cells)}"))
            continue
        record = {name: cell.strip() for name, cell in zip(header, cells)}
        try:
            rows.append((where, row_model.model_validate(record)))
        except ValidationError as exc:
            issues += _issues_from(exc, lambda _loc: path, prefix=where)
    if issues:
        raise ConfigError.from_issues(issues)
    return rows


def load_cafs(path: str | Path) -> tuple[Caf, ...]:
    """The Caf table: each of the 101 codes exactly once."""
    path = Path(path)
    rows = _read_csv(path, Caf)
    issues, first_at = [], {}
    for where, caf in rows:
        if caf.code in first_at:
            issues.append(Issue(_display(path), f"{where}, column code",
                                f"duplicate Caf code {caf.code!r} (first at {first_at[caf.code]})"))
        first_at.setdefault(caf.code, where)
    missing = [code for code in CAF_CODES if code not in first_at]
    if missing:
        issues.append(Issue(_display(path), "",
                            f"expected the {len(CAF_CODES)} Caf, got {len(first_at)}: "
                            f"missing {', '.join(missing)}"))
    if issues:
        raise ConfigError.from_issues(issues)
    return tuple(caf for _, caf in rows)


def load_smic(path: str | Path) -> tuple[SmicRate, ...]:
    """The dated net monthly SMIC, valid_from strictly increasing."""
    path = Path(path)
    rows = _read_csv(path, SmicRate)
    if not rows:
        raise ConfigError(path, "", "no rate")
    issues = []
    for (_, previous), (where, rate) in zip(rows, rows[1:]):
        if rate.valid_from <= previous.valid_from:
            issues.append(Issue(_display(path), f"{where}, column valid_from",
                                f"must be after the previous row's {previous.valid_from} "
                                "(dates strictly increasing)"))
    if issues:
        raise ConfigError.from_issues(issues)
    return tuple(rate for _, rate in rows)


def load_model(path: str | Path) -> ModelSpec:
    path = Path(path)
    data = _read_yaml(path)
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.from_issues(_issues_from(exc, lambda _loc: path)) from None


# ---------------------------------------------------------------------------------------
# Writing the model file back (after calibration)


class _FlowDict(dict):
    """A mapping written on one line."""


class _ModelDumper(yaml.SafeDumper):
    pass


_ModelDumper.add_representer(
    _FlowDict, lambda dumper, data: dumper.represent_mapping(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, data, flow_style=True))

_MODEL_HEADER = """\
# DMDE model file: variables, modalities, published odds ratios and shares, and the
# calibrated intercepts with their provenance. Schema: jobs/config.py (ModelSpec).
# Banded modalities: `exact`, or [lower, upper) with an omitted edge unbounded, matched
# in listed order (first match wins). A model absent from `odds_ratio`: the variable is
# not in that model. Rewritten by jobs.config.write_model (comments are not kept).
"""


def _compact(number: float | None) -> float | int | None:
    """62.0 -> 62, so that shares and band edges read as in the note."""
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def write_model(spec: ModelSpec, path: str | Path) -> None:
    """Write `spec` as YAML, keeping the variable and modality order; atomic replace."""
    path = Path(path)
    doc = spec.model_dump(mode="json")
    doc["target"] = {key: _compact(value) for key, value in doc["target"].items()}
    for variable in doc["variables"]:
        modalities = []
        for modality in variable["modalities"]:
            compacted = {key: _compact(value) if key not in {"odds_ratio", "code", "label"}
                         else value for key, value in modality.items() if value is not None}
            compacted["odds_ratio"] = _FlowDict(compacted["odds_ratio"])
            modalities.append(_FlowDict(compacted))
        variable["modalities"] = modalities
    text = _MODEL_HEADER + yaml.dump(doc, Dumper=_ModelDumper, sort_keys=False,
                                     allow_unicode=True, width=10_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,
                                     prefix=f".{path.name}.", delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


# ---------------------------------------------------------------------------------------
# load_config


def _merge(base: dict[str, Any], overlay: Mapping[str, Any], source: str,
           origins: dict[tuple[Any, ...], str], prefix: tuple[Any, ...] = ()) -> dict[str, Any]:
    """Deep-merge `overlay` over `base`, recording which source set each key."""
    merged = dict(base)
    for key, value in overlay.items():
        path = prefix + (key,)
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value, source, origins, path)
        else:
            merged[key] = deepcopy(value)
            origins[path] = source
    return merged


def _known_envs(conf_dir: Path, exclude: set[str]) -> list[str]:
    return sorted(path.stem for path in conf_dir.glob("*.yaml")
                  if path.name != BASE_FILE and path.name not in exclude)


def _absolute(path: str | Path, against: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else against / path


def load_config(env: str | None = None, conf_dir: str | Path | None = None,
                overlays: Sequence[str | Path] = (),
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Load base.yaml, then conf/<env>.yaml, then `overlays` (--conf files), then
    `overrides` (nested mappings), deep-merged in that order; then the reference data.

    `conf_dir` defaults to $DMDE_CONF_DIR or the repository's conf/; `env` to $DMDE_ENV
    or "local". Relative `data_dir` resolves against the current directory, the
    reference files against `conf_dir`.
    """
    conf_dir = Path(conf_dir or os.environ.get("DMDE_CONF_DIR") or DEFAULT_CONF_DIR).absolute()
    env = env or os.environ.get("DMDE_ENV") or "local"
    if not conf_dir.is_dir():
        raise ConfigError(conf_dir, "", "configuration directory not found")
    base_path = conf_dir / BASE_FILE
    base = _read_yaml(base_path)

    env_path = conf_dir / f"{env}.yaml"
    synth_name = Path(str(base.get("synth_file", ""))).name
    if (not re.fullmatch(r"[A-Za-z0-9_\-]+", env) or env_path.name in {BASE_FILE, synth_name}
            or not env_path.is_file()):
        known = _known_envs(conf_dir, {synth_name})
        raise ConfigError(conf_dir, "env", f"unknown environment {env!r}: no {env}.yaml "
                                           f"(known: {', '.join(known) or 'none'})")

    layers: list[tuple[str, Mapping[str, Any]]] = [(str(base_path), base),
                                                   (str(env_path), _read_yaml(env_path))]
    layers += [(str(Path(p)), _read_yaml(Path(p))) for p in overlays]
    if overrides:
        layers.append((OVERRIDES_SOURCE, overrides))
    origins: dict[tuple[Any, ...], str] = {}
    merged: dict[str, Any] = {}
    for source, layer in layers:
        merged = _merge(merged, layer, source, origins)

    def source_of(loc: tuple[Any, ...]) -> str:
        for end in range(len(loc), 0, -1):
            if loc[:end] in origins:
                return origins[loc[:end]]
        return str(base_path)

    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError.from_issues(_issues_from(exc, source_of)) from None

    cafs_file = _absolute(settings.cafs_file, conf_dir)
    smic_file = _absolute(settings.smic_file, conf_dir)
    model_file = _absolute(settings.model_file, conf_dir)
    return Config(
        env=env,
        conf_dir=conf_dir,
        data_dir=_absolute(settings.data_dir, Path.cwd()),
        sources=settings.sources,
        outputs=settings.outputs,
        spark=settings.spark,
        windows=settings.windows,
        capacity=settings.capacity,
        control_delays=settings.control_delays,
        quality=settings.quality,
        rules=settings.rules,
        model_file=model_file,
        cafs_file=cafs_file,
        smic_file=smic_file,
        synth_file=_absolute(settings.synth_file, conf_dir),
        cafs=load_cafs(cafs_file),
        smic=load_smic(smic_file),
        model=load_model(model_file),
    )
