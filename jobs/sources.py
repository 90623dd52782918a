"""Reading the source tables a score month needs, and nothing more."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import delta
from jobs.config import Config
from transforms.columns import add_months
from transforms.features import Calendar

SOURCE_TABLES = ("households", "members", "payments", "declarations", "events", "controls")
# The tables the 19 variables are computed from (controls only decide eligibility).
FEATURE_TABLES = SOURCE_TABLES[:5]


@dataclass(frozen=True)
class Sources:
    households: DataFrame
    members: DataFrame
    payments: DataFrame
    declarations: DataFrame
    events: DataFrame

    def as_dict(self) -> dict[str, DataFrame]:
        return {name: getattr(self, name) for name in FEATURE_TABLES}


def months(start: date, end: date) -> list[date]:
    """Every first-of-month from start to end inclusive."""
    out, month = [], start
    while month <= end:
        out.append(month)
        month = add_months(month, 1)
    return out


def read_sources(spark: SparkSession, config: Config, first: Calendar, last: Calendar | None = None) -> Sources:
    """The partitions that score months first…last need: the snapshots of W12 (which ends
    with M-1), the payments and DTR quarters of W24. Tables without a month partition
    are filtered on their date column, which Parquet statistics prune; a row whose date
    is null is kept, for validation to set it aside (it belongs to no month, so it would
    otherwise never be seen)."""
    last = last or first
    w24 = months(first.w24_start, last.snapshot_month)
    w12 = months(first.w12_start, last.snapshot_month)

    def read(name: str, where=None) -> DataFrame:
        return delta.read_table(spark, config.source_path(name), where=where)

    return Sources(
        households=read("households", {"month": w12}),
        members=read("members").where(_on_or_null(F.col("valid_from") <= F.lit(last.as_of), "valid_from")),
        payments=read("payments", {"month": w24}),
        declarations=read("declarations", {"quarter_start": w24}),
        events=read("events").where(_on_or_null(
            F.col("event_date").between(F.lit(first.w24_start), F.lit(last.as_of)), "event_date")),
    )


def read_controls(spark: SparkSession, config: Config, before: date) -> DataFrame:
    """Controls dated before `before` (the score month): they decide eligibility."""
    return delta.read_table(spark, config.source_path("controls")).where(
        _on_or_null(F.col("control_date") < F.lit(before), "control_date"))


def _on_or_null(condition: Column, column: str) -> Column:
    """`condition`, or `column` is null: such rows reach validation, which rejects them."""
    return condition | F.col(column).isNull()
