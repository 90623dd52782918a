"""Source-data validation: the rules of expectations/, their Spark Columns
(transforms/quality.py), the Great Expectations suites and the job (jobs/validate.py)."""
from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

import expectations
from expectations import rules as r
from expectations.gx_suite import gx_suite
from jobs.lib import delta
from jobs.cli import main
from jobs.lib.config import load_config
from jobs.score_month import score_month
from jobs.lib.sources import read_sources
from jobs.lib.validation import DataQualityError, check_source_schemas, parameters, schema_problems
from transforms import quality
from tests.loop import copy_population
from domain.calendar import Span

M = date(2026, 2, 1)
AS_OF = date(2026, 1, 31)
OUTPUTS = ("features", "scores", "targets", "quarantine")  # `runs` records every run, failed ones too


def tag(df, suite, households=None):
    return quality.tag(df, suite, quality.lookups(df, suite, households))


def broken(spark, rows, schema, rule, *helpers):
    """The rows (first column: an id) with whether each breaks `rule`."""
    df = spark.createDataFrame(rows, schema)
    return {row[0]: row.broken for row in df.select(df.columns[0], quality.breaks(rule).alias("broken")).collect()}


# --- each rule's Column, both sides of its edge ----------------------------------------------

def test_not_null(spark):
    rule = r.not_null("caf")
    assert broken(spark, [("a", "59"), ("b", None)], "id string, caf string", rule) == {"a": False, "b": True}


def test_in_set_ignores_nulls(spark):
    rule = r.in_set("benefit", ("AF", "RSA"), "benefit")
    got = broken(spark, [("in", "AF"), ("out", "XX"), ("case", "af"), ("null", None)], "id string, benefit string", rule)
    assert got == {"in": False, "out": True, "case": True, "null": False}


def test_event_code_pattern(spark):
    rule = expectations.events.suite(_params()).rule("code_format")
    got = broken(spark, [("a", "CHGT_RIB"), ("b", "chgt_rib"), ("c", ""), ("d", "CODE 2"), ("e", None)],
                 "id string, code string", rule)
    assert got == {"a": False, "b": True, "c": True, "d": True, "e": False}


@pytest.mark.parametrize("amount, is_broken", [
    ("-0.01", True), ("0.00", False), ("10000.00", False), ("10000.01", True), (None, False)])
def test_amount_between_zero_and_ceiling(spark, amount, is_broken):
    rule = r.between("amount_eur", 0, 10000.0, "test")
    value = None if amount is None else Decimal(amount)
    assert broken(spark, [("a", value)], "id string, amount_eur decimal(12,2)", rule) == {"a": is_broken}


@pytest.mark.parametrize("birth, is_broken", [
    (AS_OF, False), (AS_OF + timedelta(days=1), True), (date(1900, 1, 1), False), (date(1899, 12, 31), True)])
def test_birth_date_up_to_the_as_of_date(spark, birth, is_broken):
    rule = expectations.members.suite(_params()).rule("birth_date_in_range")
    assert broken(spark, [("a", birth)], "id string, birth_date date", rule) == {"a": is_broken}


def test_spell_dates_ordered_open_spell_allowed(spark):
    rule = expectations.members.suite(_params()).rule("spell_dates_ordered")
    rows = [("same", date(2025, 1, 1), date(2025, 1, 1)), ("after", date(2025, 1, 2), date(2025, 1, 1)),
            ("open", date(2025, 1, 2), None), ("before", date(2024, 1, 1), date(2025, 1, 1))]
    got = broken(spark, rows, "id string, valid_from date, valid_to date", rule)
    assert got == {"same": False, "after": True, "open": False, "before": False}


def test_unique_key_quarantines_every_row_of_a_duplicated_key(spark):
    suite = _suite("k", [r.UniqueKey(name="key_unique", columns=("household_id", "month"), description="d")])
    df = spark.createDataFrame([("h1", M), ("h1", M), ("h1", date(2026, 1, 1)), (None, M), (None, M)],
                               "household_id string, month date")
    got = sorted((row.household_id or "-", row.month, tuple(row.dq_rules)) for row in tag(df, suite).collect())
    assert got == [("-", M, ("key_unique",)), ("-", M, ("key_unique",)),
                   ("h1", date(2026, 1, 1), ()), ("h1", M, ("key_unique",)), ("h1", M, ("key_unique",))]


SNAPSHOT = "household_id string, month date, caf string"


