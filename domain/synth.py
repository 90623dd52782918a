"""Typed parameters of the synthetic population generator (`conf/synth.yaml`).

The generator is data: archetypes of Caf households with their weights and the
distributions of their attributes, plus the benefit scales. Calibrating the synthetic
population on the published shares means editing this file, not the code.
"""
from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.codes import ACTIVITIES, NATIONALITIES, RESIDENCES
from domain.model import ModelSpec, Target
from domain.populations import PopulationsSpec

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Weights = dict[str, Annotated[float, Field(ge=0.0)]]

RSA_REGIMES = {"none", "stable", "entering", "leaving", "in_out", "cycling"}


class Strict(BaseModel):
    """Unknown keys refused; YAML lists accepted where a tuple is meant (not pydantic-strict)."""
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_weights(weights: Weights, allowed: set[str] | None, what: str) -> Weights:
    if not weights or sum(weights.values()) <= 0:
        raise ValueError(f"{what}: needs at least one positive weight")
    if allowed is not None and (unknown := set(weights) - allowed):
        raise ValueError(f"{what}: unknown values {sorted(unknown)}; allowed: {sorted(allowed)}")
    return weights


def _weights_of(allowed: set[str], what: str):
    """Weights over a closed vocabulary, checked on load."""
    return Annotated[Weights, AfterValidator(lambda v: _check_weights(v, allowed, what))]


NationalityWeights = _weights_of(set(NATIONALITIES), "nationality")
ResidenceWeights = _weights_of(set(RESIDENCES), "residence")


def parse_band(band: str) -> tuple[float, float]:
    """'0' -> (0, 0); '0.4-0.6' -> (0.4, 0.6): a resources/SMIC band, lower-inclusive."""
    lo, _, hi = band.partition("-")
    low, high = float(lo), float(hi or lo)
    if high < low:
        raise ValueError(f"resources band {band!r}: upper bound below lower bound")
    return low, high


class Range(Strict):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) < min ({self.min})")
        return self


class Archetype(Strict):
    """One kind of Caf household; every probability is per household over the period."""
    weight: float = Field(gt=0)
    couple: Probability
    head_activity: Weights
    partner_activity: Weights = {"EMPLOYED": 1.0}
    children: Weights = {"0": 1.0}
    eldest_child_age: Range = Range(min=0, max=0)
    child_activity_16plus: Weights = {"STUDENT": 1.0}
    # Monitoring attributes of the head (MONITORING.md §1, §7): drawn per archetype so that
    # the populations the monitoring compares differ as they plausibly do. Never model inputs.
    head_age: Range                    # at the period's end; raised to stay a parent (below)
    female_head: Probability
    nationality: NationalityWeights
    residence: ResidenceWeights
    resources_smic: Weights
    rsa: Weights = {"none": 1.0}
    pa: Probability = 0.0              # claims the activity bonus when it has earnings
    pa_quarters: Probability = 1.0     # share of quarters a PA claimant is paid in
    housing_aid: Probability = 0.0
    aah: Probability = 0.0
    aeeh: Probability = 0.0
    cmg: Probability = 0.0
    guardianship: Probability = 0.0
    alimony: Probability = 0.0
    self_employment_change: Probability = 0.0
    conlogetu: Probability = 0.0
    proacc: Probability = 0.0
    allowance: Probability = 0.0
    downward_corrector: Probability = 0.0
    dmde_risk: float = Field(default=1.0, gt=0)

    @field_validator("head_activity", "partner_activity", "child_activity_16plus")
    @classmethod
    def _activities(cls, v: Weights, info) -> Weights:
        return _check_weights(v, set(ACTIVITIES), info.field_name)

    @field_validator("children")
    @classmethod
    def _children(cls, v: Weights) -> Weights:
        _check_weights(v, {str(n) for n in range(7)}, "children")
        return v

    @field_validator("rsa")
    @classmethod
    def _rsa(cls, v: Weights) -> Weights:
        return _check_weights(v, RSA_REGIMES, "rsa")

    @field_validator("resources_smic")
    @classmethod
    def _bands(cls, v: Weights) -> Weights:
        _check_weights(v, None, "resources_smic")
        for band in v:
            parse_band(band)
        return v


