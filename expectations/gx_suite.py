"""The Great Expectations (1.24) suite of a table, built from the same rules as the job's
own filter: GX reports, it does not split rows (STACK.md).

Row-local rules become GX's own expectations (not null, in set, regex, between, column
pair). A rule that compares rows (a unique key, the household's presence in the snapshot,
its Caf's pre-filling start) is computed once by the job (`transforms.quality.lookups`:
the suspect keys, joined back to the rows) into a helper column that GX then checks: GX
has no cross-table expectation for Spark, and its ExpectCompoundColumnsToBeUnique
recomputes its window in three separate Spark jobs, each shuffling the whole table again
(tens of millions of payment rows).

Every expectation carries `meta.rule` (the rule's name, or "schema"), so that a result
is matched to the rule and to the job's own count. Great Expectations is imported here
only, and lazily: it takes seconds to import.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from expectations.rules import (
    Between, InSet, InSnapshot, Matches, NotNull, Ordered, PrefilledFromStart, Rule, TableSuite,
    UniqueKey,
)

SCHEMA_RULE = "schema"


def _value(value: Any) -> Any:
    """Dates as ISO strings: GX serializes its kwargs to JSON (Spark casts them back)."""
    return value.isoformat() if isinstance(value, date) else value


def rule_expectations(rule: Rule) -> list:
    """The GX expectations that check `rule`; the helper columns are `transforms.quality`'s."""
    import great_expectations.expectations as gxe

    meta = {"rule": rule.name, "description": rule.description}
    if isinstance(rule, NotNull):
        return [gxe.ExpectColumnValuesToNotBeNull(column=rule.column, meta=meta)]
    if isinstance(rule, InSet):
        return [gxe.ExpectColumnValuesToBeInSet(column=rule.column, value_set=[_value(v) for v in rule.values],
                                                meta=meta)]
    if isinstance(rule, Matches):
        return [gxe.ExpectColumnValuesToMatchRegex(column=rule.column, regex=rule.pattern, meta=meta)]
    if isinstance(rule, Between):
        return [gxe.ExpectColumnValuesToBeBetween(column=rule.column, min_value=_value(rule.low),
                                                  max_value=_value(rule.high), meta=meta)]
    if isinstance(rule, Ordered):
        return [gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=rule.then, column_B=rule.first, or_equal=True,
            ignore_row_if="either_value_is_missing", meta=meta)]
    # Rules that compare rows: GX checks the helper column the job's window or join left.
    if isinstance(rule, UniqueKey):
        # helper: how many rows share the key
        return [gxe.ExpectColumnValuesToBeBetween(column=rule.helper, min_value=1, max_value=1, meta=meta)]
    if isinstance(rule, InSnapshot):
        # helper: the household was found in the snapshot keys
        return [gxe.ExpectColumnValuesToBeInSet(column=rule.helper, value_set=[True], meta=meta)]
    if isinstance(rule, PrefilledFromStart):
        # helper: the pre-filling start of the household's Caf, for the pre-filled rows dated
        # before the latest start of any Caf (null for the others: they cannot break it)
        return [gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=rule.date_column, column_B=rule.helper, or_equal=True,
            ignore_row_if="either_value_is_missing", meta=meta)]
    raise TypeError(f"no GX expectation for rule type {type(rule).__name__}")


def schema_expectations(suite: TableSuite) -> list:
    import great_expectations.expectations as gxe

    out = []
    for column, data_type in suite.schema.items():
        meta = {"rule": SCHEMA_RULE, "description": f"{column} is a column of type {data_type.simpleString()}"}
        out.append(gxe.ExpectColumnToExist(column=column, meta=meta))
        # GX compares the type's class only (DecimalType, not decimal(12,2)): the job's own
        # schema check compares the whole type.
        out.append(gxe.ExpectColumnValuesToBeOfType(column=column, type_=type(data_type).__name__, meta=meta))
    return out


def gx_suite(suite: TableSuite, *, schema_only: bool = False):
    """The table's ExpectationSuite: schema first, then each row rule."""
    import great_expectations as gx

    expectations = schema_expectations(suite)
    if not schema_only:
        expectations += [e for rule in suite.rules for e in rule_expectations(rule)]
    return gx.ExpectationSuite(name=suite.table, expectations=expectations,
                               meta={"source": f"expectations/{suite.table}.py"})
