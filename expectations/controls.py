"""Suite of `controls`: past controls (before the score month), for eligibility, and the
list a DMDE control was taken from (`target_score_month`, for the monitoring)."""
from __future__ import annotations

from datetime import timedelta

from domain.codes import MODES, ORIGINS
from expectations.rules import (
    BOOLEAN, DATE, INT, MONEY, STRING, Ordered, Parameters, TableSuite, between, in_set, not_null,
)

SCHEMA = {
    "household_id": STRING, "control_date": DATE, "origin": STRING, "mode": STRING,
    "overpayment_eur": MONEY, "underpayment_eur": MONEY, "overpayment_months": INT, "fraud": BOOLEAN,
    # the score month of the list a DMDE control was taken from; null for OPBD, OTHER and
    # off-list controls (and in tables written before the column: jobs/lib/sources.py)
    "target_score_month": DATE,
}


def suite(p: Parameters) -> TableSuite:
    ceiling = "€ found by a control, conf quality.ceilings.control_eur"
    return TableSuite(
        table="controls",
        schema=SCHEMA,
        key=("household_id", "control_date", "origin"),
        rules=(
            not_null("household_id"),
            not_null("control_date"),
            not_null("origin"),
            not_null("mode"),
            not_null("overpayment_eur", "a control's financial impact decides its delay"),
            not_null("underpayment_eur", "a control's financial impact decides its delay"),
            not_null("overpayment_months"),
            in_set("origin", ORIGINS, "control origin"),
            in_set("mode", MODES, "control mode"),
            between("control_date", None, p.controls_before - timedelta(days=1), "before the score month"),
            between("overpayment_eur", 0, p.max_control_eur, ceiling),
            between("underpayment_eur", 0, p.max_control_eur, ceiling),
            between("overpayment_months", 0, p.max_overpayment_months,
                    "months, conf quality.ceilings.overpayment_months"),
            Ordered(name="list_before_control", first="target_score_month", then="control_date",
                    description="a control is taken from a list of its month or an earlier one "
                                "(target_score_month on or before control_date)"),
        ),
    )
