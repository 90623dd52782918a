"""Suite of `members`: activity spells of heads, partners and children."""
from __future__ import annotations

from domain.codes import ACTIVITIES, ROLES
from expectations.rules import (
    DATE, STRING, Ordered, Parameters, TableSuite, between, in_set, not_null,
)

SCHEMA = {
    "household_id": STRING, "member_id": STRING, "role": STRING, "birth_date": DATE,
    "activity": STRING, "valid_from": DATE, "valid_to": DATE,
}


def suite(p: Parameters) -> TableSuite:
    return TableSuite(
        table="members",
        schema=SCHEMA,
        key=("household_id", "member_id", "valid_from"),
        rules=(
            not_null("household_id"),
            not_null("member_id"),
            not_null("role"),
            not_null("birth_date", "ages are computed from it"),
            not_null("valid_from", "the spell's start"),
            # activity may be null: the features read an unknown activity as UNKNOWN
            in_set("role", ROLES, "role"),
            in_set("activity", ACTIVITIES, "activity"),
            between("birth_date", p.earliest_birth_date, p.as_of,
                    "born before the as-of date, conf quality.earliest_birth_date"),
            between("valid_from", None, p.as_of, "spells the month reads start by the as-of date"),
            Ordered(name="spell_dates_ordered", first="valid_from", then="valid_to",
                    description="valid_from <= valid_to (an open spell has no valid_to)"),
        ),
    )