def test_payment_needs_the_household_in_that_month_snapshot(spark):
    suite = _suite("payments", [r.InSnapshot(name="in_snapshot", date_column="month", period="month",
                                             description="d")])
    snapshot = spark.createDataFrame([("h1", date(2025, 1, 1), "59"), ("h1", date(2025, 1, 1), "59"),
                                      ("h2", date(2025, 2, 1), "75")], SNAPSHOT)
    payments = spark.createDataFrame([("h1", date(2025, 1, 1)), ("h1", date(2025, 2, 1)), ("h3", date(2025, 1, 1)),
                                      (None, date(2025, 1, 1))], "household_id string, month date")
    tagged = tag(payments, suite, snapshot).select("household_id", "month", "dq_rules")
    expected = spark.createDataFrame(
        [("h1", date(2025, 1, 1), []), ("h1", date(2025, 2, 1), ["in_snapshot"]),
         ("h3", date(2025, 1, 1), ["in_snapshot"]), (None, date(2025, 1, 1), ["in_snapshot"])],
        "household_id string, month date, dq_rules array<string>")
    # a duplicated snapshot row does not duplicate the payment
    assert_df_equality(tagged, expected, ignore_row_order=True, ignore_nullable=True)


def test_declaration_needs_the_household_in_a_month_of_its_quarter(spark):
    suite = _suite("declarations", [r.InSnapshot(name="in_snapshot", date_column="quarter_start", period="quarter",
                                                 description="d")])
    snapshot = spark.createDataFrame([("h1", date(2025, 3, 1), "59"), ("h2", date(2025, 4, 1), "59")], SNAPSHOT)
    dtr = spark.createDataFrame([("h1", date(2025, 1, 1)), ("h2", date(2025, 1, 1)), ("h2", date(2025, 4, 1))],
                                "household_id string, quarter_start date")
    got = {(row.household_id, row.quarter_start): list(row.dq_rules) for row in tag(dtr, suite, snapshot).collect()}
    assert got == {("h1", date(2025, 1, 1)): [], ("h2", date(2025, 1, 1)): ["in_snapshot"],
                   ("h2", date(2025, 4, 1)): []}


def test_prefilled_amount_only_from_the_cafs_start(spark):
    suite = _suite("declarations", [
        r.InSnapshot(name="in_snapshot", date_column="quarter_start", period="quarter", description="d"),
        r.PrefilledFromStart(name="prefilled_from_caf_start", amount_column="prefilled_eur",
                             date_column="quarter_start", period="quarter",
                             starts={"59": date(2025, 4, 1), "06": date(2024, 10, 1)}, description="d")])
    snapshot = spark.createDataFrame([(h, m, caf) for h, caf in (("h59", "59"), ("h06", "06"), ("hXX", "00"))
                                      for m in (date(2025, 1, 1), date(2025, 4, 1))]
                                     # moved within the quarter: the Caf of its latest month counts
                                     + [("to59", date(2025, 1, 1), "06"), ("to59", date(2025, 2, 1), "59"),
                                        ("to06", date(2025, 1, 1), "59"), ("to06", date(2025, 2, 1), "06")], SNAPSHOT)
    rows = [("h59", date(2025, 1, 1), Decimal("10.00")),  # one quarter before Caf 59's start
            ("h59", date(2025, 4, 1), Decimal("10.00")),  # on the start
            ("h06", date(2025, 1, 1), Decimal("10.00")),  # Caf 06 started earlier
            ("hXX", date(2025, 1, 1), Decimal("10.00")),  # unknown Caf: the households rules report it
            ("to59", date(2025, 1, 1), Decimal("10.00")),
            ("to06", date(2025, 1, 1), Decimal("10.00"))]
    dtr = spark.createDataFrame(rows + [("h59", date(2025, 1, 1), None)],
                                "household_id string, quarter_start date, prefilled_eur decimal(12,2)")
    got = sorted((row.household_id, row.quarter_start, row.prefilled_eur is None, list(row.dq_rules))
                 for row in tag(dtr, suite, snapshot).collect())
    assert got == [("h06", date(2025, 1, 1), False, []),
                   ("h59", date(2025, 1, 1), False, ["prefilled_from_caf_start"]),
                   ("h59", date(2025, 1, 1), True, []),
                   ("h59", date(2025, 4, 1), False, []),
                   ("hXX", date(2025, 1, 1), False, []),
                   ("to06", date(2025, 1, 1), False, []),
                   ("to59", date(2025, 1, 1), False, ["prefilled_from_caf_start"])]


def test_rules_are_listed_in_the_suites_order_and_the_first_is_the_rows_rule(spark):
    suite = expectations.payments.suite(_params())
    df = spark.createDataFrame([("h1", date(2025, 3, 1), "XX", Decimal("-1.00"))],
                               "household_id string, month date, benefit string, amount_eur decimal(12,2)")
    snapshot = spark.createDataFrame([("h1", date(2025, 3, 1), "59")], SNAPSHOT)
    tagged = tag(df, suite, snapshot)
    assert tagged.first().dq_rules == ["benefit_in_set", "amount_eur_in_range"]
    rows = quality.quarantine_rows(tagged, suite, df.columns, score_month=M, job="score", run_id="run-1")
    row = rows.first()
    assert (row.table, row.rule, row.caf) == ("payments", "benefit_in_set", None)
    assert row.rule_description.startswith("benefit is a known benefit (AF, CF")
    assert row.key == "household_id=h1, month=2025-03-01, benefit=XX"
    assert json.loads(row.row) == {"household_id": "h1", "month": "2025-03-01", "benefit": "XX", "amount_eur": -1.0}


