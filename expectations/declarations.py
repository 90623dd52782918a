"""Suite of `declarations`: quarterly resource declarations (DTR) of W24."""
from __future__ import annotations

from expectations.rules import (
    BOOLEAN, DATE, MONEY, STRING, InSet, InSnapshot, Parameters, Periods, PrefilledFromStart,
    TableSuite, UniqueKey, between, not_null,
)

SCHEMA = {
    "household_id": STRING, "quarter_start": DATE, "declared_eur": MONEY, "prefilled_eur": MONEY,
    "alimony": BOOLEAN, "self_employment_eur": MONEY, "corrected": BOOLEAN, "verified": BOOLEAN,
}


def suite(p: Parameters) -> TableSuite:
    ceiling = "a quarterly DTR amount in €, conf quality.ceilings.declaration_eur"
    quarters = p.w24_quarter_starts
    return TableSuite(
        table="declarations",
        schema=SCHEMA,
        key=("household_id", "quarter_start"),
        periods=Periods("quarter_start", quarters, last_required=False),
        rules=(
            not_null("household_id"),
            not_null("quarter_start"),
            not_null("declared_eur"),
            not_null("alimony", "the alimony variable counts it"),
            not_null("self_employment_eur", "the practice variable counts it"),
            not_null("corrected", "the corrections variable counts it"),
            not_null("verified", "the corrections variable counts it"),
            # prefilled_eur is null before the Caf's pre-filling start (DATA.md)
            InSet(name="quarter_start_in_range", column="quarter_start", values=quarters,
                  description=f"quarter_start is the first day of a calendar quarter of W24 "
                              f"({quarters[0] if quarters else '-'} … {quarters[-1] if quarters else '-'})"),
            between("declared_eur", 0, p.max_declaration_eur, ceiling),
            between("prefilled_eur", 0, p.max_declaration_eur, ceiling),
            between("self_employment_eur", 0, p.max_declaration_eur, ceiling),
            UniqueKey(name="key_unique", columns=("household_id", "quarter_start"),
                      description="one DTR per household and quarter"),
            InSnapshot(name="household_in_snapshot", date_column="quarter_start", period="quarter",
                       description="the household is in the households snapshot of a month of that quarter"),
            PrefilledFromStart(name="prefilled_from_caf_start", amount_column="prefilled_eur",
                               date_column="quarter_start", period="quarter", starts=p.prefill_starts,
                               description="a pre-filled amount only from the pre-filling start of the "
                                           "household's Caf (conf/cafs.csv prefill_start)"),
        ),
    )
