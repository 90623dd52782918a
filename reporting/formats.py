"""Numbers as a French reader expects them: decimal comma, thin no-break space between
thousands and before % or €, intervals as [a ; b], small counts never shown."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

NNBSP = "\u202f"  # narrow no-break space: thousands, before % and €
MISSING = "–"     # a value the table does not have (not a suppressed one)
SUPPRESSED = "s"  # MONITORING.md §4: a small cell


def _number(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def decimal(value, digits: int = 2) -> str:
    value = _number(value)
    if value is None:
        return MISSING
    text = f"{value:,.{digits}f}".replace(",", NNBSP).replace(".", ",")
    return text.replace("-", "−")


def integer(value) -> str:
    value = _number(value)
    if value is None:
        return MISSING
    return f"{round(value):,}".replace(",", NNBSP)


def count(value, min_cell: int) -> str:
    """A count of households or controls: 0 and ≥ min_cell shown, 1…min_cell−1 never
    (the tables already suppress them; this is the report's own guard)."""
    value = _number(value)
    if value is None:
        return MISSING
    if 0 < value < min_cell:
        return SUPPRESSED
    return integer(value)


def percent(value, digits: int = 1) -> str:
    value = _number(value)
    if value is None:
        return MISSING
    return f"{decimal(100 * value, digits)}{NNBSP}%"


def points(value, digits: int = 1) -> str:
    value = _number(value)
    if value is None:
        return MISSING
    sign = "+" if value > 0 else ""
    return f"{sign}{decimal(value, digits)}{NNBSP}pts"


def euros(value) -> str:
    value = _number(value)
    if value is None:
        return MISSING
    return f"{integer(value)}{NNBSP}€"


def interval(low, high, formatter) -> str:
    if _number(low) is None or _number(high) is None:
        return ""
    return f"[{formatter(low)} ; {formatter(high)}]"


def french_month(month: date, names: list[str]) -> str:
    return f"{names[month.month - 1]} {month.year}"


def french_timestamp(moment: datetime | None, names: list[str]) -> str:
    if moment is None:
        return MISSING
    return f"{moment.day} {names[moment.month - 1]} {moment.year} à {moment:%H:%M} UTC"


@dataclass
class Cell:
    """A table cell: its text, its CSS classes (count, s for suppressed, flag)."""

    text: str
    classes: list[str] = field(default_factory=list)
    sub: str = ""  # a second line (the interval)

    @property
    def css(self) -> str:
        return " ".join(self.classes)


def suppressed_cell() -> Cell:
    return Cell(SUPPRESSED, ["s"])


def value_cell(row: dict, column: str, formatter, *, ci: bool = False, kind: str = "num") -> Cell:
    """A row's value (with its interval underneath when `ci`); « s » on a suppressed row."""
    if row.get("suppressed"):
        return suppressed_cell()
    text = formatter(row.get(column))
    sub = interval(row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high"), formatter) if ci else ""
    return Cell(text, [kind], sub)


def count_cell(row: dict, column: str, min_cell: int) -> Cell:
    if row.get("suppressed"):
        return suppressed_cell()
    text = count(row.get(column), min_cell)
    return Cell(text, ["count", "s"] if text == SUPPRESSED else ["count"])