def test_quarantine_keeps_nulls_in_the_row_and_finds_the_caf(spark):
    suite = expectations.events.suite(_params())
    df = spark.createDataFrame([("h1", date(2025, 3, 1), None), ("h2", date(2025, 3, 1), None)],
                               "household_id string, event_date date, code string")
    rows = quality.quarantine_rows(tag(df, suite), suite, df.columns, score_month=M, job="score", run_id="run-1")
    cafs = spark.createDataFrame([("h1", "59"), ("h3", "06")], "household_id string, caf string")
    got = {row.household_id: (row.caf, row.rule, json.loads(row.row)["code"])
           for row in quality.with_caf(rows, cafs, ["59", "06"]).collect()}
    assert got == {"h1": ("59", "code_not_null", None), "h2": ("unknown", "code_not_null", None)}


def test_counts_rows_read_per_period_and_quarantined_rows_per_rule(spark):
    suite = expectations.households.suite(_params())
    rows = [("h1", date(2026, 1, 1), "59", False, False, Decimal("10.00"), "F", "FR", date(1980, 1, 1), "URBAN"),
            ("h2", date(2026, 1, 1), "00", False, False, Decimal("-1.00"), "F", "FR", date(1980, 1, 1), "URBAN"),
            ("h2", date(2025, 12, 1), "59", False, False, Decimal("10.00"), "F", "FR", date(1980, 1, 1), "URBAN")]
    df = spark.createDataFrame(rows, _ddl(suite))
    read = quality.read_counts(df, suite).first()
    assert (read.table, read.rows_read) == ("households", 3)
    assert read.by_period["2026-01-01"] == 2 and read.by_period["2025-12-01"] == 1 and read.by_period["2025-02-01"] == 0
    quarantine = quality.quarantine_rows(tag(df, suite), suite, df.columns, score_month=M, job="score", run_id="run-1")
    got = {(row.table, row.rule): row.rows for row in quality.rule_counts(quarantine).collect()}
    # one row quarantined, breaking two rules
    assert got == {("households", None): 1, ("households", "caf_in_set"): 1,
                   ("households", "resources_eur_in_range"): 1}


# --- schemas and suites ----------------------------------------------------------------------

def test_schema_problems_name_the_column_and_a_likely_rename():
    suite = expectations.payments.suite(_params())
    fields = [StructField("household_id", r.STRING), StructField("month", r.DATE), StructField("benefit", r.STRING),
              StructField("amount_paid_eur", r.MONEY)]
    problems = [str(p) for p in schema_problems(suite, StructType(fields))]
    assert problems == ["column amount_eur (decimal(12,2)) is missing "
                        "(the table has unexpected column(s) amount_paid_eur: renamed?)"]
    fields[3] = StructField("amount_eur", r.STRING)
    assert [str(p) for p in schema_problems(suite, StructType(fields))] == [
        "column amount_eur is string, expected decimal(12,2)"]
    fields[3] = StructField("amount_eur", r.MONEY, nullable=False)
    assert schema_problems(suite, StructType(fields + [StructField("extra", r.STRING)])) == []


def test_every_rule_has_a_gx_expectation_that_names_it():
    for suite in expectations.suites(_params()).values():
        gx = gx_suite(suite)
        named = [e.meta["rule"] for e in gx.expectations]
        assert named.count("schema") == 2 * len(suite.schema)
        assert [n for n in named if n != "schema"] == [rule.name for rule in suite.rules]
        # quality.gx_row_rules: false leaves GX the schema (the job's filter applies the rules)
        assert {e.meta["rule"] for e in gx_suite(suite, schema_only=True).expectations} == {"schema"}


def test_suites_take_codes_and_ceilings_from_the_configuration():
    config = load_config(env="local")
    suites = expectations.suites(parameters(config, span(config)))
    assert len(suites["households"].rule("caf_in_set").values) == 101
    assert suites["payments"].rule("amount_eur_in_range").high == config.quality.ceilings.payment_eur
    assert suites["declarations"].rule("quarter_start_in_range").values[0] == date(2024, 4, 1)
    assert suites["households"].periods.expected[-1] == date(2026, 1, 1)
    assert len(suites["payments"].periods.expected) == 24


