"""jobs/lib/summaries.ingest_month: each source month validated and summarised once into
`household_months` (issue 10), on a small generated data dir (600 households,
2025-01 … 2026-02) with a few rows planted to be rejected or to sit on an edge.

The variables of score month 2026-03 computed from the 14 ingested summaries equal, row
for row, those of the full route (`read_validated` over W24, `compute_features`).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import shutil

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from domain.calendar import Span, add_months, months
from expectations.controls import SCHEMA as CONTROLS
from jobs.lib import delta, tables
from jobs.lib.config import load_config
from jobs.lib.runner import Progress
from jobs.lib.summaries import TABLE, ingest_month, refresh, stale_months
from jobs.lib.validation import read_validated
from transforms import synth
from transforms.features import compute_features, features_from_months

FIRST, LAST = date(2025, 1, 1), date(2026, 2, 1)
SCORE_MONTH = add_months(LAST, 1)
BAD_MONTH = date(2025, 8, 1)  # M-7: a payment rejected there
LATE_QUARTER = date(2025, 10, 1)  # a DTR whose household is in its quarter's 2nd snapshot only


# 14 ingests and two scorings: about 11 minutes on 2 cores, run in CI, skipped by the quick local run
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("ingest")
    config = load_config(env="local", overrides={"data_dir": str(data_dir)})
    spec, seed = config.synth(), 7
    period = synth.Period(FIRST, len(months(FIRST, LAST)))
    cafs = [(c.code, c.relative_size, c.prefill_start) for c in config.cafs]
    frame = synth.household_frame(spark.range(0, 600, numPartitions=2), spec, cafs, period, seed).cache()
    hm = synth.household_months(frame, spec, period, config.smic_table, seed).cache()
    households = synth.households_table(hm)
    # the edge: household "late" in the snapshots of 2025-11 and of M-1 only, with a DTR of the
    # quarter 2025-10 (its 2nd month holds it: valid for every score month from 2025-12 on)
    template = households.where(F.col("month") == F.lit(date(2025, 11, 1))).limit(1).localCheckpoint()
    others = [c for c in households.columns if c not in ("household_id", "month")]
    late = template.select(F.lit("late").alias("household_id"), "month", *others).unionByName(
        template.select(F.lit("late").alias("household_id"), F.lit(LAST).alias("month"), *others))
    frames = {
        "households": households.unionByName(late),
        "members": synth.members_table(frame, period, seed),
        "payments": synth.payments_table(hm).unionByName(spark.createDataFrame(
            [("late", date(2025, 11, 1), "AF", Decimal("100.00"))], "household_id string, month date, "
             "benefit string, amount_eur decimal(12,2)")),
        "declarations": synth.declarations_table(frame, spec, period, config.smic_table, seed).unionByName(
            spark.createDataFrame([("late", LATE_QUARTER, Decimal("1000.00"), None, True, Decimal("0.00"), False,
                                    False)],
                                  "household_id string, quarter_start date, declared_eur decimal(12,2), "
                                  "prefilled_eur decimal(12,2), alimony boolean, self_employment_eur decimal(12,2), "
                                  "corrected boolean, verified boolean")),
        "events": synth.events_table(hm, spec, seed),
        "controls": spark.createDataFrame([], StructType([StructField(k, v) for k, v in CONTROLS.items()])),
    }
    for name, df in frames.items():
        tables.write_source(config, name, df, run_id="test", operation="TEST")
    frame.unpersist()
    hm.unpersist()
    # a payment of M-7 breaking a rule (a negative amount): quarantined by both routes
    bad = tables.read_source(spark, config, "payments", where={"month": [BAD_MONTH]}).limit(1) \
        .select("household_id", "month", F.lit("OTHER").alias("benefit"), F.lit(Decimal("-5.00"))
                .cast("decimal(12,2)").alias("amount_eur"))
    tables.write_source(config, "payments", bad.localCheckpoint(), run_id="test", operation="TEST", mode="append")
    runs = {m: ingest_month(spark, config, m, Progress("ingest", quiet=True)) for m in months(FIRST, LAST)}
    return config, runs


def test_each_source_month_is_one_partition_with_its_source_versions(spark, ingested):
    config, runs = ingested
    path = config.output_path(TABLE)
    assert sorted(delta.partition_values(path, "month")) == months(FIRST, LAST)
    commits = [c for c in delta.history(path) if c["meta"].get("source_month")]
    assert len(commits) == len(runs)
    versions = {name: tables.version(config.source_path(name)) for name in ("households", "payments",
                                                                             "declarations", "events")}
    assert all(c["meta"]["source_versions"] == versions for c in commits)
    assert all(run["status"] == "succeeded" and run["job"] == "ingest" for run in runs.values())


def test_a_rejected_row_goes_to_quarantine_with_its_source_month(spark, ingested):
    config, runs = ingested
    assert runs[BAD_MONTH]["rows_quarantined"]["payments"] == 1
    assert runs[BAD_MONTH]["rows_read"]["payments"] == runs[BAD_MONTH]["rows_used"]["payments"] + 1
    quarantine = tables.read_output(spark, config, "quarantine", where={"job": ["ingest"]})
    assert [(r.score_month, r.table) for r in quarantine.select("score_month", "table").collect()] == \
        [(BAD_MONTH, "payments")]


def _both_routes(spark, config):
    """compute_features over the full route's validated W24, and features_from_months over
    the published summaries (with the same validated snapshot of M-1 and members)."""
    cal = config.calendar(SCORE_MONTH)
    validation = read_validated(spark, config, Span.of(cal), "test-full", Progress("score", quiet=True))
    v = validation.sources
    smic, rules = config.smic_for(cal.snapshot_month), config.rules
    full = compute_features(v.households, v.members, v.payments, v.declarations, v.events, cal=cal,
                            smic_eur=smic, rules=rules)
    summaries = tables.read_output(spark, config, TABLE, where={"month": months(cal.w24_start, cal.snapshot_month)})
    from_months = features_from_months(summaries, v.households, v.members, cal=cal, smic_eur=smic, rules=rules)
    return validation, full, from_months


def test_the_variables_from_the_summaries_equal_the_full_route(spark, ingested):
    config, _ = ingested
    validation, full, from_months = _both_routes(spark, config)
    assert from_months.schema == full.schema
    assert full.exceptAll(from_months).count() == 0 and from_months.exceptAll(full).count() == 0
    # the late household's DTR counts in both (its quarter's 2nd snapshot holds it)
    assert full.where(F.col("household_id") == "late").first().n_dtr_w24 == 1
    validation.unpersist()


def test_a_changed_source_month_is_seen_and_rebuilt(spark, ingested, tmp_path):
    """A late RSA payment of M-7 makes that month's summary stale, and only it; a new
    snapshot row of 2025-11 makes 2025-11 and 2025-10 stale (the DTRs of the quarter
    starting 2025-10 are looked up in it). Once refreshed, nothing is stale and the
    summaries give the full route's variables again, the late payment included."""
    original, _ = ingested
    all_months = months(FIRST, LAST)
    assert stale_months(spark, original, all_months) == {}
    shutil.copytree(original.data_dir, tmp_path / "copy")
    config = load_config(env="local", overrides={"data_dir": str(tmp_path / "copy")})
    m7 = add_months(SCORE_MONTH, -7)
    snapshots = tables.read_source(spark, config, "households", where={"month": [m7, LAST]})
    rsa_paid = tables.read_source(spark, config, "payments", where={"month": [m7]}).where(F.col("benefit") == "RSA")
    chosen = (snapshots.groupBy("household_id").count().where(F.col("count") == 2)
              .join(rsa_paid, on="household_id", how="left_anti").orderBy("household_id").first().household_id)
    late = spark.createDataFrame([(chosen, m7, "RSA", Decimal("500.00"))],
                                 "household_id string, month date, benefit string, amount_eur decimal(12,2)")
    tables.write_source(config, "payments", late, run_id="test", operation="LATE PAYMENT", mode="append")
    assert stale_months(spark, config, all_months) == {m7: "payments changed since it was built"}

    newcomer = tables.read_source(spark, config, "households", where={"month": [date(2025, 11, 1)]}).limit(1) \
        .withColumn("household_id", F.lit("newcomer")).localCheckpoint()
    tables.write_source(config, "households", newcomer, run_id="test", operation="LATE SNAPSHOT", mode="append")
    stale = stale_months(spark, config, all_months)
    assert sorted(stale) == [m7, date(2025, 10, 1), date(2025, 11, 1)]
    assert stale[date(2025, 10, 1)] == "households changed since it was built"

    assert sorted(refresh(spark, config, all_months, Progress("score", quiet=True))) == sorted(stale)
    assert stale_months(spark, config, all_months) == {}
    validation, full, from_months = _both_routes(spark, config)
    assert full.exceptAll(from_months).count() == 0 and from_months.exceptAll(full).count() == 0
    rebuilt = tables.read_output(spark, config, TABLE, where={"month": [m7]}).where(F.col("household_id") == chosen)
    assert [(r.rsa_eur, r.rsa_paid) for r in rebuilt.collect()] == [(Decimal("500.00"), True)]
    validation.unpersist()


