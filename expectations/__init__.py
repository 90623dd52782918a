"""The source-data rules: one suite per source table, as data.

`expectations/<table>.py` declares the table's schema (column -> Spark type) and its row
rules in the vocabulary of `expectations.rules`. From that single definition,
`transforms.quality` builds the job's own filter (rows breaking a rule go to the
`quarantine` table) and `expectations.gx_suite` the Great Expectations suite that reports
on the same rules (`jobs/lib/validation.py` runs both).
"""
from __future__ import annotations

from expectations import controls, declarations, events, households, members, payments
from expectations.rules import Parameters, TableSuite

SUITE_MODULES = {
    "households": households,
    "members": members,
    "payments": payments,
    "declarations": declarations,
    "events": events,
    "controls": controls,
}


def suites(parameters: Parameters) -> dict[str, TableSuite]:
    """Every source table's suite for one score month, in the order the job reads them."""
    return {name: module.suite(parameters) for name, module in SUITE_MODULES.items()}
