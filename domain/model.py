"""The model file (`conf/models/*.yaml`): a scorecard as data.

Variables with their modalities (a code, an exact value or a band), each modality's odds
ratio in each model and its published shares; one intercept per model with its
provenance; the target; and the blend, which says which model is "before pre-filling",
which is "after", and over how many months they are blended prorata temporis
(DMDE.md §3–§4). The code that applies it (`transforms/model.py`) names no variable and
no model: a new model version is a new file.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, model_validator

from domain.errors import ConfigError, UnknownNameError, raise_problems
from domain.types import (
    Finite, Month, NonEmptyStr, Percent, Positive, PositiveInt, Strict, Timestamp, list_to_tuple,
)

SHARE_TOLERANCE = 2.0  # the note's shares are rounded to whole percents


class Target(Strict):
    """A control is in the model's target: an overpayment ≥ min € lasting ≥ min months."""

    overpayment_min_eur: Positive
    overpayment_min_months: PositiveInt
    published_rate: Annotated[float, Field(gt=0, lt=1)]  # of the published OPBD sample


class Intercept(Strict):
    """A calibrated intercept and where it comes from."""

    value: Finite
    sample_size: PositiveInt
    score_month: Month
    computed_at: Timestamp
    method: NonEmptyStr


class MergedModality(Strict):
    """A modality an estimation could not estimate: merged into its variable's reference
    (odds ratio 1) in the model it was fitted for."""

    model: NonEmptyStr
    variable: NonEmptyStr
    modality: NonEmptyStr
    reason: NonEmptyStr


class Provenance(Strict):
    """Where a model file's odds ratios come from when they were estimated (`dmde
    estimate`) rather than published."""

    method: NonEmptyStr
    score_month: Month  # its sample: the OPBD controls of the 12 months before
    sample_size: PositiveInt
    code_version: NonEmptyStr
    source: NonEmptyStr  # the data and the model file the estimation started from
    estimated_from: NonEmptyStr  # the version of that model file
    estimated_at: Timestamp
    merged_into_reference: Annotated[tuple[MergedModality, ...], list_to_tuple] = ()


class ModelInfo(Strict):
    label: NonEmptyStr
    intercept: Intercept | None = None  # None: not calibrated yet


class Blend(Strict):
    """score = (1 - w)·p_before + w·p_after, where w = the share of the `window_months`
    before the score month that fall on or after the Caf's pre-filling start (DMDE.md §4)."""

    method: Literal["prorata_temporis"]
    before: NonEmptyStr  # the model of the months before the Caf's pre-filling start
    after: NonEmptyStr  # the model of the months from it
    window_months: PositiveInt  # the period a control covers


class Band(Strict):
    """A class of values with its code and label: a number's class is `exact`, or a band
    [lower, upper) with either edge omitted for an unbounded one; a class of codes (a
    categorical modality) has neither."""

    code: NonEmptyStr
    label: NonEmptyStr
    exact: Finite | None = None
    lower: Finite | None = None
    upper: Finite | None = None

    @property
    def is_band(self) -> bool:
        return self.lower is not None or self.upper is not None

    @model_validator(mode="after")
    def _one_form(self) -> Band:
        problems = []
        if self.exact is not None and self.is_band:
            problems.append((("exact",), "use either `exact` or `lower`/`upper`, not both"))
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            problems.append((("upper",), f"must be > lower (got lower={self.lower:g}, "
                                         f"upper={self.upper:g})"))
        raise_problems(problems)
        return self