def test_dmde_ingest_stale_rebuilds_only_the_changed_month_and_says_why(spark, ingested, tmp_path, capsys):
    """`dmde ingest --stale --from … --to …` after a late payment of M-7: one line per month
    (up to date, or why not), then one ingest run, of M-7 only."""
    from jobs.cli import main

    original, _ = ingested
    shutil.copytree(original.data_dir, tmp_path / "copy")
    config = load_config(env="local", overrides={"data_dir": str(tmp_path / "copy")})
    # a change of table properties (as a new configuration brings) changes no summary
    spark.sql(f"ALTER TABLE delta.`{config.output_path(TABLE)}` SET TBLPROPERTIES "
              "('delta.logRetentionDuration' = 'interval 31 days')")
    m7 = add_months(SCORE_MONTH, -7)
    household = tables.read_source(spark, config, "households", where={"month": [m7]}).first().household_id
    late = spark.createDataFrame([(household, m7, "OTHER", Decimal("12.00"))],
                                 "household_id string, month date, benefit string, amount_eur decimal(12,2)")
    tables.write_source(config, "payments", late, run_id="test", operation="LATE PAYMENT", mode="append")
    capsys.readouterr()
    try:
        assert main(["ingest", "--stale", "--from", f"{FIRST:%Y-%m}", "--to", f"{LAST:%Y-%m}",
                     "--data-dir", str(tmp_path / "copy")]) == 0
    finally:  # the CLI applies conf/local.yaml to the shared session: restore the suite's setting
        spark.conf.set("spark.sql.shuffle.partitions", "2")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[ingest] 20")]
    assert f"[ingest] {m7:%Y-%m}: payments changed since it was built" in lines
    assert sum(line.endswith(": up to date") for line in lines) == len(months(FIRST, LAST)) - 1
    assert [line for line in lines if "households summarised" in line][0].startswith(f"[ingest] {m7:%Y-%m}: ")
    assert len([line for line in lines if "households summarised" in line]) == 1
    assert stale_months(spark, config, months(FIRST, LAST)) == {}