def test_a_missing_source_table_is_a_table_level_failure(spark, tmp_path):
    config = load_config(env="local", overrides={"data_dir": str(tmp_path)})
    with pytest.raises(DataQualityError) as failure:
        check_source_schemas(spark, config, M, expectations.suites(_params(config)), "run-1")
    assert len(failure.value.paragraphs) == 6
    assert "Source table households: there is no Delta table at" in str(failure.value)
    assert "so score month 2026-02 cannot be validated" in str(failure.value)
    assert "rerun `dmde validate --month 2026-02` and `dmde score --month 2026-02`" in str(failure.value)


def test_an_ingest_failure_names_the_source_month_and_dmde_ingest(spark, tmp_path):
    """`dmde ingest` validates a source month: its paragraphs name that month and the
    command that ingests it again, not a score month and `dmde score`."""
    config = load_config(env="local", overrides={"data_dir": str(tmp_path)})
    with pytest.raises(DataQualityError) as failure:
        check_source_schemas(spark, config, M, expectations.suites(_params(config)), "run-1", job="ingest")
    text = str(failure.value)
    assert "so source month 2026-02 cannot be validated" in text
    assert "then rerun `dmde ingest --month 2026-02`." in text
    assert "score month" not in text and "dmde score" not in text


def span(config) -> Span:
    return Span.of(config.calendar(M))


def _params(config=None) -> r.Parameters:
    config = config or load_config(env="local")
    return parameters(config, span(config))


def _suite(table, rules) -> r.TableSuite:
    columns = {c for rule in rules for c in r._columns_of(rule)}
    return r.TableSuite(table=table, schema={c: r.STRING for c in sorted(columns)}, key=("household_id",),
                        rules=tuple(rules))


def _ddl(suite) -> str:
    return ", ".join(f"{c} {t.simpleString()}" for c, t in suite.schema.items())


# --- the job on a corrupted copy of the generated population ---------------------------------

SNAPSHOT_MONTH = date(2026, 1, 1)
W12 = [date(2025, m, 1) for m in range(2, 13)] + [SNAPSHOT_MONTH]


def rewrite(config, table, df, *, new_schema=False):
    """Replace a source table of the copy (a new schema needs a new table)."""
    df = df.localCheckpoint()
    if new_schema:
        shutil.rmtree(config.source_path(table))
    delta.write(df, config.source_path(table), partition_by=config.partition_by(table), run_id="test-corrupt",
                      mode="overwrite", operation="TEST")


def output_versions(config):
    return {name: delta.version(config.output_path(name)) for name in OUTPUTS}


def key(**values) -> str:
    return ", ".join(f"{column}={'null' if value is None else value}" for column, value in values.items())


def _set(column, value, where):
    return F.when(where, F.lit(value)).otherwise(F.col(column)).alias(column)


def _is(**values):
    return reduce_and([F.col(c) == F.lit(v) for c, v in values.items()])


def reduce_and(conditions):
    out = conditions[0]
    for condition in conditions[1:]:
        out = out & condition
    return out


def _with(df, where, **values):
    return df.select(*[_set(c, values[c], where) if c in values else F.col(c) for c in df.columns])


def break_each(df, table, picks, changes, key_columns, bad):
    """Row i of `picks` (its key columns) gets change i, (column, value, rule): one rule
    broken per row, recorded in `bad` under the row's key after the change."""
    assert len(picks) == len(changes)
    for row, (column, value, rule) in zip(picks, changes):
        df = _with(df, _is(**{c: row[c] for c in key_columns}),
                   **{column: F.lit(value).cast(df.schema[column].dataType)})
        bad.append((table, key(**{c: value if c == column else row[c] for c in key_columns}), rule, 1))
    return df


def last_rows(df, key_columns, n, where=None):
    """The n rows with the largest keys (the other corruptions take the smallest)."""
    df = df if where is None else df.where(where)
    return df.orderBy(*[F.desc(c) for c in key_columns]).limit(n).collect()


def null_in(*columns):
    return [(column, None, f"{column}_not_null") for column in columns]


