"""The settings of `conf/base.yaml` and its overlays, as strict typed models.

Every section is checked on load (`jobs/lib/config.py`): an unknown key, a wrong type or an
impossible value is a ConfigError naming the file and the key, at start-up.
"""
from __future__ import annotations

from datetime import date
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


class TableSettings(Strict):
    path: NonEmptyStr  # relative to data_dir
    partition_by: Annotated[tuple[NonEmptyStr, ...], list_to_tuple] = ()


class Paths(Strict):
    """Folders under data_dir that are not tables."""

    models: NonEmptyStr  # the calibrated model files (and their history/)
    validation: NonEmptyStr  # <validation>/<run_id>/: GX results, data docs, summary
    reports: NonEmptyStr  # the ethics committee's monthly reports
    restricted: NonEmptyStr  # per-household monitoring attributes, never read by BI


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


class Monitoring(Strict):
    """The monitoring of MONITORING.md; its other settings come with the monitoring job."""

    # Pairs of population attributes (conf/populations.yaml) also reported crossed.
    intersections: Annotated[tuple[Annotated[tuple[NonEmptyStr, NonEmptyStr], list_to_tuple], ...],
                             list_to_tuple] = ()


class Settings(Strict):
    """The merged YAML settings, before paths are resolved and reference data loaded."""

    data_dir: NonEmptyStr
    sources: dict[str, TableSettings]
    outputs: dict[str, TableSettings]
    paths: Paths
    spark: SparkSettings
    windows: Windows
    model_file: NonEmptyStr
    cafs_file: NonEmptyStr
    smic_file: NonEmptyStr
    synth_file: NonEmptyStr
    populations_file: NonEmptyStr
    capacity: Capacity
    control_delays: ControlDelays
    quality: Quality
    rules: Rules
    monitoring: Monitoring
