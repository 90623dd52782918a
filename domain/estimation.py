"""Re-estimating a model file's logistic regressions (`dmde estimate`): the design each
model is fitted with, the words of the `model_estimates` table and its columns.

The design comes from the model file alone: in each model, every variable of the model
contributes one dummy per modality except its **reference**, the first listed modality
whose published odds ratio is exactly 1 (other modalities at 1 get a dummy and are
estimated). No variable is named here.
"""
from __future__ import annotations

from dataclasses import dataclass

from domain.errors import ConfigError
from domain.model import ModelSpec, Variable

# status of a row of model_estimates
ESTIMATED = "estimated"
REFERENCE = "reference"
NOT_ESTIMABLE = "not_estimable"

# term of a row: a modality of a variable, or the model's intercept
MODALITY = "modality"
INTERCEPT = "intercept"

# reasons a modality is not estimated (merged into its variable's reference for the fit);
# printf patterns, filled in by Spark's format_string
ABSENT = "absent from the sample"
TOO_RARE = "fewer than %d households of the sample in it (%d)"
NO_EVENT = "no household of it in the target (quasi-separation)"
ALL_EVENTS = "every household of it in the target (quasi-separation)"
REFERENCE_TOO_RARE = "its variable's reference modality %s has fewer than %d households of the sample (%d)"
UNSTABLE = "standard error %.2f of its ln odds ratio above %.2f after the fit (quasi-separation)"

MODEL_ESTIMATES_COLUMNS = ", ".join([
    "score_month date, model string, term string, variable string, modality string",
    "is_reference boolean, status string, reason string",
    "n_sample bigint, n_target bigint",
    "published_odds_ratio double",
    "coefficient double, standard_error double, coefficient_ci_low double, coefficient_ci_high double",
    "odds_ratio double, odds_ratio_ci_low double, odds_ratio_ci_high double, p_value double",
    "published_outside_ci boolean",
    "sample_size bigint, confidence_level double, model_version string, run_id string",
])


@dataclass(frozen=True)
class Term:
    """One modality of a variable in one model: its published odds ratio and whether it
    is the variable's reference (no dummy)."""

    model: str
    variable: str
    modality: str
    published_odds_ratio: float
    is_reference: bool


def reference_code(variable: Variable, model: str) -> str:
    """The variable's reference in `model`: its first listed modality with odds ratio exactly 1."""
    for modality in variable.modalities:
        if modality.odds_ratio[model] == 1.0:
            return modality.code
    raise ConfigError(f"variable {variable.name}", "modalities",
                      f"no modality has an odds ratio of exactly 1 in {model}: the model has no reference "
                      "modality to estimate the others against")


def design(spec: ModelSpec, model: str) -> list[Term]:
    """Every modality of every variable of `model`, in the model file's order."""
    terms = []
    for variable in spec.variables_of(model):
        reference = reference_code(variable, model)
        terms += [Term(model, variable.name, m.code, m.odds_ratio[model], m.code == reference)
                  for m in variable.modalities]
    return terms
