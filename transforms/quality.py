"""The source-data rules of `expectations/` as Spark Columns: the job's own filter.

Each source row is tagged with the names of the rules it breaks (an array<string>, in the
suite's order); a row with none is used, a row with any goes whole to the quarantine.
Row-local rules are Column predicates; uniqueness is a window count over the key;
referential integrity is a left join on the snapshot keys. No collect, no UDF: the
counts are one aggregation per table, read by the job.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from expectations.rules import (
    RULES_COLUMN, Between, InSet, InSnapshot, Matches, NotNull, Ordered,
    PrefilledFromStart, Rule, TableSuite, UniqueKey,
)

UNKNOWN_CAF = "unknown"
COUNT_SCHEMA = ("table string, rows_read long, rows_quarantined long, "
                "by_rule map<string,long>, by_period map<string,long>")
QUARANTINE_COLUMNS = ["score_month", "caf", "table", "rule", "rules", "rule_description",
                      "household_id", "key", "row", "run_id"]
_PERIOD_COLUMN = "dq_period"
_PREFILL_START_COLUMN = "dq_snapshot_prefill_start"


def breaks(rule: Rule) -> Column:
    """True when the row breaks `rule`, never null. Value rules ignore nulls (a missing value
    is a NotNull rule's business); the helper columns come from `tag`."""
    if isinstance(rule, NotNull):
        broken = F.col(rule.column).isNull()
    elif isinstance(rule, InSet):
        broken = ~F.col(rule.column).isin(*[F.lit(v) for v in rule.values])
    elif isinstance(rule, Matches):
        broken = ~F.col(rule.column).rlike(rule.pattern)
    elif isinstance(rule, Between):
        value = F.col(rule.column)
        below = value < F.lit(rule.low) if rule.low is not None else F.lit(False)
        above = value > F.lit(rule.high) if rule.high is not None else F.lit(False)
        broken = below | above
    elif isinstance(rule, Ordered):
        broken = F.col(rule.first) > F.col(rule.then)
    elif isinstance(rule, UniqueKey):
        broken = F.col(rule.helper) > 1
    elif isinstance(rule, InSnapshot):
        broken = ~F.col(rule.helper)
    elif isinstance(rule, PrefilledFromStart):
        broken = F.col(rule.date_column) < F.col(rule.helper)
    else:
        raise TypeError(f"no Column for rule type {type(rule).__name__}")
    return F.coalesce(broken, F.lit(False))


def broken_rules(rules: Sequence[Rule]) -> Column:
    """The names of the rules the row breaks, in the suite's order (empty: a valid row)."""
    tags = F.array(*[F.when(breaks(rule), F.lit(rule.name)) for rule in rules])
    return F.filter(tags, lambda name: name.isNotNull())


def snapshot_keys(households: DataFrame, period: str,
                  prefill_starts: Mapping[str, date] | None = None) -> DataFrame:
    """Distinct (household, snapshot month or quarter) keys, so that a left join never
    multiplies rows; with `prefill_starts`, the pre-filling start of the Caf of the
    household's latest month in the period. Only fixed-width values are aggregated (a date,
    not the Caf code): Spark then hashes instead of sorting tens of millions of keys."""
    month = F.col("month")
    period_start = month if period == "month" else F.trunc(month, "quarter")
    keys = households.select("household_id", period_start.alias(_PERIOD_COLUMN), "month", "caf")
    if prefill_starts is None:
        return keys.select("household_id", _PERIOD_COLUMN).distinct()
    start = F.try_element_at(_date_map(prefill_starts), F.col("caf"))
    return (keys.groupBy("household_id", _PERIOD_COLUMN)
            .agg(F.max_by(start, month).alias(_PREFILL_START_COLUMN)))


def _date_map(values: Mapping[str, date]) -> Column:
    return F.create_map(*[x for key, value in values.items() for x in (F.lit(key), F.lit(value))])


def with_snapshot(df: DataFrame, keys: DataFrame, rule: InSnapshot) -> DataFrame:
    """Add the rule's flag (the household is in the snapshot of the row's period), and the
    pre-filling start of its Caf there when `keys` has it."""
    extra = [_PREFILL_START_COLUMN] if _PREFILL_START_COLUMN in keys.columns else []
    found = keys.select(F.col("household_id").alias("dq_household_id"),
                        F.col(_PERIOD_COLUMN).alias("dq_period_start"),
                        *extra, F.lit(True).alias(rule.helper))
    row_date = F.col(rule.date_column)
    # A misdated quarter_start breaks its own rule, not this one.
    row_period = row_date if rule.period == "month" else F.trunc(row_date, "quarter")
    same_household = F.col("household_id") == F.col("dq_household_id")
    same_period = row_period == F.col("dq_period_start")
    joined = df.join(found, on=same_household & same_period, how="left")
    return joined.select(*df.columns, F.coalesce(F.col(rule.helper), F.lit(False)).alias(rule.helper), *extra)


def with_prefill_start(df: DataFrame, rule: PrefilledFromStart) -> DataFrame:
    """Add the pre-filling start of the household's Caf (from the snapshot join) where an
    amount was pre-filled; null otherwise, and for a Caf unknown to conf/cafs.csv."""
    prefilled = F.col(rule.amount_column).isNotNull()
    return df.select("*", F.when(prefilled, F.col(_PREFILL_START_COLUMN)).alias(rule.helper))


def with_key_rows(df: DataFrame, rule: UniqueKey) -> DataFrame:
    """Add how many rows share the row's key (nulls are a value here, as in GX's check)."""
    same_key = (Window.partitionBy(*rule.columns)
                .rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing))
    return df.select("*", F.count(F.lit(1)).over(same_key).alias(rule.helper))