class AfScale(Strict):
    by_children: list[float] = Field(min_length=3)     # index = number of children under the age limit
    per_extra_child: float = Field(ge=0)
    age_supplement: float = Field(ge=0)
    supplement_from_age: int
    age_limit: int
    modulation: list[tuple[float, float]]              # (resources/SMIC from, factor), increasing


class CfScale(Strict):
    min_children: int
    child_age_from: int
    child_age_below: int
    base: float
    increased: float
    increased_below_ratio: float
    ceiling_ratio: float
    differential_width: float


class RsaScale(Strict):
    single: float
    second_person: float                # share of `single` added for the second person
    further_person: float               # share added for each further person
    max_ratio: float                    # no RSA above this resources/SMIC ratio
    resources_rate: float               # share of resources deducted from the RSA
    job_ratio_off_rsa: float            # resources/SMIC added in the months off RSA
    min_eur: float = Field(default=0.0, ge=0)   # smaller amounts are not paid


class PaScale(Strict):
    """PA = max_eur × consumption units − slope_per_smic × resources/SMIC, paid from min_eur."""
    max_eur: float = Field(gt=0)        # one person without earnings
    slope_per_smic: float = Field(gt=0)
    min_eur: float = Field(ge=0)        # smaller amounts are not paid
    min_ratio: float = Field(ge=0)      # earnings (resources/SMIC) needed to claim


class HousingScale(Strict):
    base: float
    per_child: float
    per_smic: float
    min_eur: float
    rent_factor: Range = Range(min=1.0, max=1.0)   # the household's rent level, drawn once


class Scales(Strict):
    af: AfScale
    cf: CfScale
    rsa: RsaScale
    pa: PaScale
    housing_aid: HousingScale
    aah: float
    aeeh: float
    asf_per_child: float
    paje_base: float
    paje_child_below: int
    paje_max_ratio: float
    cmg: float
    cmg_child_below: int
    other_probability: Probability
    other_eur: float
    monthly_noise: float = Field(ge=0, lt=0.5)


class Declarations(Strict):
    verified_share: Probability
    random_downward_share: Probability
    corrector_gap_eur: Range
    random_gap_eur: Range


