"""transforms.household_months and the route of the variables through it (issue 10).

(a) the summary of hand-worked source months, column by column, with their edges;
(b) `columns.decimal_average` gives the very value of `avg`, on edge and drawn values;
(c) `features_from_months` gives the rows of `compute_features`, exactly, for three
    consecutive score months: on the rule-by-rule population of tests/test_features.py
    (every edge of DMDE.md §3) and on a generated population (transforms.synth).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from domain.calendar import Calendar, add_months
from jobs.lib.config import load_config
from transforms import synth
from transforms.columns import decimal_average
from transforms.features import compute_features, features_from_months
from transforms.household_months import household_months
from tests.sources import DECLARATIONS, EVENTS, HOUSEHOLDS, PAYMENTS

RULES = load_config().rules
SMIC = 1000.0

SUMMARY = ("household_id string, month date, in_snapshot boolean, resources_eur decimal(22,2), "
           "n_resources bigint, total_benefits_eur decimal(22,2), af_eur decimal(22,2), cf_eur decimal(22,2), "
           "pa_eur decimal(22,2), rsa_eur decimal(22,2), rsa_paid boolean, n_dtr bigint, n_dtr_alimony bigint, "
           "n_dtr_self_employment bigint, n_corrections bigint, correction_gap_sum decimal(27,6), "
           "n_allowance bigint, n_conlogetu bigint, n_proacc bigint, n_volsoc bigint")
NOV, DEC, OCT, JUL = date(2025, 11, 1), date(2025, 12, 1), date(2025, 10, 1), date(2025, 7, 1)


def _dtr(quarter_start, declared, prefilled=None, *, alimony=False, self_employment="0.00", corrected=False,
         verified=False):
    return ("h1", quarter_start, Decimal(declared), None if prefilled is None else Decimal(prefilled),
            alimony, Decimal(self_employment), corrected, verified)


def test_summary_of_hand_worked_months(spark):
    """h1: a snapshot in 2025-12 only; payments in 2025-11 and -12 (RSA 0.00 is not "paid");
    DTRs of quarters starting 2025-07 and 2025-10; events on both sides of a month's edge.
    h2: an event only (a month without snapshot nor payment: sums null, counts 0)."""
    households = spark.createDataFrame([
        ("h1", DEC, "75", False, False, Decimal("1234.56"), None, None, None, None),
    ], HOUSEHOLDS)
    payments = spark.createDataFrame([
        ("h1", DEC, "AF", Decimal("141.99")), ("h1", DEC, "RSA", Decimal("0.00")),
        ("h1", DEC, "AL", Decimal("200.01")),
        ("h1", NOV, "RSA", Decimal("0.01")), ("h1", NOV, "PA", Decimal("99.99")),
    ], PAYMENTS)
    declarations = spark.createDataFrame([
        # corrected downward, unverified: (2000.00 - 1549.99) / 3 = 150.003333 (6 decimals)
        _dtr(OCT, "1549.99", "2000.00", corrected=True),
        _dtr(JUL, "1000.00", "1450.00", corrected=True, alimony=True),              # 150.000000
        _dtr(date(2025, 7, 2), "1000.00", "1450.00", corrected=True, verified=True),  # verified: not counted
        _dtr(date(2025, 7, 3), "1000.00", "1000.00", corrected=True),               # gap 0: not counted
        _dtr(date(2025, 7, 4), "1000.00", None, corrected=True, self_employment="0.01"),  # no pre-filling
    ], DECLARATIONS)
    events = spark.createDataFrame([
        ("h1", date(2025, 11, 30), "ABATTEMENT"), ("h1", DEC, "NEUTRALISATION"), ("h1", DEC, "VOLSOC"),
        ("h1", date(2025, 12, 31), "OTHER_CODE"), ("h1", date(2025, 10, 15), "CONLOGETU"),
        ("h2", date(2025, 12, 31), "PROACC"),
    ], EVENTS)
    d = Decimal
    expected = spark.createDataFrame([
        ("h1", JUL, False, None, 0, None, None, None, None, None, False,
         4, 1, 1, 1, d("150.000000"), 0, 0, 0, 0),
        ("h1", OCT, False, None, 0, None, None, None, None, None, False,
         1, 0, 0, 1, d("150.003333"), 0, 1, 0, 0),
        ("h1", NOV, False, None, 0, d("100.00"), None, None, d("99.99"), d("0.01"), True,
         0, 0, 0, 0, None, 1, 0, 0, 0),
        ("h1", DEC, True, d("1234.56"), 1, d("342.00"), d("141.99"), None, None, d("0.00"), False,
         0, 0, 0, 0, None, 1, 0, 0, 1),
        ("h2", DEC, False, None, 0, None, None, None, None, None, False,
         0, 0, 0, 0, None, 0, 0, 1, 0),
    ], SUMMARY)
    summary = household_months(households, payments, declarations, events)
    assert_df_equality(summary, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("value_type", [DecimalType(12, 2), DecimalType(17, 6)], ids=str)
def test_decimal_average_is_avg(spark, value_type):
    """The mean rebuilt from two partial (sum, count) pairs equals `avg` over the values, to
    the last digit: on values whose mean repeats (x/3, x/7, x/11), ends in 5 at the
    average's last+1 digit, is null or empty, and on 20 000 groups of drawn values."""
    s = value_type.scale
    edge = [("repeating", ["0.01", "0.01", "0.02"]), ("sevenths", ["1.00"] * 6 + ["0.00"]),
            ("elevenths", ["0.01"] + ["0.00"] * 10), ("half-up", ["0.01", "0.00"] * 4 + ["0.00"] * 4),
            ("one", ["450.01"]), ("with-null", ["150.01", None, "150.00"]), ("only-null", [None])]
    rows = [(g, i, None if v is None else Decimal(v)) for g, values in edge for i, v in enumerate(values)]
    edges = spark.createDataFrame(rows, f"g string, i int, v {value_type.simpleString()}")
    # drawn: 1 to 12 values per group (a year of months), money up to 9 999.99 or 6-decimal gaps
    drawn = (spark.range(20_000 * 12).select(
        (F.col("id") % 20_000).cast("string").alias("g"), (F.col("id") / 20_000).cast("int").alias("i"),
        (F.pmod(F.xxhash64("id"), F.lit(10 ** (4 + s))) / F.lit(10 ** s)).cast(value_type).alias("v"))
        .where(F.col("i") < F.pmod(F.xxhash64("g"), F.lit(12)) + 1))
    values = edges.unionByName(drawn)
    direct = values.groupBy("g").agg(F.avg("v").alias("mean"))
    # two partial sums per group, as two months' summaries would hold them
    partial = values.groupBy("g", (F.col("i") % 2).alias("half")).agg(
        F.sum("v").alias("total"), F.count("v").alias("n"))
    rebuilt = partial.groupBy("g").agg(
        decimal_average(F.sum("total"), F.sum("n"), value_type).alias("mean"))
    assert rebuilt.schema["mean"].dataType == direct.schema["mean"].dataType
    assert rebuilt.exceptAll(direct).count() == 0 and direct.exceptAll(rebuilt).count() == 0
    assert direct.where(F.col("g") == "only-null").first().mean is None


