"""Suite of `households`: the monthly snapshot (W12, partitioned by month)."""
from __future__ import annotations

from expectations.rules import (
    BOOLEAN, DATE, MONEY, STRING, Parameters, Periods, TableSuite, UniqueKey, between, in_set, not_null,
)

SCHEMA = {
    "household_id": STRING, "month": DATE, "caf": STRING, "couple": BOOLEAN, "guardianship": BOOLEAN,
    "resources_eur": MONEY,
    # monitoring only (DMDE.md §6): never a reason to set a household aside from scoring
    "head_sex": STRING, "head_nationality": STRING, "head_birth_date": DATE, "residence": STRING,
}


def suite(p: Parameters) -> TableSuite:
    return TableSuite(
        table="households",
        schema=SCHEMA,
        key=("household_id", "month"),
        caf_column="caf",
        periods=Periods("month", p.w12_months, last_required=True),
        rules=(
            not_null("household_id"),
            not_null("month"),
            not_null("caf"),
            not_null("couple", "the family situation variable needs it"),
            not_null("guardianship", "the tutelle variable needs it"),
            not_null("resources_eur", "the resources/SMIC variable needs it"),
            in_set("caf", p.caf_codes, "Caf code of conf/cafs.csv"),
            between("resources_eur", 0, p.max_resources_eur,
                    "net monthly resources in €, conf quality.ceilings.resources_eur"),
            between("month", p.w12_months[0], p.snapshot_month, "the W12 snapshots the month reads"),
            UniqueKey(name="key_unique", columns=("household_id", "month"),
                      description="one snapshot row per household and month"),
        ),
    )