@pytest.fixture(scope="module")
def corrupted(spark, population, tmp_path_factory):
    """Every rule the read can meet (see UNREACHABLE) broken at least once, in known rows;
    then the month is scored.
    `bad`: (table, key, rule, rows with that key)."""
    config = copy_population(population, tmp_path_factory.mktemp("corrupted"))
    read = lambda table: delta.read(spark, config.source_path(table))  # noqa: E731
    bad = []

    households = read("households")
    complete = (households.where(F.col("month").isin(*W12)).groupBy("household_id").count()
                .where(F.col("count") == len(W12)).orderBy("household_id").limit(5).collect())
    h = [row.household_id for row in complete]
    null_id = households.where(_is(household_id=h[4], month=date(2025, 5, 1))).select(
        F.lit(None).cast("string").alias("household_id"), *households.columns[1:])
    households = _with(households, _is(household_id=h[0], month=SNAPSHOT_MONTH), caf="00")
    households = _with(households, _is(household_id=h[2], month=date(2025, 6, 1)), resources_eur=Decimal("-5.00"))
    households = _with(households, _is(household_id=h[3], month=date(2025, 7, 1)),
                       resources_eur=Decimal("100000.01"))
    households = households.unionByName(households.where(_is(household_id=h[1], month=SNAPSHOT_MONTH))) \
        .unionByName(null_id)
    # before the snapshot month, so that the household is still scored
    keys = ("household_id", "month")
    households = break_each(households, "households", last_rows(households, keys, 4, where=(
        F.col("month").isin(*W12[:-1]) & ~F.col("household_id").isin(*h))), null_in(
        "caf", "couple", "guardianship", "resources_eur"), keys, bad)
    rewrite(config, "households", households)
    bad += [("households", key(household_id=h[0], month=SNAPSHOT_MONTH), "caf_in_set", 1),
            ("households", key(household_id=h[1], month=SNAPSHOT_MONTH), "key_unique", 2),
            ("households", key(household_id=h[2], month=date(2025, 6, 1)), "resources_eur_in_range", 1),
            ("households", key(household_id=h[3], month=date(2025, 7, 1)), "resources_eur_in_range", 1),
            ("households", key(household_id=None, month=date(2025, 5, 1)), "household_id_not_null", 1)]

    members = read("members")
    spells = members.where(F.col("valid_to").isNotNull()).orderBy("member_id", "valid_from").limit(5).collect()
    changes = [("role", "GRANDPARENT", "role_in_set"), ("activity", "ASTRONAUT", "activity_in_set"),
               ("valid_to", None, "spell_dates_ordered"), ("birth_date", date(2026, 2, 15), "birth_date_in_range"),
               ("birth_date", None, "birth_date_not_null")]
    for spell, (column, value, rule) in zip(spells, changes):
        if rule == "spell_dates_ordered":
            value = spell.valid_from - timedelta(days=1)
        where = _is(member_id=spell.member_id, valid_from=spell.valid_from)
        members = _with(members, where, **{column: F.lit(value).cast(members.schema[column].dataType)})
        bad.append(("members", key(household_id=spell.household_id, member_id=spell.member_id,
                                   valid_from=spell.valid_from), rule, 1))
    keys = ("household_id", "member_id", "valid_from")
    members = break_each(members, "members", last_rows(members, keys, 4), null_in(
        "household_id", "member_id", "role", "valid_from"), keys, bad)
    rewrite(config, "members", members)

    payments = read("payments")
    rows = payments.where(~F.col("household_id").isin(*h)).orderBy("household_id", "month", "benefit").limit(5).collect()
    p = [dict(household_id=x.household_id, month=x.month, benefit=x.benefit) for x in rows]
    late = (households.where(F.col("household_id").isNotNull())
            .groupBy("household_id").agg(F.min("month").alias("first_month"))
            .where(F.col("first_month") > date(2024, 7, 1)).orderBy("household_id").first())
    entry = late.first_month
    absent_month = date(entry.year - (entry.month == 1), (entry.month - 2) % 12 + 1, 1)  # the month before
    payments = _with(payments, _is(**p[0]), benefit="XYZ")
    payments = _with(payments, _is(**p[1]), amount_eur=Decimal("-5.00"))
    payments = _with(payments, _is(**p[2]), amount_eur=Decimal("10000.01"))
    payments = _with(payments, _is(**p[3]), amount_eur=Decimal("10000.00"))  # on the ceiling: valid
    orphans = spark.createDataFrame([("9999999999", date(2025, 6, 1), "AF", Decimal("100.00")),
                                     (late.household_id, absent_month, "AF", Decimal("50.00"))], payments.schema)
    payments = payments.unionByName(payments.where(_is(**p[4]))).unionByName(orphans)
    keys = ("household_id", "month", "benefit")
    payments = break_each(payments, "payments", last_rows(payments, keys, 3, where=~F.col("household_id").isin(
        *h, "9999999999")),
                          null_in("household_id", "benefit", "amount_eur"), keys, bad)
    rewrite(config, "payments", payments)
    bad += [("payments", key(**{**p[0], "benefit": "XYZ"}), "benefit_in_set", 1),
            ("payments", key(**p[1]), "amount_eur_in_range", 1),
            ("payments", key(**p[2]), "amount_eur_in_range", 1),
            ("payments", key(**p[4]), "key_unique", 2),
            ("payments", key(household_id="9999999999", month=date(2025, 6, 1), benefit="AF"),
             "household_in_snapshot", 1),
            ("payments", key(household_id=late.household_id, month=absent_month, benefit="AF"),
             "household_in_snapshot", 1)]

    declarations = read("declarations")
    early = declarations.where((F.col("quarter_start") == date(2024, 7, 1)) & F.col("prefilled_eur").isNull()) \
        .orderBy("household_id").limit(4).collect()
    d = [dict(household_id=x.household_id, quarter_start=x.quarter_start) for x in early]
    declarations = _with(declarations, _is(**d[0]), prefilled_eur=Decimal("100.00"))
    declarations = _with(declarations, _is(**d[1]), declared_eur=Decimal("-1.00"))
    declarations = _with(declarations, _is(**d[2]), quarter_start=date(2024, 8, 1))
    orphan = spark.createDataFrame([("9999999998", date(2025, 1, 1), Decimal("10.00"), None, False, Decimal("0.00"),
                                     False, False)], declarations.schema)
    declarations = declarations.unionByName(declarations.where(_is(**d[3]))).unionByName(orphan)
    keys = ("household_id", "quarter_start")
    declarations = break_each(declarations, "declarations", last_rows(
        declarations, keys, 8, where=F.col("household_id") != "9999999998"), null_in(
        "household_id", "declared_eur", "alimony", "self_employment_eur", "corrected", "verified") + [
        ("prefilled_eur", Decimal("-1.00"), "prefilled_eur_in_range"),
        ("self_employment_eur", Decimal("-1.00"), "self_employment_eur_in_range")], keys, bad)
    rewrite(config, "declarations", declarations)
    bad += [("declarations", key(**d[0]), "prefilled_from_caf_start", 1),
            ("declarations", key(**d[1]), "declared_eur_in_range", 1),
            ("declarations", key(household_id=d[2]["household_id"], quarter_start=date(2024, 8, 1)),
             "quarter_start_in_range", 1),
            ("declarations", key(**d[3]), "key_unique", 2),
            ("declarations", key(household_id="9999999998", quarter_start=date(2025, 1, 1)),
             "household_in_snapshot", 1)]

    events = read("events")
    e = [dict(household_id=x.household_id, event_date=x.event_date, code=x.code)
         for x in events.orderBy("household_id", "event_date", "code").limit(2).collect()]
    events = _with(events, _is(**e[0]), code="chgt rib")
    events = _with(events, _is(**e[1]), code=F.lit(None).cast("string"))
    keys = ("household_id", "event_date", "code")
    events = break_each(events, "events", last_rows(events, keys, 2), null_in("household_id", "event_date"), keys, bad)
    rewrite(config, "events", events)
    bad += [("events", key(**{**e[0], "code": "chgt rib"}), "code_format", 1),
            ("events", key(**{**e[1], "code": None}), "code_not_null", 1)]

    controls = read("controls")
    c = [dict(household_id=x.household_id, control_date=x.control_date, origin=x.origin)
         for x in controls.orderBy("household_id", "control_date").limit(4).collect()]
    controls = _with(controls, _is(**c[0]), origin="AUDIT")
    controls = _with(controls, _is(**c[1]), mode="PHONE")
    controls = _with(controls, _is(**c[2]), overpayment_eur=Decimal("-10.00"))
    controls = _with(controls, _is(**c[3]), overpayment_months=61)
    keys = ("household_id", "control_date", "origin")
    controls = break_each(controls, "controls", last_rows(controls, keys, 9, where=F.col("control_date") < M), null_in(
        "household_id", "control_date", "origin", "mode", "overpayment_eur", "underpayment_eur",
        "overpayment_months") + [("underpayment_eur", Decimal("-1.00"), "underpayment_eur_in_range"),
                                 ("target_score_month", M, "list_before_control")], keys, bad)
    rewrite(config, "controls", controls)
    bad += [("controls", key(**{**c[0], "origin": "AUDIT"}), "origin_in_set", 1),
            ("controls", key(**c[1]), "mode_in_set", 1),
            ("controls", key(**c[2]), "overpayment_eur_in_range", 1),
            ("controls", key(**c[3]), "overpayment_months_in_range", 1)]

    run = score_month(spark, config, M)
    quarantine = delta.read(spark, config.output_path("quarantine")).where(F.col("score_month") == M)
    return SimpleNamespace(config=config, run=run, bad=bad, quarantine=quarantine.collect(),
                           unscored={h[0], h[1]})