def _both_routes(spark, frames, score_months):
    """compute_features and features_from_months, for each score month."""
    households, members, payments, declarations, events = frames
    summary = household_months(households, payments, declarations, events).cache()
    for m in score_months:
        cal = Calendar(m)
        full = compute_features(households, members, payments, declarations, events, cal=cal, smic_eur=SMIC,
                                rules=RULES)
        from_months = features_from_months(summary, households, members, cal=cal, smic_eur=SMIC, rules=RULES)
        yield m, full, from_months
    summary.unpersist()


def _assert_same_rows(full, from_months, *, same_nullability=True):
    """Same columns, same types, same rows (exceptAll both ways, every column, exact)."""
    if same_nullability:
        assert from_months.schema == full.schema
    assert [(f.name, f.dataType) for f in from_months.schema] == [(f.name, f.dataType) for f in full.schema]
    assert full.exceptAll(from_months).count() == 0
    assert from_months.exceptAll(full).count() == 0


def test_both_routes_equal_on_the_rule_population(spark):
    """Every household of tests/test_features.py (each edge of DMDE.md §3: W12/W24 edges,
    154.99/155.00 €, the corrections' 150.0033 vs 150.00 €, RSA changes …) gets the same
    variables from its summaries as from its rows, at M-1, M and M+1 (its snapshots are
    of M-2 … M: each month's windows then cut its rows elsewhere)."""
    from tests.test_features import CAL, POPULATION

    months = [add_months(CAL.score_month, k) for k in (-1, 0, 1)]
    frames = POPULATION.frames(spark)
    counts = []
    for m, full, from_months in _both_routes(spark, frames, months):
        counts.append(full.count())
        _assert_same_rows(full, from_months)
    assert counts[1] == len(POPULATION.scored) and min(counts) > 0, counts


