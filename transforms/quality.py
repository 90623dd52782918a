"""The source-data rules of `expectations/` as Spark Columns: the job's own filter.

Each source row is tagged with the names of the rules it breaks (an array<string>, in the
suite's order); a row with none is used, a row with any goes whole to the quarantine.
Row-local rules are Column predicates. Rules that compare rows aggregate key columns
only, into small lookups joined back to the rows (`lookups`, then `tag`): a duplicated
key is a group count, an orphan payment an anti join on the snapshot keys. No collect, no
UDF: the counts are aggregations (rows per period of the tables read, rows per rule of
the quarantined rows), read by the job.
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
QUARANTINE_COLUMNS = ["score_month", "job", "caf", "table", "source_month", "rule", "rules",
                      "rule_description", "household_id", "key", "row", "run_id"]
_PERIOD_COLUMN = "dq_period"


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
    """The names of the rules the row breaks, in the suite's order (empty: a valid row).
    A concatenation of one-name arrays: Spark compiles it, where filtering an array with a
    lambda is interpreted row by row (5 times slower over millions of rows, measured)."""
    none = F.array().cast("array<string>")
    return F.concat(*[F.when(breaks(rule), F.array(F.lit(rule.name))).otherwise(none) for rule in rules])


def _period(column: Column, period: str) -> Column:
    return column if period == "month" else F.trunc(column, "quarter")


def lookups(df: DataFrame, suite: TableSuite, households: DataFrame | None = None) -> dict[str, DataFrame]:
    """{rule name: DataFrame} for the rules that compare rows, joined back to the rows by
    `tag`: the keys of several rows, the orphans' keys, the pre-filled rows' Caf starts.
    `households`: the snapshot rows (household_id, month, caf) of every month the table
    covers.

    Only key columns are shuffled, and each lookup holds the suspect keys only: empty in a
    clean extract, so that joining it back is a broadcast, never a shuffle of the table.
    """
    out = {}
    for rule in suite.rules:
        if isinstance(rule, UniqueKey):
            out[rule.name] = duplicate_keys(df, rule)
        elif isinstance(rule, (InSnapshot, PrefilledFromStart)):
            if households is None:
                raise ValueError(f"suite {suite.table}: rule {rule.name} needs the households snapshot")
            out[rule.name] = (orphan_keys(df, households, rule) if isinstance(rule, InSnapshot)
                              else prefill_starts(df, households, rule))
    return out


def duplicate_keys(df: DataFrame, rule: UniqueKey) -> DataFrame:
    """The keys of several rows, with how many (a null is a value here, as in GX's check).

    Rows are first grouped by a 64-bit hash of their key (one long to shuffle instead of
    strings and dates); only the rows of a hash seen twice, few, are grouped by their
    exact key, so that a hash collision never makes a duplicate."""
    key_hash = F.xxhash64(*rule.columns)
    rows = F.count(F.lit(1))
    repeated = (df.groupBy(key_hash.alias("dq_key_hash")).agg(rows.alias("dq_rows"))
                .where(F.col("dq_rows") > 1).select("dq_key_hash"))
    suspects = df.join(F.broadcast(repeated), on=key_hash == F.col("dq_key_hash"), how="left_semi")
    return suspects.groupBy(*rule.columns).agg(rows.alias(rule.helper)).where(F.col(rule.helper) > 1)


def orphan_keys(df: DataFrame, households: DataFrame, rule: InSnapshot) -> DataFrame:
    """(household_id, dq_period, rule.helper = False): the rows' households and periods
    that no snapshot month of the period holds (an anti join on the key columns)."""
    rows = df.select("household_id", _period(F.col(rule.date_column), rule.period).alias(_PERIOD_COLUMN))
    snapshot = households.select("household_id", _period(F.col("month"), rule.period).alias(_PERIOD_COLUMN))
    return (rows.join(snapshot, on=["household_id", _PERIOD_COLUMN], how="left_anti").distinct()
            .select("*", F.lit(False).alias(rule.helper)))


def prefill_starts(df: DataFrame, households: DataFrame, rule: PrefilledFromStart) -> DataFrame:
    """(household_id, dq_period, rule.helper): the pre-filling start of the household's Caf
    (its Caf in the latest snapshot month of the period) for the pre-filled rows dated
    before the latest start of any Caf, the only ones that can break the rule."""
    period = _period(F.col(rule.date_column), rule.period).alias(_PERIOD_COLUMN)
    suspects = (df.where(F.col(rule.amount_column).isNotNull() &
                         (F.col(rule.date_column) < F.lit(max(rule.starts.values()))))
                .select("household_id", period).distinct())
    month = F.col("month")
    snapshot = households.select("household_id", _period(month, rule.period).alias(_PERIOD_COLUMN), month, "caf")
    starts = F.create_map(*[x for code, start in rule.starts.items() for x in (F.lit(code), F.lit(start))])
    # the start (a date) is aggregated rather than the Caf code: Spark then hashes, not sorts
    return (snapshot.join(suspects, on=["household_id", _PERIOD_COLUMN], how="left_semi")
            .groupBy("household_id", _PERIOD_COLUMN)
            .agg(F.max_by(F.try_element_at(starts, F.col("caf")), month).alias(rule.helper)))


def _join_back(df: DataFrame, lookup: DataFrame, on: Sequence[tuple[Column, str]], values: Sequence[Column]
               ) -> DataFrame:
    """df with `values` read from `lookup`, matching df's Columns to lookup's columns
    null-safely; a left join (lookup has one row per key)."""
    renamed = lookup.select(*[F.col(name).alias(f"dq_lookup_{name}") for _, name in on],
                            *[F.col(c) for c in lookup.columns if c not in {name for _, name in on}])
    matches = [left.eqNullSafe(F.col(f"dq_lookup_{name}")) for left, name in on]
    condition = matches[0]
    for match in matches[1:]:
        condition = condition & match
    return df.join(renamed, on=condition, how="left").select(*df.columns, *values)


def tag(df: DataFrame, suite: TableSuite, lookups: Mapping[str, DataFrame] | None = None) -> DataFrame:
    """df's columns, the helper columns of the rules that compare rows (joined back from
    `lookups`, see `lookups()`) and RULES_COLUMN."""
    lookups = lookups or {}
    tagged = df
    for rule in suite.rules:
        if isinstance(rule, UniqueKey):
            tagged = _join_back(tagged, lookups[rule.name], [(F.col(c), c) for c in rule.columns],
                                [F.coalesce(F.col(rule.helper), F.lit(1)).alias(rule.helper)])
        elif isinstance(rule, (InSnapshot, PrefilledFromStart)):
            by_period = [(F.col("household_id"), "household_id"),
                         (_period(F.col(rule.date_column), rule.period), _PERIOD_COLUMN)]
            value = (F.coalesce(F.col(rule.helper), F.lit(True)) if isinstance(rule, InSnapshot)  # not an orphan
                     else F.when(F.col(rule.amount_column).isNotNull(), F.col(rule.helper)))
            tagged = _join_back(tagged, lookups[rule.name], by_period, [value.alias(rule.helper)])
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
                    score_month: date, job: str, run_id: str) -> DataFrame:
    """The rows that break a rule, whole (as JSON, nulls kept), with the first rule broken,
    all of them, the row's source month (its partition, in a partitioned table) and the
    row's Caf when the table has one (null otherwise: see with_caf)."""
    descriptions = F.create_map(*[x for rule in suite.rules
                                  for x in (F.lit(rule.name), F.lit(rule.description))])
    caf = F.col(suite.caf_column) if suite.caf_column is not None else F.lit(None).cast("string")
    source_month = F.col(suite.periods.column) if suite.periods is not None else F.lit(None).cast("date")
    first_rule = F.col(RULES_COLUMN)[0]
    return tagged.where(is_quarantined()).select(
        F.lit(score_month).alias("score_month"),
        F.lit(job).alias("job"),
        caf.alias("caf"),
        F.lit(suite.table).alias("table"),
        source_month.alias("source_month"),
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


def read_counts(df: DataFrame, suite: TableSuite) -> DataFrame:
    """One row: the table, its rows read and rows per expected period (month or quarter).
    Reads the period column only (a partition column: no data file is decoded)."""
    if suite.periods is not None and suite.periods.expected:
        column = F.col(suite.periods.column)
        by_period = F.create_map(*[x for period in suite.periods.expected for x in (
            F.lit(period.isoformat()), F.count_if(column == F.lit(period)))])
    else:
        by_period = F.create_map().cast("map<string,long>")
    return df.agg(F.lit(suite.table).alias("table"), F.count(F.lit(1)).alias("rows_read"),
                  by_period.alias("by_period"))


def rule_counts(quarantine: DataFrame) -> DataFrame:
    """(table, rule, source_month, rows): quarantined rows per table, rule broken (a row
    breaking two rules counts for both) and source month, and under rule null each row once."""
    per_rule = quarantine.select("table", F.explode("rules").alias("rule"), "source_month")
    per_table = quarantine.select("table", F.lit(None).cast("string").alias("rule"), "source_month")
    return (per_rule.unionByName(per_table).groupBy("table", "rule", "source_month")
            .agg(F.count(F.lit(1)).alias("rows")))


def examples(quarantine: DataFrame, per_rule: int) -> DataFrame:
    """At most `per_rule` quarantined rows per table and rule, the smallest keys first."""
    first_keys = Window.partitionBy("table", "rule").orderBy("key")
    return (quarantine.select("table", "rule", "key", F.row_number().over(first_keys).alias("n"))
            .where(F.col("n") <= per_rule)
            .select("table", "rule", "key"))