# Rows the read never returns to a score month (outside its partitions or its dates): these
# rules guard the tables against a read that would, and cannot be broken through `dmde score`.
UNREACHABLE = {("households", "month_not_null"), ("households", "month_in_range"),
               ("payments", "month_not_null"), ("payments", "month_in_range"),
               ("declarations", "quarter_start_not_null"), ("members", "valid_from_in_range"),
               ("events", "event_date_in_range"), ("controls", "control_date_in_range")}


def test_the_corrupted_copy_breaks_every_rule_the_read_can_meet(corrupted):
    suites = expectations.suites(_params(corrupted.config))
    every = {(table, rule.name) for table, suite in suites.items() for rule in suite.rules}
    assert every - {(table, rule) for table, _, rule, _ in corrupted.bad} == UNREACHABLE


def test_each_bad_row_is_quarantined_with_the_rule_it_breaks(corrupted):
    found = {}
    for row in corrupted.quarantine:
        found.setdefault((row.table, row.key), []).append(row)
    for table, row_key, rule, n in corrupted.bad:
        rows = found.get((table, row_key), [])
        assert len(rows) == n, (table, row_key, rule, rows)
        assert all(row.rule == rule and rule in row.rules for row in rows), (table, row_key, rule, rows)
        assert all(row.run_id == corrupted.run["run_id"] and row.rule_description for row in rows)


