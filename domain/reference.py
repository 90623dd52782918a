"""Reference data versioned with the code: the 101 Caf and the dated net monthly SMIC."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from domain.types import CafCode, IsoDate, NonEmptyStr, Positive, Row


class Caf(Row):
    code: CafCode
    name: NonEmptyStr
    prefill_start: IsoDate  # first month of pre-filled resource declarations
    relative_size: Positive  # relative weight only (≈ population in thousands)


class SmicRate(Row):
    valid_from: IsoDate
    net_monthly_eur: Positive


def in_force(table: Sequence[tuple[date, float]], on: date) -> float | None:
    """The value of a dated table [(valid_from, value), …] in force on a date; None before
    the first date."""
    values = [value for valid_from, value in sorted(table) if valid_from <= on]
    return values[-1] if values else None
