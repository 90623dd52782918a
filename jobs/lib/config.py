"""The one configuration loader: YAML settings, reference CSVs, the model file and the
generator's spec, read into the typed specs of `domain/`.

`load_config()` reads `conf/base.yaml`, deep-merges the environment overlay
(`conf/<env>.yaml`), any extra `--conf` files and the command-line overrides, then loads
the reference data the settings point to: the 101 Caf (`cafs.csv`), the dated net
monthly SMIC (`smic.csv`) and the model file (`models/*.yaml`). Every problem is a
`ConfigError` naming the file, the key path (or CSV row and column) and what is wrong,
so that a bad edit fails at start-up and not in the middle of a Spark job.
"""
from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from copy import deepcopy
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from domain.calendar import Calendar
from domain.codes import CAF_CODES
from domain.errors import ConfigError, Issue, Problems, UnknownNameError, display, format_path, got
from domain.model import ModelSpec
from domain.populations import PopulationsSpec
from domain.reference import Caf, SmicRate, in_force
from domain.settings import Paths, Settings, TableSettings
from domain.synth import SynthSpec

DEFAULT_CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
BASE_FILE = "base.yaml"
OVERRIDES_SOURCE = "<overrides>"


# ---------------------------------------------------------------------------------------
# The loaded configuration


class Config(Settings):
    """The settings with absolute paths, plus the reference data and the model they name."""

    env: str
    overlays: tuple[str, ...]  # the files merged over base.yaml, in order
    conf_dir: Path
    data_dir: Path
    model_file: Path
    cafs_file: Path
    smic_file: Path
    synth_file: Path
    populations_file: Path
    personas_file: Path
    cafs: tuple[Caf, ...]
    smic: tuple[SmicRate, ...]
    model: ModelSpec
    populations: PopulationsSpec

    # --- tables and folders under data_dir --------------------------------------------

    def source_path(self, name: str) -> str:
        return str(self.data_dir / self._table("sources", self.sources, name).path)

    def output_path(self, name: str) -> str:
        return str(self.data_dir / self._table("outputs", self.outputs, name).path)

    def restricted_path(self, name: str) -> str:
        return str(self.data_dir / self._table("restricted", self.restricted, name).path)

    def partition_by(self, name: str) -> list[str]:
        """The partition columns of a source, output or restricted table."""
        for section, tables in (("sources", self.sources), ("restricted", self.restricted)):
            if name in tables:
                return list(tables[name].partition_by)
        return list(self._table("outputs", self.outputs, name).partition_by)

    def folder(self, kind: str) -> Path:
        """A folder of `paths` (models, validation, reports), absolute."""
        if kind not in Paths.model_fields:
            raise UnknownNameError(self.conf_dir / BASE_FILE, "paths",
                                   f"no folder {kind!r} (known: {', '.join(Paths.model_fields)})")
        return self.data_dir / getattr(self.paths, kind)

    def _table(self, section: str, tables: Mapping[str, TableSettings], name: str) -> TableSettings:
        if name not in tables:
            raise UnknownNameError(self.conf_dir / BASE_FILE, section,
                                   f"no table {name!r} (known: {', '.join(tables)})")
        return tables[name]

    @property
    def delta_jars(self) -> list[Path]:
        """Delta Lake's jars, in the project's jars folder (scripts/fetch_jars.sh)."""
        return self.delta.jar_files(self.conf_dir.parent)

    # --- reference data ---------------------------------------------------------------

    def calendar(self, score_month: date) -> Calendar:
        return Calendar(score_month, self.windows.short_months, self.windows.long_months)

    @property
    def smic_table(self) -> list[tuple[date, float]]:
        return [(rate.valid_from, rate.net_monthly_eur) for rate in self.smic]

    def smic_for(self, month: date) -> float:
        """The net monthly SMIC in force on `month` (any day of it)."""
        rate = in_force(self.smic_table, month)
        if rate is None:
            raise ConfigError(self.smic_file, "",
                              f"no net monthly SMIC in force on {month.isoformat()}: "
                              f"the table starts on {self.smic[0].valid_from.isoformat()}")
        return rate

    @property
    def prefill_starts(self) -> dict[str, date]:
        return {caf.code: caf.prefill_start for caf in self.cafs}

    def caf(self, code: str) -> Caf:
        for caf in self.cafs:
            if caf.code == code:
                return caf
        raise UnknownNameError(self.cafs_file, "code",
                               f"no Caf {code!r}: Caf codes are the départements 01…95 (2A, 2B for Corsica) "
                               "and 971, 972, 973, 974, 976")

    def synth(self) -> SynthSpec:
        """The generator's spec, its truth and outcomes checked against the model file and
        the populations they name."""
        spec = load_synth_spec(self.synth_file)
        problems = [(("truth", *loc), problem) for loc, problem in spec.truth.check(self.model, self.populations)]
        problems += [(("outcomes", *loc), problem) for loc, problem in spec.outcomes.check(self.model.target)]
        if spec.simulation.controller_bias is not None:
            problems += [(("simulation", "controller_bias", *loc), problem)
                         for loc, problem in spec.simulation.controller_bias.check(self.populations)]
        if problems:
            raise ConfigError.from_issues(Issue(display(self.synth_file), format_path(loc), problem)
                                          for loc, problem in problems)
        return spec


