"""The calendar of a score month (DMDE.md §2), and month arithmetic, defined once.

A month is a `date` on its first day. Score month M reads W12 = M-12 … M-1 and
W24 = M-24 … M-1; situations are read on the as-of date, the last day of M-1; the scored
population is the snapshot of M-1.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

QUARTER_FIRST_MONTHS = (1, 4, 7, 10)


def month_start(value: date | str) -> date:
    """'2026-01' (or any date in the month) -> the first day of that month."""
    if isinstance(value, str):
        year, month = value[:7].split("-")
        return date(int(year), int(month), 1)
    return value.replace(day=1)


def month_index(month: date) -> int:
    """Months since year 0: differences of indexes count whole months."""
    return month.year * 12 + month.month - 1


def add_months(month: date, n: int) -> date:
    index = month_index(month) + n
    return date(index // 12, index % 12 + 1, 1)


def months_between(start: date, end: date) -> int:
    """end - start in whole months (end's month minus start's month)."""
    return month_index(end) - month_index(start)


def months(start: date, end: date) -> list[date]:
    """Every first-of-month from start to end inclusive."""
    return [add_months(start, n) for n in range(months_between(start, end) + 1)]


def is_quarter_start(month: date) -> bool:
    return month.month in QUARTER_FIRST_MONTHS


@dataclass(frozen=True)
class Calendar:
    """The windows of score month M: W12 = M-12…M-1, W24 = M-24…M-1 (DMDE.md §2)."""

    score_month: date
    short_months: int = 12
    long_months: int = 24

    @property
    def snapshot_month(self) -> date:
        """M-1: the scored population is this month's snapshot."""
        return add_months(self.score_month, -1)

    @property
    def as_of(self) -> date:
        """Last day of M-1: the date situations (activity, guardianship) are read on."""
        return self.score_month - timedelta(days=1)

    @property
    def w12_start(self) -> date:
        return add_months(self.score_month, -self.short_months)

    @property
    def w24_start(self) -> date:
        return add_months(self.score_month, -self.long_months)

    def at(self, score_month: date) -> Calendar:
        """The same windows for another score month."""
        return Calendar(score_month, self.short_months, self.long_months)


@dataclass(frozen=True)
class Span:
    """The source months that the score months first…last read together (a backfill, or a
    labelled sample whose households are scored at their control months)."""

    first: Calendar
    last: Calendar

    @classmethod
    def of(cls, cal: Calendar) -> Span:
        return cls(cal, cal)

    @property
    def w12_months(self) -> list[date]:
        return months(self.first.w12_start, self.last.snapshot_month)

    @property
    def w24_months(self) -> list[date]:
        return months(self.first.w24_start, self.last.snapshot_month)

    @property
    def w24_quarter_starts(self) -> list[date]:
        return [m for m in self.w24_months if is_quarter_start(m)]