def test_dmde_score_from_the_summaries_publishes_the_full_routes_features(spark, ingested, tmp_path):
    """`score_month` (summaries present) and `score_month(full=True)` publish the same
    features and scores for 2026-03 (with a model file of fixed intercepts: the fixture has
    no OPBD sample to calibrate on); the summaries' run reads only the snapshot of M-1, the
    spells and the controls."""
    from datetime import datetime, timezone

    from domain.model import Intercept
    from jobs.lib.config import write_model
    from jobs.lib.publish import read_published
    from jobs.lib.scoring import score_month

    original, _ = ingested
    shutil.copytree(original.data_dir, tmp_path / "copy")
    config = load_config(env="local", overrides={"data_dir": str(tmp_path / "copy")})
    spec = config.model
    for name in spec.model_names():
        spec = spec.with_intercept(name, Intercept(value=-1.5, sample_size=1, score_month=SCORE_MONTH,
                                                   computed_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                                                   method="fixed for the test"))
    model_file = tmp_path / "model.yaml"
    write_model(spec, model_file)

    def published(**kw):
        run = score_month(spark, config, SCORE_MONTH, Progress("score", quiet=True), model_file=model_file, **kw)
        frames = [read_published(spark, config, table, SCORE_MONTH).drop("run_id").localCheckpoint()
                  for table in ("features", "scores")]
        return run, frames

    full_run, full = published(full=True)
    run, from_summaries = published()
    assert set(run["rows_read"]) == {"households", "members", "controls"}
    assert set(full_run["rows_read"]) == {"households", "members", "payments", "declarations", "events", "controls"}
    assert run["households_scored"] == full_run["households_scored"] > 500
    for mine, theirs in zip(from_summaries, full):
        assert mine.schema == theirs.schema
        assert mine.exceptAll(theirs).count() == 0 and theirs.exceptAll(mine).count() == 0

    # what the monitoring reads as the rows this run used: without the payment the ingest of
    # M-7 quarantined (the score run itself read no payment, so quarantined none)
    from jobs.lib.publish import published_run
    from jobs.lib.validation import as_validated
    from jobs.monitor_month import ingests_used

    score_run = published_run(spark, config, "runs", SCORE_MONTH, "score")
    ingests = ingests_used(spark, config, config.calendar(SCORE_MONTH), score_run)
    assert sorted(ingests) == months(FIRST, LAST)
    span = Span.of(config.calendar(SCORE_MONTH))
    payments = {"payments": tables.read_source(spark, config, "payments", where={"month": [BAD_MONTH]})}
    negative = F.col("amount_eur") < 0
    assert as_validated(spark, config, payments, span, SCORE_MONTH, score_run.run_id)["payments"] \
        .where(negative).count() == 1
    assert as_validated(spark, config, payments, span, SCORE_MONTH, score_run.run_id,
                        ingests=ingests)["payments"].where(negative).count() == 0