# ---------------------------------------------------------------------------------------
# Errors in the words of this project


# pydantic's error kind -> what the value must be
_TYPE_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "list_type": "a list", "tuple_type": "a list",
}


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
        return f"must be {op} {bound}{got(value)}"
    if kind == "string_type":
        hint = ""
        if isinstance(value, (bool, int, float)):
            hint = " (YAML reads unquoted yes/no/on/off as booleans and digits as numbers: quote it)"
        return f"must be a string{got(value)}{hint}"
    if kind in _TYPE_EXPECTED:
        return f"must be {_TYPE_EXPECTED[kind]}{got(value)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got(value)}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s){got(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in {"value_error", "assertion_error"}:
        return str(ctx.get("error") or error["msg"])
    return f"{error['msg']}{got(value)}"


def _issues_from(exc: ValidationError, source_of, prefix: str = "") -> list[Issue]:
    """Flatten a ValidationError; `source_of(loc)` names the file that set that key."""
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")
        nested = (error.get("ctx") or {}).get("error")
        found = (nested.problems if isinstance(nested, Problems)
                 else [((), _describe(error))])
        for sub_loc, problem in found:
            full = loc + tuple(sub_loc)
            path = format_path(full)
            if prefix:
                path = f"{prefix}, column {path}" if path else prefix
            issues.append(Issue(display(source_of(full)), path, problem))
    return issues


def _validate(model: type[BaseModel], data: Any, path: Path):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.from_issues(_issues_from(exc, lambda _loc: path)) from None


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


