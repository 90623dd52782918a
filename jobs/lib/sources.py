"""Reading the source partitions a span of score months needs, and nothing more."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from domain.calendar import Span
from domain.errors import DmdeError
from jobs.lib import tables
from jobs.lib.config import Config

SOURCE_TABLES = ("households", "members", "payments", "declarations", "events", "controls")
# Columns added to a source table after its first extracts: a table written before them is
# read with the column null (MONITORING.md §8.6: the list a DMDE control was taken from).
ADDED_COLUMNS: dict[str, dict[str, str]] = {"controls": {"target_score_month": "date"}}


class MissingSourcesError(DmdeError):
    """The data directory holds no source table at all."""


def require_sources(config: Config) -> None:
    """One clear line when the data directory holds no sources (a wrong --data-dir)."""
    if not any(tables.exists(config.source_path(name)) for name in SOURCE_TABLES):
        raise MissingSourcesError(
            f"{config.data_dir} holds no source tables (none of {', '.join(SOURCE_TABLES)} under "
            f"{config.data_dir}/sources/): check --data-dir, load the monthly extracts there, or generate a "
            f"synthetic population with `dmde generate --households 20000 --start 2023-08 --end 2026-01 "
            f"--data-dir {config.data_dir}`.")


@dataclass(frozen=True)
class Sources:
    households: DataFrame
    # None: not read (a source month's summary does not use the spells; a score month read
    # from the summaries reads no payment, DTR or event)
    members: DataFrame | None
    payments: DataFrame | None
    declarations: DataFrame | None
    events: DataFrame | None
    controls: DataFrame | None  # None: not read (the generator labels its sample before writing them)

    def as_dict(self) -> dict[str, DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def read_source(spark: SparkSession, config: Config, name: str, *,
                where: Mapping[str, Sequence[object]] | None = None) -> DataFrame:
    """A source table as the suites of expectations/ expect it: a column added since the
    table was written (ADDED_COLUMNS) is read as null."""
    df = tables.read_source(spark, config, name, where=where)
    missing = {column: kind for column, kind in ADDED_COLUMNS.get(name, {}).items() if column not in df.columns}
    if not missing:
        return df
    return df.select("*", *[F.lit(None).cast(kind).alias(column) for column, kind in missing.items()])


def read_sources(spark: SparkSession, config: Config, span: Span, controls_before: date | None = None, *,
                 with_controls: bool = True) -> Sources:
    """The partitions that the score months of `span` need: the snapshots of W12 (which
    ends with M-1), the payments and DTR quarters of W24, the spells and events up to the
    as-of date, the controls before the score month (or `controls_before`). Tables without
    a month partition are filtered on their date column, which Parquet statistics prune; a
    row whose date is null is kept, for validation to set it aside (it belongs to no
    month, so it would otherwise never be seen)."""
    first, last = span.first, span.last

    def read(name: str, where=None) -> DataFrame:
        return read_source(spark, config, name, where=where)

    return Sources(
        households=read("households", {"month": span.w12_months}),
        members=read("members").where(_on_or_null(F.col("valid_from") <= F.lit(last.as_of), "valid_from")),
        payments=read("payments", {"month": span.w24_months}),
        declarations=read("declarations", {"quarter_start": span.w24_months}),
        events=read("events").where(_on_or_null(
            F.col("event_date").between(F.lit(first.w24_start), F.lit(last.as_of)), "event_date")),
        controls=read("controls").where(_on_or_null(
            F.col("control_date") < F.lit(controls_before or last.score_month), "control_date"))
        if with_controls else None,
    )


def _on_or_null(condition: Column, column: str) -> Column:
    """`condition`, or `column` is null: such rows reach validation, which rejects them."""
    return condition | F.col(column).isNull()