@pytest.fixture(scope="module")
def generated(spark):
    """1 500 generated households over 2024-01 … 2026-02 (26 months), in memory."""
    config = load_config(env="local")
    spec, seed = config.synth(), 5
    period = synth.Period(date(2024, 1, 1), 26)
    cafs = [(c.code, c.relative_size, c.prefill_start) for c in config.cafs]
    frame = synth.household_frame(spark.range(0, 1500, numPartitions=2), spec, cafs, period, seed).cache()
    months = synth.household_months(frame, spec, period, config.smic_table, seed).cache()
    frames = tuple(df.cache() for df in (
        synth.households_table(months), synth.members_table(frame, period, seed), synth.payments_table(months),
        synth.declarations_table(frame, spec, period, config.smic_table, seed), synth.events_table(months, spec, seed)))
    yield frames
    for df in (*frames, months, frame):
        df.unpersist()


def test_both_routes_equal_on_a_generated_population(spark, generated):
    """Score months 2026-01, 2026-02 and 2026-03 of a generated population, from the
    summaries of all its months: row for row the full recomputation."""
    months = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    counts = []
    for m, full, from_months in _both_routes(spark, generated, months):
        counts.append(full.count())
        _assert_same_rows(full, from_months)
    assert min(counts) > 1000
    # the population exercises what the routes compute (not a vacuous equality)
    households, _, payments, declarations, events = generated
    assert declarations.where(F.col("corrected") & ~F.col("verified")).count() > 0
    assert events.count() > 0 and payments.where(F.col("benefit") == "RSA").count() > 0


def test_summaries_read_back_from_delta_by_month(spark, generated, tmp_path):
    """The summaries written to a Delta table partitioned by month, read back for the W24
    partitions of 2026-02 only, give the full recomputation's rows; and summaries stamped
    with several score months (one pass, as a labelled sample) give each month's own rows."""
    from jobs.lib import delta

    households, members, payments, declarations, events = generated
    path = str(tmp_path / "household_months")
    delta.write(household_months(households, payments, declarations, events), path, partition_by=["month"],
                mode="overwrite", run_id="test", operation="TEST")
    cal = Calendar(date(2026, 2, 1))
    w24 = [add_months(cal.w24_start, k) for k in range(cal.long_months)]
    stored = delta.read(spark, path, where={"month": w24})
    full = compute_features(households, members, payments, declarations, events, cal=cal, smic_eur=SMIC,
                            rules=RULES)
    _assert_same_rows(full, features_from_months(stored, households, members, cal=cal, smic_eur=SMIC,
                                                 rules=RULES))

    months = [date(2026, 1, 1), date(2026, 3, 1)]
    at = spark.createDataFrame([(m,) for m in months], "score_month date")
    stamped = [df.crossJoin(at) for df in (delta.read(spark, path), households, members)]
    together = features_from_months(*stamped, cal=cal, smic_eur=SMIC, rules=RULES)
    one_by_one = [compute_features(households, members, payments, declarations, events, cal=Calendar(m),
                                   smic_eur=SMIC, rules=RULES) for m in months]
    # the stamped score_month is a column, which Spark cannot know non-null as it does a literal
    _assert_same_rows(one_by_one[0].unionByName(one_by_one[1]), together, same_nullability=False)
