"""The settings of `conf/base.yaml` and its overlays, as strict typed models.

Every section is checked on load (`jobs/lib/config.py`): an unknown key, a wrong type or an
impossible value is a ConfigError naming the file and the key, at start-up.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from domain.errors import raise_problems
from domain.types import (
    CafCode, IsoDate, Month, NonEmptyStr, NonNegative, NonNegativeInt, Positive, PositiveInt, Share,
    SparkValue, Strict, list_to_tuple,
)


class SparkSettings(Strict):
    app_name: NonEmptyStr
    master: str | None = None  # None: spark-submit decides
    conf: dict[str, SparkValue] = Field(default_factory=dict)


class DeltaSettings(Strict):
    """Delta Lake on Spark: its jars, and the retention of its tables' history."""

    jars: Annotated[tuple[NonEmptyStr, ...], list_to_tuple, Field(min_length=1)]  # group:artifact:version
    jars_dir: NonEmptyStr  # relative to the project folder
    log_retention: NonEmptyStr  # delta.logRetentionDuration, e.g. "interval 30 days"
    deleted_file_retention: NonEmptyStr  # delta.deletedFileRetentionDuration
    vacuum_retention_hours: PositiveInt
    run_lease_hours: PositiveInt  # an unfinished run on another host silent this long is presumed dead
    # table -> the columns Delta keeps file statistics of (delta.dataSkippingStatsColumns);
    # a table not listed keeps Delta's default (its first 32 columns)
    stats_columns: dict[NonEmptyStr, Annotated[tuple[NonEmptyStr, ...], list_to_tuple]] = Field(default_factory=dict)

    def jar_files(self, project_dir: Path) -> list[Path]:
        folder = Path(self.jars_dir) if Path(self.jars_dir).is_absolute() else project_dir / self.jars_dir
        return [folder / f"{artifact}-{version}.jar"
                for _, artifact, version in (coordinate.split(":") for coordinate in self.jars)]


class TableSettings(Strict):
    path: NonEmptyStr  # relative to data_dir
    partition_by: Annotated[tuple[NonEmptyStr, ...], list_to_tuple] = ()


class Paths(Strict):
    """Folders under data_dir that are not tables."""

    models: NonEmptyStr  # the calibrated model files (and their history/)
    validation: NonEmptyStr  # <validation>/<run_id>/: GX results, data docs, summary
    reports: NonEmptyStr  # the ethics committee's monthly reports


class Windows(Strict):
    short_months: PositiveInt
    long_months: PositiveInt

    @model_validator(mode="after")
    def _short_within_long(self) -> Windows:
        if self.short_months > self.long_months:
            raise_problems([(("short_months",),
                             f"must be <= long_months ({self.short_months} > {self.long_months})")])
        return self


class Capacity(Strict):
    national_controls_per_year: PositiveInt
    # The national capacity is for this many households; a smaller scored population (a
    # synthetic one, a pilot) gets the same share of controls, not the same number.
    reference_households: PositiveInt
    per_caf_monthly: dict[CafCode, NonNegativeInt] = Field(default_factory=dict)


class Rules(Strict):
    """Thresholds of DMDE.md §3 that are not band edges of the model file."""

    child_adult_age: PositiveInt
    child_working_age: PositiveInt
    corrections_min_count: PositiveInt
    corrections_min_mean_gap_eur: NonNegative


class ControlDelays(Strict):
    with_impact_months: PositiveInt
    without_impact_months: PositiveInt
    uniform_from: Month
    uniform_months: PositiveInt

    def months_for(self, score_month: date, had_impact: bool) -> int:
        """Minimum months since the last DMDE control for a household to be eligible."""
        if score_month >= self.uniform_from:
            return self.uniform_months
        return self.with_impact_months if had_impact else self.without_impact_months


class EstimateSettings(Strict):
    """`dmde estimate`: when a modality is not estimated (merged into its variable's
    reference for the fit), and the intervals reported."""

    min_modality_count: PositiveInt  # households of the modality in the sample, at least
    max_standard_error: Positive  # of a ln OR after the fit; above it (or NaN): quasi-separation
    confidence_level: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
    max_iterations: PositiveInt  # IRLS iterations


class Ceilings(Strict):
    """Plausible upper bounds of source amounts: above them a row is quarantined."""

    payment_eur: Positive  # one benefit's monthly payment
    resources_eur: Positive  # a household's net monthly resources
    declaration_eur: Positive  # an amount of a quarterly DTR
    control_eur: Positive  # an over- or underpayment found by a control
    overpayment_months: PositiveInt


class Quality(Strict):
    """Validation of the source tables (rules in expectations/)."""

    # A table fails when more than this share of its rows of one source month (or of the
    # whole table) are rejected: a bad extract is a bad month.
    max_quarantine_share: Share
    # A partitioned table fails when a month holds fewer rows than this share of the
    # median of its other months: an extract cut short.
    min_month_rows_ratio: Share
    ceilings: Ceilings
    earliest_birth_date: IsoDate
    examples_per_rule: PositiveInt  # example keys per rule in the summary and error messages
    data_docs: bool  # also render Great Expectations' HTML data docs
    # GX checks every row rule too (two passes over each table); false: GX checks the
    # schemas only, the job's own filter still applies and counts every rule.
    gx_row_rules: bool
    # Values GX lists per failed expectation: each costs GX a pass over the table; the
    # quarantine table holds every rejected row anyway.
    gx_unexpected_examples: NonNegativeInt


Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
OpenShare = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
Pair = Annotated[tuple[NonEmptyStr, NonEmptyStr], list_to_tuple]


