"""Suite of `payments`: benefits paid per household, month and benefit (W24)."""
from __future__ import annotations

from domain.codes import BENEFITS
from expectations.rules import (
    DATE, MONEY, STRING, InSnapshot, Parameters, Periods, TableSuite, UniqueKey, between, in_set,
    not_null,
)

SCHEMA = {"household_id": STRING, "month": DATE, "benefit": STRING, "amount_eur": MONEY}


def suite(p: Parameters) -> TableSuite:
    return TableSuite(
        table="payments",
        schema=SCHEMA,
        key=("household_id", "month", "benefit"),
        periods=Periods("month", p.w24_months, last_required=True),
        rules=(
            not_null("household_id"),
            not_null("month"),
            not_null("benefit"),
            not_null("amount_eur"),
            in_set("benefit", BENEFITS, "benefit"),
            between("amount_eur", 0, p.max_payment_eur,
                    "a monthly payment in €, conf quality.ceilings.payment_eur"),
            between("month", p.w24_months[0], p.snapshot_month, "the W24 months the month reads"),
            UniqueKey(name="key_unique", columns=("household_id", "month", "benefit"),
                      description="one row per household, month and benefit"),
            InSnapshot(name="household_in_snapshot", date_column="month", period="month",
                       description="the household is in the households snapshot of that month"),
        ),
    )