class Controls(Strict):
    national_households: int = Field(gt=0)
    dmde_per_year_national: int = Field(gt=0)
    opbd_per_year_national: int = Field(gt=0)
    opbd_min: int = Field(ge=0)
    on_site_share: Probability          # DMDE and OTHER controls
    opbd_on_site_share: Probability
    other_per_year_share: Probability
    # The past DMDE and OTHER controls the generator writes are not drawn from lists (that is
    # `dmde simulate-controls`): their outcomes come from this target rate per origin.
    target_rate: dict[str, Probability]

    @field_validator("target_rate")
    @classmethod
    def _origins(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != {"DMDE", "OTHER"}:
            raise ValueError(f"needs exactly DMDE and OTHER (got {', '.join(sorted(v)) or 'none'})")
        return v


def log_uniform_mean(low: float, high: float) -> float:
    """Mean of low·(high/low)^u, u uniform in [0, 1): how the outcomes draw amounts."""
    return low if high == low else (high - low) / math.log(high / low)


class Outcomes(Strict):
    """What a control finds, coherent with the model's target (an overpayment of at least
    the target's euros over at least its months, conf/models): in the target, such an
    overpayment; outside it, a smaller or shorter overpayment, an underpayment ("rappel")
    or nothing. Amounts are log-uniform; fraud only where an overpayment was found."""
    target_max_eur: float = Field(gt=0)        # in the target: from the target's minimum to this
    max_months: int = Field(gt=0)              # months of an overpayment, at most
    other_overpayment: Probability             # outside the target: a smaller or shorter overpayment
    other_overpayment_eur: Range               # (from the target's minimum: shorter than its months)
    underpayment: Probability                  # outside the target, otherwise: an underpayment
    underpayment_eur: Range
    fraud_given_target: Probability
    fraud_given_other_overpayment: Probability

    @model_validator(mode="after")
    def _shares(self) -> "Outcomes":
        if self.other_overpayment + self.underpayment > 1:
            raise ValueError("other_overpayment + underpayment must be <= 1 (they exclude each other)")
        if self.other_overpayment_eur.min <= 0 or self.underpayment_eur.min <= 0:
            raise ValueError("amounts are log-uniform: their min must be > 0")
        return self

    def check(self, target: Target) -> list[tuple[tuple[str, ...], str]]:
        """Problems against the model's target (which the amounts must be coherent with)."""
        problems = []
        if self.target_max_eur < target.overpayment_min_eur:
            problems.append((("target_max_eur",), f"must be >= the target's {target.overpayment_min_eur:g} €"))
        if self.max_months < target.overpayment_min_months:
            problems.append((("max_months",), f"must be >= the target's {target.overpayment_min_months} months"))
        return problems

    def expected_amounts(self, target: Target, target_rate: float) -> tuple[float, float]:
        """(overpayments, underpayments) found per control, in expectation, at this target rate."""
        outside = 1.0 - target_rate
        over = (target_rate * log_uniform_mean(target.overpayment_min_eur, self.target_max_eur)
                + outside * self.other_overpayment * log_uniform_mean(self.other_overpayment_eur.min,
                                                                      self.other_overpayment_eur.max))
        under = outside * self.underpayment * log_uniform_mean(self.underpayment_eur.min, self.underpayment_eur.max)
        return over, under


BLEND = "blend"


class PlantedOddsRatio(Strict):
    """The truth's odds ratio of one modality of the model file, in every model that has the
    variable, instead of the published one."""
    variable: str
    modality: str
    odds_ratio: float = Field(gt=0)


class AttributeEffect(Strict):
    """Households of one population category (conf/populations.yaml) have `odds` times the
    odds of being in the target that the model gives them: a planted effect the model lacks."""
    attribute: str
    category: str
    odds: float = Field(gt=0)


class Truth(Strict):
    """The model that draws control outcomes (MONITORING.md §7 (2)), as data: by default the
    model file's blend, its intercepts set so that the OPBD sample hits the published target
    rate; or one model alone, different odds ratios, a planted attribute effect (both
    included when the intercepts are set), and an intercept shift added afterwards (a
    planted miscalibration: the drawn rate moves away from the published one)."""
    model: str = BLEND                  # "blend", or the name of one model of the model file
    intercept_shift: float = 0.0
    odds_ratios: list[PlantedOddsRatio] = []
    attribute_effect: AttributeEffect | None = None

    def models(self, spec: ModelSpec) -> list[str]:
        return [spec.blend.before, spec.blend.after] if self.model == BLEND else [self.model]

    def check(self, spec: ModelSpec, populations: PopulationsSpec) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems against the model file and the populations (the names the truth uses)."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.model != BLEND and self.model not in spec.models:
            problems.append((("model",), f"must be {BLEND!r} or a model of {spec.version} "
                                         f"({', '.join(spec.models)}), got {self.model!r}"))
            return problems
        variables = {v.name: v for v in spec.variables}
        for i, planted in enumerate(self.odds_ratios):
            variable = variables.get(planted.variable)
            if variable is None:
                problems.append((("odds_ratios", i, "variable"), f"no variable {planted.variable!r} in {spec.version}"))
            elif planted.modality not in variable.codes():
                problems.append((("odds_ratios", i, "modality"), f"no modality {planted.modality!r} of "
                                 f"{planted.variable} (known: {', '.join(variable.codes())})"))
            elif not any(variable.in_model(m) for m in self.models(spec)):
                problems.append((("odds_ratios", i, "variable"),
                                 f"{planted.variable} is in none of the truth's models ({', '.join(self.models(spec))})"))
        effect = self.attribute_effect
        if effect is not None:
            if effect.attribute not in populations.attributes:
                problems.append((("attribute_effect", "attribute"), f"no attribute {effect.attribute!r} "
                                 f"(known: {', '.join(populations.attributes)})"))
            elif effect.category not in populations.codes(effect.attribute):
                problems.append((("attribute_effect", "category"), f"no category {effect.category!r} of "
                                 f"{effect.attribute} (known: {', '.join(populations.codes(effect.attribute))})"))
        return problems

    def model_spec(self, spec: ModelSpec) -> ModelSpec:
        """The model file with the truth's odds ratios in place of the published ones."""
        planted = {(p.variable, p.modality): p.odds_ratio for p in self.odds_ratios}
        if not planted:
            return spec
        variables = []
        for variable in spec.variables:
            modalities = tuple(
                m.model_copy(update={"odds_ratio": {name: planted[(variable.name, m.code)] for name in m.odds_ratio}})
                if (variable.name, m.code) in planted else m for m in variable.modalities)
            variables.append(variable.model_copy(update={"modalities": modalities}))
        return spec.model_copy(update={"variables": tuple(variables)})


class ControllerBias(Strict):
    """Controllers pick households of one population category (conf/populations.yaml) `odds`
    times as often as the others of the same pool (a list, or the off-list deciles) at the
    same place in it: a planted human bias the monitoring should find (> 1 over-, < 1
    under-represented among DMDE controls)."""
    attribute: str
    category: str
    odds: float = Field(gt=0)

    def check(self, populations: PopulationsSpec) -> list[tuple[tuple[str, ...], str]]:
        if self.attribute not in populations.attributes:
            return [(("attribute",), f"no attribute {self.attribute!r} (known: {', '.join(populations.attributes)})")]
        if self.category not in populations.codes(self.attribute):
            return [(("category",), f"no category {self.category!r} of {self.attribute} "
                                    f"(known: {', '.join(populations.codes(self.attribute))})")]
        return []


class Simulation(Strict):
    """`dmde simulate-controls` (MONITORING.md §7 (3)): the DMDE controls of a month, taken by
    controllers from the lists the job published, on synthetic data only."""
    fill_rate: Probability = 0.9            # controls per Caf = capacity x fill_rate
    adherence: Probability = 0.8            # share of them taken from the Caf's lists
    list_months: int = Field(default=3, ge=1, le=12)   # the lists of the month and the ones before
    off_list_deciles: int = Field(default=3, ge=1, le=10)   # the others: the Caf's deciles 1 … this
    on_site_share: Probability = 1 / 3      # « un tiers des contrôles sur place »
    fraud_share: Probability = 0.07         # of DMDE controls, only where an overpayment was found
    controller_bias: ControllerBias | None = None


class NationalShares(Strict):
    """What the archetypes' tables must add up to, weighted by the archetypes' weights: the
    national shares the generator drew from before they depended on the archetype."""
    nationality: NationalityWeights
    residence: ResidenceWeights
    tolerance: Probability             # allowed |weighted share - national share|


def _normalised(weights: Weights) -> dict[str, float]:
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


class SynthSpec(Strict):
    entering_share: Probability
    leaving_share: Probability
    national_shares: NationalShares
    parent_min_age: float = Field(ge=0)   # a head is at least this much older than the eldest child
    other_events_per_year: float = Field(ge=0)
    other_event_codes: list[str]
    quarterly_resources_swing: float = Field(default=0.0, ge=0, lt=1)   # ± share of the level
    child_spacing_years: Range = Range(min=1.5, max=2.5)                  # between two children
    scales: Scales
    declarations: Declarations
    controls: Controls
    outcomes: Outcomes
    truth: Truth
    simulation: Simulation = Simulation()
    archetypes: dict[str, Archetype]

    def weighted_shares(self, attribute: str) -> dict[str, float]:
        """The national share of each value of an archetype table (`nationality`,
        `residence`): the archetypes' tables weighted by the archetypes' weights."""
        total = sum(a.weight for a in self.archetypes.values())
        shares: dict[str, float] = {}
        for a in self.archetypes.values():
            for value, share in _normalised(getattr(a, attribute)).items():
                shares[value] = shares.get(value, 0.0) + a.weight / total * share
        return shares

    @model_validator(mode="after")
    def _national_shares_hold(self) -> "SynthSpec":
        problems = []
        for attribute in ("nationality", "residence"):
            national = _normalised(getattr(self.national_shares, attribute))
            weighted = self.weighted_shares(attribute)
            for value in sorted(set(national) | set(weighted)):
                gap = weighted.get(value, 0.0) - national.get(value, 0.0)
                if abs(gap) > self.national_shares.tolerance:
                    problems.append(f"{attribute} {value}: the archetypes give {weighted.get(value, 0.0):.3f}, "
                                    f"national_shares says {national.get(value, 0.0):.3f} "
                                    f"(tolerance {self.national_shares.tolerance:g})")
        if problems:
            raise ValueError("; ".join(problems))
        return self