def _increasing(name: str, values: tuple[float, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems of a list that must be strictly increasing (hence without duplicates)."""
    return [((name, i), f"must be > the previous value {previous:g} (strictly increasing, "
                        f"got {value:g})")
            for i, (previous, value) in enumerate(zip(values, values[1:]), start=1)
            if value <= previous]


class PsiSettings(Strict):
    """MONITORING.md §2.7: shares floored at `floor` (no renormalisation after flooring);
    STABLE < moderate <= MODERATE < significant <= SIGNIFICANT."""

    floor: OpenShare  # > 0: ln(p/q) must stay finite
    moderate: Positive
    significant: Positive

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> PsiSettings:
        if self.significant <= self.moderate:
            raise_problems([(("significant",), f"must be > moderate ({self.significant:g} <= "
                                                f"{self.moderate:g})")])
        return self


class BootstrapSettings(Strict):
    """MONITORING.md §3: percentile bootstrap, `replicates` draws, seeds
    `default_rng([seed, crc32(key)])`, interval at `level`."""

    replicates: PositiveInt
    seed: NonNegativeInt  # numpy seed sequences take non-negative integers only
    level: OpenShare


class MonitoringSettings(Strict):
    """MONITORING.md §0: windows, selections, suppression, band, drift and bootstrap."""

    evaluation_months: PositiveInt  # E(M) = M-evaluation_months … M-1
    fractions: Annotated[tuple[Fraction, ...], list_to_tuple, Field(min_length=1)]
    parity_fractions: Annotated[tuple[Fraction, ...], list_to_tuple, Field(min_length=1)]
    horizons_months: Annotated[tuple[PositiveInt, ...], list_to_tuple, Field(min_length=1)]
    list_lookback_months: PositiveInt  # ON_LIST: targets of the control month and the n-1 before
    baseline_months: PositiveInt  # benefits_6m_eur: benefit months M-n … M-1
    min_cell: PositiveInt  # §4: a count between 1 and min_cell-1 is suppressed
    band: Annotated[tuple[Positive, Positive], list_to_tuple]  # [low, high], inclusive
    psi: PsiSettings
    score_bins: Annotated[tuple[NonNegative, ...], list_to_tuple, Field(min_length=2)]
    bootstrap: BootstrapSettings
    intersections: Annotated[tuple[Pair, ...], list_to_tuple] = ()
    attributes_retention_months: PositiveInt

    @model_validator(mode="after")
    def _consistent(self) -> MonitoringSettings:
        problems = _increasing("fractions", self.fractions)
        problems += _increasing("parity_fractions", self.parity_fractions)
        problems += [(("parity_fractions", i), f"must be one of fractions ({value:g} is not): "
                                               "parity uses the selections of §2.1")
                     for i, value in enumerate(self.parity_fractions) if value not in self.fractions]
        problems += _increasing("horizons_months", self.horizons_months)
        low, high = self.band
        if low >= high:
            problems.append((("band",), f"must be ordered [low, high] with low < high "
                                        f"(got [{low:g}, {high:g}])"))
        elif not low <= 1 <= high:
            problems.append((("band",), f"must hold 1, the ratio of equal shares "
                                        f"(got [{low:g}, {high:g}])"))
        problems += _increasing("score_bins", self.score_bins)
        if self.score_bins[0] != 0 or self.score_bins[-1] != 1:
            problems.append((("score_bins",), "must start at 0 and end at 1, so that every score "
                                              f"falls in a bin (got {self.score_bins[0]:g} … "
                                              f"{self.score_bins[-1]:g})"))
        seen: dict[frozenset[str], int] = {}
        for i, pair in enumerate(self.intersections):  # names: checked against conf/populations.yaml
            if pair[0] == pair[1]:
                problems.append((("intersections", i), f"crosses {pair[0]} with itself"))
            elif frozenset(pair) in seen:
                problems.append((("intersections", i), f"duplicate of intersections[{seen[frozenset(pair)]}]"))
            seen.setdefault(frozenset(pair), i)
        raise_problems(problems)
        return self


class Settings(Strict):
    """The merged YAML settings, before paths are resolved and reference data loaded."""

    data_dir: NonEmptyStr
    sources: dict[str, TableSettings]
    outputs: dict[str, TableSettings]
    restricted: dict[str, TableSettings]
    paths: Paths
    delta: DeltaSettings
    spark: SparkSettings
    windows: Windows
    model_file: NonEmptyStr
    cafs_file: NonEmptyStr
    smic_file: NonEmptyStr
    synth_file: NonEmptyStr
    populations_file: NonEmptyStr
    personas_file: NonEmptyStr  # the what-if file of `dmde whatif` without a FILE
    capacity: Capacity
    control_delays: ControlDelays
    quality: Quality
    rules: Rules
    estimate: EstimateSettings
    monitoring: MonitoringSettings