def tag(df: DataFrame, suite: TableSuite, households: DataFrame | None = None) -> DataFrame:
    """df's columns, the helper columns of the suite's rules and RULES_COLUMN.

    `households`: the snapshot rows the referential rules compare with. The joins come
    before the window, which then reuses their partitioning by household.
    """
    tagged = df
    prefill = [rule for rule in suite.rules if isinstance(rule, PrefilledFromStart)]
    for rule in suite.rules:
        if isinstance(rule, InSnapshot):
            if households is None:
                raise ValueError(f"suite {suite.table}: rule {rule.name} needs the households snapshot")
            starts = prefill[0].starts if prefill else None
            tagged = with_snapshot(tagged, snapshot_keys(households, rule.period, starts), rule)
    for rule in suite.rules:
        if isinstance(rule, PrefilledFromStart):
            tagged = with_prefill_start(tagged, rule)
    for rule in suite.rules:
        if isinstance(rule, UniqueKey):
            tagged = with_key_rows(tagged, rule)
    return tagged.select("*", broken_rules(suite.rules).alias(RULES_COLUMN))


def is_quarantined() -> Column:
    return F.size(RULES_COLUMN) > 0


def valid_rows(tagged: DataFrame, columns: Sequence[str]) -> DataFrame:
    """The rows that break no rule, with the source's columns only."""
    return tagged.where(~is_quarantined()).select(*columns)


def row_key(columns: Sequence[str]) -> Column:
    """'household_id=0000000012, month=2025-03-01': how messages name a row."""
    return F.concat_ws(", ", *[F.concat(F.lit(f"{c}="), F.coalesce(F.col(c).cast("string"), F.lit("null")))
                               for c in columns])


def known_caf(caf: Column, codes: Sequence[str]) -> Column:
    """The Caf code when conf/cafs.csv knows it, else null: the quarantine is partitioned by
    Caf, and a bad code could hold characters that break partition folders."""
    return F.when(caf.isin(*codes), caf)


def quarantine_rows(tagged: DataFrame, suite: TableSuite, columns: Sequence[str], *,
                    score_month: date, run_id: str) -> DataFrame:
    """The rows that break a rule, whole (as JSON, nulls kept), with the first rule broken,
    all of them, and the row's Caf when the table has one (null otherwise: see with_caf)."""
    descriptions = F.create_map(*[x for rule in suite.rules
                                  for x in (F.lit(rule.name), F.lit(rule.description))])
    caf = F.col(suite.caf_column) if suite.caf_column is not None else F.lit(None).cast("string")
    first_rule = F.col(RULES_COLUMN)[0]
    return tagged.where(is_quarantined()).select(
        F.lit(score_month).alias("score_month"),
        caf.alias("caf"),
        F.lit(suite.table).alias("table"),
        first_rule.alias("rule"),
        F.col(RULES_COLUMN).alias("rules"),
        F.element_at(descriptions, first_rule).alias("rule_description"),
        F.col("household_id").cast("string").alias("household_id"),
        row_key(suite.key).alias("key"),
        F.to_json(F.struct(*columns), {"ignoreNullFields": "false"}).alias("row"),
        F.lit(run_id).alias("run_id"),
    )


def with_caf(quarantine: DataFrame, household_cafs: DataFrame, codes: Sequence[str]) -> DataFrame:
    """The row's own known Caf, else the household's in `household_cafs` (household_id,
    caf: one row per household), else "unknown"."""
    lookup = household_cafs.select(F.col("household_id").alias("dq_household_id"),
                                   F.col("caf").alias("dq_household_caf"))
    joined = quarantine.join(lookup, on=F.col("household_id") == F.col("dq_household_id"), how="left")
    caf = F.coalesce(known_caf(F.col("caf"), codes), known_caf(F.col("dq_household_caf"), codes),
                     F.lit(UNKNOWN_CAF))
    return joined.select(*[caf.alias("caf") if c == "caf" else F.col(c) for c in QUARANTINE_COLUMNS])


def counts(tagged: DataFrame, suite: TableSuite) -> DataFrame:
    """One row: rows read, rows quarantined, rows breaking each rule and rows per expected
    period (month or quarter), as one aggregation."""
    by_rule = F.create_map(*[x for rule in suite.rules for x in (
        F.lit(rule.name), F.count_if(F.array_contains(RULES_COLUMN, rule.name)))])
    if suite.periods is not None and suite.periods.expected:
        column = F.col(suite.periods.column)
        by_period = F.create_map(*[x for period in suite.periods.expected for x in (
            F.lit(period.isoformat()), F.count_if(column == F.lit(period)))])
    else:
        by_period = F.create_map().cast("map<string,long>")
    return tagged.agg(
        F.lit(suite.table).alias("table"),
        F.count(F.lit(1)).alias("rows_read"),
        F.count_if(is_quarantined()).alias("rows_quarantined"),
        by_rule.alias("by_rule"),
        by_period.alias("by_period"),
    )


def examples(quarantine: DataFrame, per_rule: int) -> DataFrame:
    """At most `per_rule` quarantined rows per table and rule, the smallest keys first."""
    first_keys = Window.partitionBy("table", "rule").orderBy("key")
    return (quarantine.select("table", "rule", "key", F.row_number().over(first_keys).alias("n"))
            .where(F.col("n") <= per_rule)
            .select("table", "rule", "key"))
