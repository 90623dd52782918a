"""Value types of the specs: months, dates, codes and bounded numbers, as pydantic
annotations that parse what YAML and CSV give and refuse the rest with a clear problem."""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, PlainValidator

from domain.codes import CAF_CODES
from domain.errors import got


def parse_month(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        if value.day != 1:
            raise ValueError(f"must be a month YYYY-MM (got the date {value.isoformat()})")
        return value
    match = re.fullmatch(r"(\d{4})-(\d{2})", value) if isinstance(value, str) else None
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"must be a month YYYY-MM{got(value)}")
    return date(int(match[1]), int(match[2]), 1)


def parse_iso_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"must be a date YYYY-MM-DD{got(value)}")


def parse_timestamp(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(f"must be a timestamp with its time zone, YYYY-MM-DDTHH:MM:SSZ{got(value)}")
    return parsed


def _spark_value(value: Any) -> str | int | float | bool:
    if isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"must be a string, number or boolean{got(value)}")


def _caf_code(value: Any) -> str:
    if isinstance(value, str) and value in CAF_CODES:
        return value
    hint = " (quote it in YAML: \"06\")" if isinstance(value, int) else ""
    raise ValueError(f"not a Caf code (01…19, 2A, 2B, 21…95, 971…974, 976){got(value)}{hint}")


# A month is a `date` on its first day, written YYYY-MM.
Month = Annotated[date, BeforeValidator(parse_month),
                  PlainSerializer(lambda d: d.strftime("%Y-%m"), return_type=str)]
IsoDate = Annotated[date, BeforeValidator(parse_iso_date)]
Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp), PlainSerializer(
    lambda t: t.isoformat().replace("+00:00", "Z"), return_type=str)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
# YAML gives lists; the models keep immutable tuples.
list_to_tuple = BeforeValidator(lambda value: tuple(value) if isinstance(value, list) else value)
SparkValue = Annotated[str | int | float | bool, PlainValidator(_spark_value)]
CafCode = Annotated[str, PlainValidator(_caf_code)]


class Strict(BaseModel):
    """Values as YAML gives them: no string-to-number or number-to-string coercion."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Row(BaseModel):
    """A CSV row: every cell arrives as a string and is parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