def test_only_the_bad_rows_are_quarantined_and_whole(corrupted):
    expected = {}
    for table, _, _, n in corrupted.bad:
        expected[table] = expected.get(table, 0) + n
    got = {}
    for row in corrupted.quarantine:
        got[row.table] = got.get(row.table, 0) + 1
    assert got == expected
    codes = {caf.code for caf in corrupted.config.cafs} | {"unknown"}
    assert {row.caf for row in corrupted.quarantine} <= codes
    payment = next(row for row in corrupted.quarantine if row.rule == "benefit_in_set")
    assert set(json.loads(payment.row)) == {"household_id", "month", "benefit", "amount_eur"}


def test_every_good_household_is_scored(spark, corrupted):
    config = corrupted.config
    snapshot = delta.read(spark, config.source_path("households"), where={"month": [SNAPSHOT_MONTH]})
    expected = {row.household_id for row in snapshot.select("household_id").distinct().collect()} \
        - corrupted.unscored
    scores = delta.read(spark, config.output_path("scores")).where(F.col("score_month") == M)
    scored = [row.household_id for row in scores.select("household_id").collect()]
    assert len(scored) == len(set(scored)) == corrupted.run["households_scored"]
    assert set(scored) == expected


def test_rows_read_are_rows_used_plus_rows_quarantined(spark, corrupted):
    config = corrupted.config
    runs = delta.read(spark, config.output_path("runs")).where(
        (F.col("run_id") == corrupted.run["run_id"]) & (F.col("status") == "succeeded"))
    run = runs.collect()[0]
    quarantined = {}
    for row in corrupted.quarantine:
        quarantined[row.table] = quarantined.get(row.table, 0) + 1
    assert set(run.rows_read) == set(expectations.SUITE_MODULES)
    for table in run.rows_read:
        assert run.rows_read[table] == run.rows_used[table] + run.rows_quarantined[table]
        assert run.rows_quarantined[table] == quarantined.get(table, 0)
    households = delta.read(spark, config.source_path("households"), where={"month": W12})
    assert run.rows_read["households"] == households.count()
    assert run.stage_seconds["validate"] > 0


def test_great_expectations_reports_the_same_counts(corrupted):
    path = corrupted.config.data_dir / "validation" / corrupted.run["run_id"]
    summary = json.loads((path / "summary.json").read_text())
    assert summary["status"] == "passed" and not summary["failures"]
    for table, entry in summary["tables"].items():
        gx = json.loads((path / f"{table}.gx.json").read_text())
        assert {e["rule"] for e in gx["expectations"]} == {"schema"} | {rule["rule"] for rule in entry["rules"]}
        for rule in entry["rules"]:
            assert rule["gx_unexpected_count"] == rule["rows"], (table, rule)
    broken = {(t, rule["rule"]) for t, entry in summary["tables"].items() for rule in entry["rules"] if rule["rows"]}
    assert {(table, rule) for table, _, rule, _ in corrupted.bad} <= broken
    assert (path / "index.html").exists()


# --- table-level failures: nothing is written --------------------------------------------------

def test_a_renamed_column_stops_the_run_before_reading(spark, population, tmp_path):
    config = copy_population(population, tmp_path)
    members = delta.read(spark, config.source_path("members")).withColumnRenamed("valid_from", "start_date")
    rewrite(config, "members", members, new_schema=True)
    before = output_versions(config)
    with pytest.raises(DataQualityError) as failure:
        score_month(spark, config, M)
    message = str(failure.value)
    assert "Source table members" in message and "column valid_from (date) is missing" in message
    assert "start_date: renamed?" in message and "What to do" in message and "nothing was written" in message
    assert output_versions(config) == before
    assert failure.value.results_path is not None and (failure.value.results_path / "summary.json").exists()


def test_a_string_where_a_number_is_expected_exits_non_zero(spark, population, tmp_path, capsys):
    config = copy_population(population, tmp_path)
    payments = delta.read(spark, config.source_path("payments"))
    rewrite(config, "payments", payments.withColumn("amount_eur", F.col("amount_eur").cast("string")),
            new_schema=True)
    before = output_versions(config)
    try:
        assert main(["score", "--month", "2026-02", "--data-dir", str(config.data_dir)]) == 1
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")  # the CLI set the local environment's
    error = capsys.readouterr().err
    assert "Source table payments" in error and "column amount_eur is string, expected decimal(12,2)" in error
    assert "dmde score --month 2026-02" in error
    assert output_versions(config) == before


