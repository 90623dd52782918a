"""Small Column helpers shared by the transforms: dates, ages, seeded randomness and exact
decimal means."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

_TWO_53 = 1 << 53
DECIMAL_MAX_DIGITS = 38  # Spark's largest decimal precision (and scale)


def month_number(month: Column | date) -> Column:
    """Months since year 0 (as `domain.calendar.month_index`): differences count whole months."""
    month = F.lit(month) if isinstance(month, date) else month
    return F.year(month) * 12 + F.month(month) - 1


def completed_age(birth: Column | str, on: Column) -> Column:
    """Completed years of age on a date, exact on birthdays (no day-count approximation)."""
    birth = F.col(birth) if isinstance(birth, str) else birth
    before_birthday = (F.month(on) < F.month(birth)) | (
        (F.month(on) == F.month(birth)) & (F.dayofmonth(on) < F.dayofmonth(birth)))
    return F.year(on) - F.year(birth) - before_birthday.cast("int")


def uniform(seed: int, salt: str, *keys: Column) -> Column:
    """A uniform draw in [0, 1) that depends only on (seed, salt, keys): reproducible anywhere."""
    return F.pmod(F.xxhash64(F.lit(seed), F.lit(salt), *keys), F.lit(_TWO_53)) / float(_TWO_53)


def cumulative(weights: Mapping[object, float]) -> tuple[list, list[float]]:
    """Values with positive weight and the upper bounds of their cumulative shares."""
    items = [(value, weight) for value, weight in weights.items() if weight > 0]
    total, running, bounds = sum(w for _, w in items), 0.0, []
    for _, weight in items:
        running += weight / total
        bounds.append(running)
    return [value for value, _ in items], bounds


def pick(u: Column, values: Column, bounds: Column) -> Column:
    """The value whose cumulative-share interval holds the uniform draw `u`."""
    below = F.size(F.filter(F.slice(bounds, 1, F.size(bounds) - 1), lambda b: b <= u))
    return F.element_at(values, below + 1)


def categorical(u: Column, weights: Mapping[object, float]) -> Column:
    """Map a uniform draw to a value with the given (unnormalised) weights."""
    values, bounds = cumulative(weights)
    return pick(u, F.array(*[F.lit(v) for v in values]), F.array(*[F.lit(b) for b in bounds]))


def by_key(key: Column, values: Mapping[str, Column | object], default: Column | None = None) -> Column:
    """CASE key WHEN k THEN values[k] ... : per-archetype parameters as one Column."""
    expr = None
    for k, value in values.items():
        value = value if isinstance(value, Column) else F.lit(value)
        expr = F.when(key == k, value) if expr is None else expr.when(key == k, value)
    return expr if default is None else expr.otherwise(default)


def in_force(table: Sequence[tuple[date, float]], on: Column) -> Column:
    """The value of a dated table [(valid_from, value), …] in force on a date Column
    (e.g. the net monthly SMIC of conf/smic.csv); null before the first date."""
    expr = None
    for valid_from, value in sorted(table, reverse=True):
        condition = on >= F.lit(valid_from)
        expr = F.when(condition, F.lit(value)) if expr is None else expr.when(condition, F.lit(value))
    return expr


def decimal_average(total: Column, count: Column, value_type: DecimalType) -> Column:
    """`avg` of decimal values of `value_type`, from their sum and count (null when the
    count is 0): the arithmetic of Spark's Average — the sum in its buffer's type
    decimal(p+10, s), divided by the count as decimal(20,0), cast to the average's type
    decimal(p+4, s+4) — so that a mean rebuilt from partial sums and counts (a month's
    summary) is the very value `avg` gives over the rows, rounding included."""
    p, s = value_type.precision, value_type.scale
    sum_type = DecimalType(min(DECIMAL_MAX_DIGITS, p + 10), s)
    average_type = DecimalType(min(DECIMAL_MAX_DIGITS, p + 4), min(DECIMAL_MAX_DIGITS, s + 4))
    return F.when(count > 0, (total.cast(sum_type) / count.cast("decimal(20,0)")).cast(average_type))