def band_problems(bands: Sequence[Band], field: str, kind: str, what: str
                  ) -> list[tuple[tuple[str | int, ...], str]]:
    """What is wrong with `bands` (the items of `field`) for a `kind` ("categorical": no
    band fields; "banded": each an exact value or a band, the bands tiling an interval in
    listed order, so that every value matches exactly one)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if kind == "categorical":
        for i, band in enumerate(bands):
            for name in ("exact", "lower", "upper"):
                if getattr(band, name) is not None:
                    problems.append(((field, i, name), f"a categorical {what} has no band fields"))
        return problems
    ranges = []
    for i, band in enumerate(bands):
        if band.exact is None and not band.is_band:
            problems.append(((field, i), f"a banded {what} needs `exact` or `lower`/`upper`"))
        elif band.is_band:
            ranges.append((i, band))
    for (_, previous), (i, band) in zip(ranges, ranges[1:]):
        if previous.upper is None:
            problems.append(((field, i), f"comes after a band unbounded above ({previous.code}): "
                                         "bands must be listed in increasing order"))
        elif band.lower is None:
            problems.append(((field, i, "lower"), "only the first band may be unbounded below"))
        elif band.lower < previous.upper:
            problems.append(((field, i, "lower"),
                             f"bands must be in increasing order: lower {band.lower:g} is "
                             f"below the previous band's upper {previous.upper:g}"))
        elif band.lower > previous.upper:
            problems.append(((field, i, "lower"),
                             f"bands must be contiguous: lower {band.lower:g} leaves a gap "
                             f"after the previous band's upper {previous.upper:g}"))
    return problems


class Modality(Band):
    odds_ratio: dict[str, Positive]  # model name -> published odds ratio
    share: Percent  # % of the published sample in this modality
    target_share: Percent  # % of this modality's sample in the target


class Variable(Strict):
    name: NonEmptyStr  # the modality column written in `features`
    label: NonEmptyStr
    input: NonEmptyStr  # the column of the features transform the modality derives from
    kind: Literal["categorical", "banded"]
    modalities: Annotated[tuple[Modality, ...], list_to_tuple, Field(min_length=2)]

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
        raise_problems(problems)
        return self

    def _band_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        return band_problems(self.modalities, "modalities", self.kind, "modality")


class ModelSpec(Strict):
    """A scorecard: variables with modalities and odds ratios, one intercept per model,
    and how the models are blended into the score."""

    version: NonEmptyStr
    title: NonEmptyStr
    source: NonEmptyStr
    target: Target
    models: Annotated[dict[str, ModelInfo], Field(min_length=1)]
    blend: Blend
    variables: Annotated[tuple[Variable, ...], list_to_tuple, Field(min_length=1)]
    provenance: Provenance | None = None  # estimated odds ratios: how (None: published ones)

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
        for role in ("before", "after"):
            name = getattr(self.blend, role)
            if name not in self.models:
                problems.append((("blend", role), f"unknown model {name!r} (models: {', '.join(self.models)})"))
        if self.blend.before == self.blend.after:
            problems.append((("blend", "after"), "must name another model than `before`"))
        raise_problems(problems)
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

    # --- the output columns, named from the file -------------------------------------

    @staticmethod
    def probability_column(model: str) -> str:
        """The column of a model's probability in `scores`: p_<model>."""
        return f"p_{model}"

    @property
    def weight_column(self) -> str:
        """The column of the blend's weight of the "after" model: w_<after>."""
        return f"w_{self.blend.after}"

    @property
    def score_columns(self) -> list[str]:
        """Each model's probability, the blend's weight and the score, in this order."""
        return [*(self.probability_column(m) for m in self.models), self.weight_column, "score"]

    # --- intercepts ---------------------------------------------------------------------

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

    def intercepts(self) -> dict[str, float]:
        return {name: self.intercept_of(name) for name in self.models}

    def with_intercept(self, model: str, intercept: Intercept) -> ModelSpec:
        """A copy of this spec with `model`'s intercept set (write it with write_model)."""
        self._check_model(model)
        info = self.models[model].model_copy(update={"intercept": intercept})
        return self.model_copy(update={"models": {**self.models, model: info}})

    def with_intercepts_shifted(self, shift: float) -> ModelSpec:
        """A copy with every calibrated intercept + `shift` (logit scale): a planted
        miscalibration, for checking the monitoring."""
        spec = self
        for name in self.model_names():
            intercept = self.models[name].intercept
            spec = spec.with_intercept(name, intercept.model_copy(update={"value": intercept.value + shift}))
        return spec

    def calibrated_version(self) -> str:
        """The version with the months its intercepts were calibrated on:
        dmde_2025+calibrated-2026-02."""
        calibrated = sorted({info.intercept.score_month for info in self.models.values()
                             if info.intercept is not None})
        return self.version + "".join(f"+calibrated-{m:%Y-%m}" for m in calibrated)

    def _check_model(self, model: str) -> None:
        if model not in self.models:
            raise UnknownNameError(f"model {self.version}", "models",
                                   f"no model {model!r} (known: {', '.join(self.models)})")