def test_a_controls_table_written_before_target_score_month_reads_it_as_null(spark, population, tmp_path):
    """MONITORING.md §8.6: `controls` gained a nullable target_score_month; an older table
    without it passes the schema check and is read with the column null."""
    config = copy_population(population, tmp_path)
    controls = delta.read(spark, config.source_path("controls"))
    assert "target_score_month" in controls.columns
    rewrite(config, "controls", controls.drop("target_score_month"), new_schema=True)
    check_source_schemas(spark, config, M, expectations.suites(_params(config)), "run-1")
    read = read_sources(spark, config, span(config)).controls
    assert read.schema["target_score_month"].dataType == r.DATE
    assert read.count() > 0 and read.where(F.col("target_score_month").isNotNull()).count() == 0


@pytest.mark.slow
def test_more_than_the_allowed_share_of_bad_rows_stops_the_run(spark, population, tmp_path):
    config = copy_population(population, tmp_path)
    controls = delta.read(spark, config.source_path("controls"))
    read = controls.where(F.col("control_date") < M).count()
    too_many = int(read * config.quality.max_quarantine_share) + 2
    first = [row.household_id for row in controls.select("household_id").distinct()
             .orderBy("household_id").limit(too_many).collect()]
    rewrite(config, "controls", _with(controls, F.col("household_id").isin(*first), mode="PHONE"))
    before = output_versions(config)
    with pytest.raises(DataQualityError) as failure:
        score_month(spark, config, M)
    message = str(failure.value)
    assert "Source table controls" in message and "max_quarantine_share" in message
    assert "mode_in_set" in message and f"household_id={first[0]}" in message
    assert "What to do" in message and "nothing was written" in message
    assert output_versions(config) == before


@pytest.mark.slow
def test_an_empty_month_partition_fails_validation(spark, population, tmp_path, capsys):
    config = copy_population(population, tmp_path)
    payments = delta.read(spark, config.source_path("payments"))
    rewrite(config, "payments", payments.where(F.col("month") != date(2025, 7, 1)))
    try:
        assert main(["validate", "--month", "2026-02", "--data-dir", str(config.data_dir)]) == 1
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")
    error = capsys.readouterr().err
    assert "Source table payments" in error and "no rows for month 2025-07-01" in error
    assert "partition_not_empty" in error and "reload payments for 2025-07-01" in error


@pytest.mark.slow
def test_a_bad_source_month_fails_even_when_the_table_as_a_whole_passes(spark, population, tmp_path):
    config = copy_population(population, tmp_path)
    payments = delta.read(spark, config.source_path("payments"))
    latest = payments.where(F.col("month") == SNAPSHOT_MONTH)
    read_latest, read_all = latest.count(), payments.where(F.col("month") >= date(2024, 2, 1)).count()
    # 5 % of the latest month's payments made negative: far below 1 % of the 24 months read
    bad = latest.orderBy("household_id", "benefit").limit(int(0.05 * read_latest)).select("household_id", "benefit")
    assert bad.count() / read_all < config.quality.max_quarantine_share
    marked = payments.join(bad.withColumn("bad", F.lit(True)), on=["household_id", "benefit"], how="left")
    is_bad = F.coalesce(F.col("bad"), F.lit(False)) & (F.col("month") == SNAPSHOT_MONTH)
    rewrite(config, "payments", marked.select(*[F.when(is_bad, -F.col(c)).otherwise(F.col(c)).alias(c)
                                                if c == "amount_eur" else F.col(c) for c in payments.columns]))
    before = output_versions(config)
    with pytest.raises(DataQualityError) as failure:
        score_month(spark, config, M)
    message = str(failure.value)
    assert "Source table payments" in message and "rows of month 2026-01-01" in message
    assert "per table and per source month" in message and "amount_eur_in_range" in message
    assert output_versions(config) == before


@pytest.mark.slow
def test_a_month_far_thinner_than_the_others_fails_validation(spark, population, tmp_path):
    config = copy_population(population, tmp_path)
    payments = delta.read(spark, config.source_path("payments"))
    thin = date(2025, 7, 1)
    kept = payments.where((F.col("month") != thin) | (F.pmod(F.xxhash64("household_id", "benefit"), F.lit(10)) == 0))
    rewrite(config, "payments", kept)
    with pytest.raises(DataQualityError) as failure:
        score_month(spark, config, M)
    message = str(failure.value)
    assert "far fewer rows in month 2025-07-01" in message and "partition_not_thin" in message
    assert "min_month_rows_ratio" in message and "nothing was written" in message
