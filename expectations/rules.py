"""The vocabulary of the source-data rules: what a suite in this package may say.

A table's suite is data: its expected schema, the columns that identify a row in
messages, the partitions a month must find non-empty, and its row rules. Two engines read
the same definitions: `transforms.quality` turns each rule into a Spark Column that tags
the rows breaking it (the job's own filter, which splits valid rows from quarantined
ones), and `expectations.gx_suite` turns it into Great Expectations expectations (the
report). A rule never names the engine.

Every value rule ignores nulls (as Great Expectations does): whether a column may be null
is its own `NotNull` rule, so that a row is quarantined for the reason that explains it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from pyspark.sql.types import BooleanType, DataType, DateType, DecimalType, IntegerType, StringType

from domain import codes
from domain.calendar import is_quarter_start

# The types of DATA.md: money is decimal(12,2), months are dates on the first day.
STRING: DataType = StringType()
DATE: DataType = DateType()
MONEY: DataType = DecimalType(*codes.MONEY_DIGITS)
BOOLEAN: DataType = BooleanType()
INT: DataType = IntegerType()

# Columns the tagging adds; prefixed so that they never collide with a source column.
RULES_COLUMN = "dq_rules"
HELPER_PREFIX = "dq_"

Bound = int | float | Decimal | date


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A row rule: `name` goes to the quarantine table, `description` says what is expected
    in words a controller or a data engineer can act on (with the conf key of a threshold)."""

    name: str
    description: str


@dataclass(frozen=True, kw_only=True)
class NotNull(Rule):
    column: str


@dataclass(frozen=True, kw_only=True)
class InSet(Rule):
    column: str
    values: tuple


@dataclass(frozen=True, kw_only=True)
class Matches(Rule):
    column: str
    pattern: str  # a Java/Python regular expression, anchored by the rule's author


@dataclass(frozen=True, kw_only=True)
class Between(Rule):
    """low <= column <= high; an omitted bound is open."""

    column: str
    low: Bound | None = None
    high: Bound | None = None


@dataclass(frozen=True, kw_only=True)
class Ordered(Rule):
    """column `first` <= column `then` when both are known (an open end is never a breach)."""

    first: str
    then: str


@dataclass(frozen=True, kw_only=True)
class UniqueKey(Rule):
    """No two rows share these columns: every row of a duplicated key is quarantined,
    since nothing says which one is right."""

    columns: tuple[str, ...]

    @property
    def helper(self) -> str:
        return f"{HELPER_PREFIX}{self.name}_rows"


@dataclass(frozen=True, kw_only=True)
class InSnapshot(Rule):
    """The household is in the `households` snapshot of the row's month (period "month"),
    or of at least one month of the row's quarter (period "quarter")."""

    date_column: str
    period: Literal["month", "quarter"]

    @property
    def helper(self) -> str:
        return f"{HELPER_PREFIX}{self.name}"


@dataclass(frozen=True, kw_only=True)
class PrefilledFromStart(Rule):
    """A pre-filled amount only from the pre-filling start of the household's Caf (its Caf
    in the snapshot of the latest month of the row's period): `date_column` >= start when
    `amount_column` is set."""

    amount_column: str
    date_column: str
    period: Literal["month", "quarter"]
    starts: Mapping[str, date] = field(hash=False)  # Caf code -> first pre-filled period

    @property
    def helper(self) -> str:
        return f"{HELPER_PREFIX}{self.name}_start"


@dataclass(frozen=True)
class Periods:
    """The partitions a score month reads: each must hold rows, from the first one that
    does to the last (a gap means an incomplete extract). `last_required`: the last period
    must hold rows too (the snapshot of M-1, the payments of M-1). Periods before the
    table's first rows are reported, not fatal: the history may start later."""

    column: str
    expected: tuple[date, ...]
    last_required: bool


@dataclass(frozen=True)
class TableSuite:
    table: str
    schema: Mapping[str, DataType]  # column -> expected Spark type, in the table's order
    key: tuple[str, ...]  # the columns that identify a row in messages
    rules: tuple[Rule, ...]  # in order of precedence: the first broken one is the row's `rule`
    periods: Periods | None = None
    caf_column: str | None = None  # where the row's own Caf is (households)

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(f"{self.table}: no rule {name!r} (rules: {', '.join(r.name for r in self.rules)})")

    def __post_init__(self) -> None:
        names = [rule.name for rule in self.rules]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"suite {self.table}: duplicate rule names {duplicated}")
        columns = set(self.schema)
        for rule in self.rules:
            used = set(_columns_of(rule))
            if used - columns:
                raise ValueError(f"suite {self.table}: rule {rule.name} names columns "
                                 f"{sorted(used - columns)} absent from the schema")


def _columns_of(rule: Rule) -> list[str]:
    if isinstance(rule, (NotNull, InSet, Matches, Between)):
        return [rule.column]
    if isinstance(rule, Ordered):
        return [rule.first, rule.then]
    if isinstance(rule, UniqueKey):
        return list(rule.columns)
    if isinstance(rule, InSnapshot):
        return ["household_id", rule.date_column]
    if isinstance(rule, PrefilledFromStart):
        return [rule.amount_column, rule.date_column]
    raise TypeError(f"unknown rule type {type(rule).__name__}")


# --- constructors with the project's naming and wording ------------------------------------

def not_null(column: str, why: str = "") -> NotNull:
    return NotNull(name=f"{column}_not_null", column=column,
                   description=f"{column} is present{f' ({why})' if why else ''}")


def in_set(column: str, values: tuple, what: str) -> InSet:
    shown = ", ".join(str(v) for v in values)
    if len(values) > 12:
        shown = ", ".join(str(v) for v in values[:8]) + f", … ({len(values)} codes)"
    return InSet(name=f"{column}_in_set", column=column, values=tuple(values),
                 description=f"{column} is a known {what} ({shown})")


def between(column: str, low: Bound | None, high: Bound | None, why: str) -> Between:
    if low is not None and high is not None:
        span = f"between {_show(low)} and {_show(high)}"
    elif low is not None:
        span = f"at least {_show(low)}"
    else:
        span = f"at most {_show(high)}"
    return Between(name=f"{column}_in_range", column=column, low=low, high=high,
                   description=f"{column} is {span} ({why})")


def _show(value: Bound) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}".replace(",", " ")


@dataclass(frozen=True)
class Parameters:
    """What the suites of one score month depend on: its calendar, the reference data and
    the plausible ceilings of conf `quality.ceilings`."""

    score_month: date
    snapshot_month: date  # M-1: the scored population's snapshot
    as_of: date  # last day of M-1
    controls_before: date  # the controls read are dated before it (the score month)
    w12_months: tuple[date, ...]
    w24_months: tuple[date, ...]
    prefill_starts: Mapping[str, date] = field(hash=False)  # Caf code -> pre-filling start
    max_payment_eur: float
    max_resources_eur: float
    max_declaration_eur: float
    max_control_eur: float
    max_overpayment_months: int
    earliest_birth_date: date

    @property
    def caf_codes(self) -> tuple[str, ...]:
        return tuple(self.prefill_starts)

    @property
    def w24_quarter_starts(self) -> tuple[date, ...]:
        return tuple(m for m in self.w24_months if is_quarter_start(m))