def _construct_timestamp(loader: _StrictLoader, node: yaml.ScalarNode):
    """A date YAML recognises but that does not exist (1990-02-30) stays text, for the model
    that reads it to refuse it at its key path."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping; duplicate keys, syntax errors and unreadable files are ConfigErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", f"file not found (looked for {path.absolute()})") from None
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
        raise ConfigError(path, "", f"must hold a mapping at the top level{got(data)}")
    return data


def _read_csv(path: Path, row_model: type[BaseModel]) -> list[tuple[str, BaseModel]]:
    """The rows of a CSV whose header is exactly `row_model`'s fields, each with its
    position (`row N (line L)`) for error messages."""
    columns = list(row_model.model_fields)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            lines = list(enumerate(csv.reader(handle, strict=True), start=1))
    except FileNotFoundError:
        raise ConfigError(path, "", f"file not found (looked for {path.absolute()})") from None
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
            issues.append(Issue(display(path), where, f"expected {len(header)} fields, got {len(cells)}"))
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
            issues.append(Issue(display(path), f"{where}, column code",
                                f"duplicate Caf code {caf.code!r} (first at {first_at[caf.code]})"))
        first_at.setdefault(caf.code, where)
    missing = [code for code in CAF_CODES if code not in first_at]
    if missing:
        issues.append(Issue(display(path), "",
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
            issues.append(Issue(display(path), f"{where}, column valid_from",
                                f"must be after the previous row's {previous.valid_from} "
                                "(dates strictly increasing)"))
    if issues:
        raise ConfigError.from_issues(issues)
    return tuple(rate for _, rate in rows)


def load_model(path: str | Path) -> ModelSpec:
    path = Path(path)
    return _validate(ModelSpec, read_yaml(path), path)


def load_synth_spec(path: str | Path) -> SynthSpec:
    path = Path(path)
    return _validate(SynthSpec, read_yaml(path), path)


def load_populations(path: str | Path) -> PopulationsSpec:
    path = Path(path)
    return _validate(PopulationsSpec, read_yaml(path), path)


def _check_intersections(settings: Settings, populations: PopulationsSpec, source_of) -> None:
    """Every intersection names attributes of the populations file (the settings check that
    they are two different ones)."""
    issues = []
    for i, pair in enumerate(settings.monitoring.intersections):
        loc = ("monitoring", "intersections", i)
        unknown = [name for name in pair if name not in populations.attributes]
        if unknown:
            issues.append(Issue(display(source_of(loc)), format_path(loc),
                                f"unknown attribute(s) {', '.join(unknown)} "
                                f"(known: {', '.join(populations.attributes)})"))
    if issues:
        raise ConfigError.from_issues(issues)


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
# DMDE model file: variables, modalities, published odds ratios and shares, the blend of
# the models, and the calibrated intercepts with their provenance. Schema: domain/model.py
# (ModelSpec). Banded modalities: `exact`, or [lower, upper) with an omitted edge
# unbounded, matched in listed order (first match wins). A model absent from
# `odds_ratio`: the variable is not in that model. Rewritten by `dmde calibrate`
# (comments are not kept); `dmde estimate` writes one with estimated odds ratios and
# their `provenance`.
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
    provenance = doc.pop("provenance")
    if provenance is not None:  # an estimated file says so right after its source
        provenance["merged_into_reference"] = [_FlowDict(m) for m in provenance["merged_into_reference"]]
        doc = {key: value for key, value in [*list(doc.items())[:3], ("provenance", provenance),
                                             *list(doc.items())[3:]]}
    doc["target"] = {key: _compact(value) for key, value in doc["target"].items()}
    doc["blend"] = _FlowDict(doc["blend"])
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
    base = read_yaml(base_path)

    env_path = conf_dir / f"{env}.yaml"
    # The reference files next to the overlays are not environments.
    reference_names = {Path(str(base.get(key, ""))).name for key in ("synth_file", "populations_file", "personas_file")}
    if (not re.fullmatch(r"[A-Za-z0-9_\-]+", env) or env_path.name in {BASE_FILE, *reference_names}
            or not env_path.is_file()):
        known = _known_envs(conf_dir, reference_names)
        raise ConfigError(conf_dir, "env", f"unknown environment {env!r}: no {env}.yaml "
                                           f"(known: {', '.join(known) or 'none'})")

    layers: list[tuple[str, Mapping[str, Any]]] = [(str(base_path), base),
                                                   (str(env_path), read_yaml(env_path))]
    layers += [(str(Path(p)), read_yaml(Path(p))) for p in overlays]
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
    populations_file = _absolute(settings.populations_file, conf_dir)
    populations = load_populations(populations_file)
    _check_intersections(settings, populations, source_of)
    resolved = dict(data_dir=_absolute(settings.data_dir, Path.cwd()), model_file=model_file,
                    cafs_file=cafs_file, smic_file=smic_file, synth_file=_absolute(settings.synth_file, conf_dir),
                    populations_file=populations_file, personas_file=_absolute(settings.personas_file, conf_dir))
    return Config(
        **{name: getattr(settings, name) for name in Settings.model_fields if name not in resolved},
        **resolved,
        env=env,
        overlays=tuple(display(p) for p in [env_path, *overlays]),
        conf_dir=conf_dir,
        cafs=load_cafs(cafs_file),
        smic=load_smic(smic_file),
        model=load_model(model_file),
        populations=populations,
    )
