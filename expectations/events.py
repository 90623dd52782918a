"""Suite of `events`: the "faits générateurs" of W24 (up to the as-of date)."""
from __future__ import annotations

from domain.codes import EVENT_CODE_PATTERN as CODE_PATTERN
from expectations.rules import DATE, STRING, Matches, Parameters, TableSuite, between, not_null

# The job counts CONLOGETU, PROACC, VOLSOC, ABATTEMENT and NEUTRALISATION; other codes are
# allowed (and ignored) as long as they look like codes.

SCHEMA = {"household_id": STRING, "event_date": DATE, "code": STRING}


def suite(p: Parameters) -> TableSuite:
    return TableSuite(
        table="events",
        schema=SCHEMA,
        key=("household_id", "event_date", "code"),
        rules=(
            not_null("household_id"),
            not_null("event_date"),
            not_null("code"),
            Matches(name="code_format", column="code", pattern=CODE_PATTERN,
                    description=f"code is an event code: uppercase letters and _ ({CODE_PATTERN})"),
            between("event_date", p.w24_months[0], p.as_of, "W24, up to the as-of date"),
        ),
    )
