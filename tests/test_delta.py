"""jobs/lib/delta.py: Delta Lake's own Spark integration carries every write and read;
delta-rs reads the log; polars and deltalake read the same rows without Spark."""
from __future__ import annotations

import json
import threading
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DecimalType, DoubleType, StringType, StructField, StructType, TimestampType

from jobs.lib import delta

PARTITIONS = ["caf", "score_month"]
SCHEMA = StructType([
    StructField("caf", StringType()),
    StructField("score_month", DateType()),
    StructField("household_id", StringType()),
    StructField("score", DoubleType()),
    StructField("amount", DecimalType(12, 2)),
    StructField("scored_at", TimestampType()),
])
JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


def scores(spark: SparkSession, month: date, cafs: tuple[str, ...] = ("13", "75"), score: float = 0.5) -> DataFrame:
    """Two households per Caf, one of them with missing score, amount and time."""
    rows = []
    for caf in cafs:
        rows.append((caf, month, f"{caf}-{month:%Y%m}-a", score, Decimal("154.99"), datetime(2026, 2, 1, 8, 30, 0, 123456)))
        rows.append((caf, month, f"{caf}-{month:%Y%m}-b", None, None, None))
    return spark.createDataFrame(rows, SCHEMA)


def write(df, path, run_id="run-1", **kwargs):
    return delta.write(df, path, partition_by=PARTITIONS, run_id=run_id, operation="TEST",
                       mode=kwargs.pop("mode", "overwrite"), **kwargs)


def test_round_trip_preserves_rows_and_types(spark, tmp_path):
    path = str(tmp_path / "t")
    original = scores(spark, JAN)
    commit = write(original, path)
    assert commit.rows == 4 and delta.version(path) == commit.version
    back = delta.read(spark, path).select(*original.columns)
    assert_df_equality(original, back, ignore_row_order=True, ignore_nullable=True)
    assert dict(back.dtypes)["score_month"] == "date"


def test_replacing_a_month_touches_only_that_month_and_twice_gives_the_same_rows(spark, tmp_path):
    path = str(tmp_path / "t")
    write(scores(spark, JAN).unionByName(scores(spark, FEB)), path)
    first = write(scores(spark, FEB, score=0.9), path, replace={"score_month": [FEB]})
    second = write(scores(spark, FEB, score=0.9), path, replace={"score_month": [FEB]})
    assert second.version == first.version + 1
    rows = delta.read(spark, path)
    assert rows.where(F.col("score_month") == JAN).where(F.col("score") == 0.5).count() == 2
    assert rows.where(F.col("score_month") == FEB).count() == 4
    assert rows.where((F.col("score_month") == FEB) & (F.col("score") == 0.9)).count() == 2
    assert_df_equality(delta.read(spark, path, version=first.version), rows, ignore_row_order=True)


def test_where_keeps_only_the_partitions_named(spark, tmp_path):
    path = str(tmp_path / "t")
    write(scores(spark, JAN).unionByName(scores(spark, FEB)), path)
    assert delta.read(spark, path, where={"score_month": [FEB], "caf": ["13"]}).count() == 2
    assert delta.max_partition_value(path, "score_month") == FEB


def test_rows_outside_the_replaced_partitions_are_refused_and_nothing_changes(spark, tmp_path):
    path = str(tmp_path / "t")
    write(scores(spark, JAN), path)
    before = delta.version(path)
    with pytest.raises(delta.DeltaWriteError, match="refused the write"):
        write(scores(spark, FEB), path, replace={"score_month": [JAN]})
    assert delta.version(path) == before


def test_a_schema_that_differs_from_the_table_is_refused(spark, tmp_path):
    path = str(tmp_path / "t")
    write(scores(spark, JAN), path)
    with pytest.raises(delta.DeltaWriteError, match="refused the write"):
        write(scores(spark, JAN).withColumn("score", F.col("score").cast("string")), path)
    assert delta.version(path) == 1


def test_each_commit_carries_its_run_and_time_travel_reads_it_back(spark, tmp_path):
    path = str(tmp_path / "t")
    write(scores(spark, JAN), path, run_id="run-a", meta={"score_month": "2026-01-01"})
    write(scores(spark, JAN, score=0.7), path, run_id="run-b", replace={"score_month": [JAN]})
    history = delta.history(path)
    assert [c["meta"].get("run_id") for c in history[:2]] == ["run-b", "run-a"]
    assert history[1]["meta"]["score_month"] == "2026-01-01"
    sql = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy(F.desc("version")).first()
    assert json.loads(sql.userMetadata)["run_id"] == "run-b"
    old = delta.read(spark, path, version=history[1]["version"])
    assert old.where(F.col("score") == 0.5).count() == 2


def test_a_transaction_version_already_recorded_is_skipped(spark, tmp_path):
    """Delta's idempotent writes: a run fenced off by a newer one cannot commit."""
    path = str(tmp_path / "t")
    assert write(scores(spark, JAN), path, txn=("dmde-test", 2)) is not None
    assert write(scores(spark, JAN, score=0.1), path, txn=("dmde-test", 2)) is None
    assert write(scores(spark, JAN, score=0.1), path, txn=("dmde-test", 1)) is None
    assert delta.transaction_version(path, "dmde-test") == 2
    assert delta.read(spark, path).where(F.col("score") == 0.1).count() == 0
    assert write(scores(spark, JAN, score=0.2), path, txn=("dmde-test", 3)) is not None


def test_two_writers_of_the_same_month_at_once_one_fails_and_nothing_is_duplicated(spark, tmp_path):
    path = str(tmp_path / "t")
    write(scores(spark, JAN), path)
    # each writer's rows take seconds to compute, so that both transactions are open together
    slow = spark.range(0, 4_000_000, numPartitions=4).groupBy((F.col("id") % 7).alias("k")).count() \
        .agg(F.sum("count").alias("n"))

    def rows(score):
        return scores(spark, JAN, score=score).crossJoin(slow).where(F.col("n") > 0).drop("n")

    outcomes = {}

    def run(name, score):
        try:
            outcomes[name] = write(rows(score), path, run_id=name, replace={"score_month": [JAN]})
        except delta.ConcurrentWriteError as err:
            outcomes[name] = err

    threads = [threading.Thread(target=run, args=(name, s)) for name, s in (("a", 0.3), ("b", 0.4))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [name for name, outcome in outcomes.items() if isinstance(outcome, delta.ConcurrentWriteError)]
    assert len(failed) == 1, outcomes
    winner = ({"a", "b"} - set(failed)).pop()
    table = delta.read(spark, path)
    assert table.count() == 4 and table.where(F.col("score") == {"a": 0.3, "b": 0.4}[winner]).count() == 2
    assert "another writer committed a conflicting change first" in str(outcomes[failed[0]])


def test_polars_and_deltalake_read_the_rows_spark_wrote(spark, tmp_path):
    path = str(tmp_path / "t")
    write(scores(spark, JAN).unionByName(scores(spark, FEB)), path,
          properties={"delta.logRetentionDuration": "interval 30 days"},
          constraints={"score_unit": "score IS NULL OR (score > 0 AND score < 1)"})
    spark_rows = sorted((r.household_id, r.score) for r in delta.read(spark, path).collect())
    polars_rows = sorted(pl.read_delta(path).select("household_id", "score").iter_rows())
    dataset = DeltaTable(path).to_pyarrow_dataset()
    arrow_rows = sorted(zip(*[dataset.to_table().column(c).to_pylist() for c in ("household_id", "score")]))
    assert spark_rows == polars_rows == arrow_rows
    assert pl.read_delta(path).filter(pl.col("score_month") == FEB).height == 4


def test_a_check_constraint_refuses_an_impossible_value(spark, tmp_path):
    path = str(tmp_path / "t")
    write(scores(spark, JAN), path, constraints={"score_unit": "score IS NULL OR (score > 0 AND score < 1)"})
    before = delta.version(path)
    with pytest.raises(delta.DeltaWriteError):
        write(scores(spark, FEB, score=1.5), path, mode="append")
    assert delta.version(path) == before


def test_protocol_stays_readable_by_delta_rs_and_files_carry_statistics(spark, tmp_path):
    path = str(tmp_path / "t")
    write(scores(spark, JAN), path, constraints={"score_unit": "score IS NULL OR (score > 0 AND score < 1)"},
          properties={"delta.appendOnly": "false"})
    protocol = DeltaTable(path).protocol()
    assert protocol.min_reader_version == 1 and protocol.min_writer_version <= 3
    assert delta.row_count(path) == 4
    adds = [json.loads(line)["add"] for commit in sorted((Path(path) / "_delta_log").glob("*.json"))
            for line in commit.read_text().splitlines() if '"add"' in line]
    assert adds and all(json.loads(add["stats"])["numRecords"] >= 1 for add in adds)


def _stats_columns(path: str, month: date) -> set[str]:
    """The columns the live files of `month` keep min/max statistics of."""
    files = delta.live_files(path)
    names = {f["path"] for f in files if f["partition.score_month"] == month}
    adds = [json.loads(line)["add"] for commit in sorted((Path(path) / "_delta_log").glob("*.json"))
            for line in commit.read_text().splitlines() if '"add"' in line]
    return {column for add in adds if add["path"] in names for column in json.loads(add["stats"])["minValues"]}


def test_statistics_follow_the_configured_columns_even_on_a_table_created_before(spark, tmp_path):
    """A table written without the property keeps Delta's default statistics; the first
    write with `delta.dataSkippingStatsColumns` sets it (one metadata commit), and its files
    keep statistics of that column only; the next write adds no metadata commit."""
    path = str(tmp_path / "t")
    write(scores(spark, JAN), path)
    assert _stats_columns(path, JAN) == {"household_id", "score", "amount", "scored_at"}
    before = delta.version(path)
    properties = {"delta.dataSkippingStatsColumns": "household_id"}
    write(scores(spark, FEB), path, replace={"score_month": [FEB]}, properties=properties)
    assert delta.version(path) == before + 2  # the property, then the rows
    assert DeltaTable(path).metadata().configuration["delta.dataSkippingStatsColumns"] == "household_id"
    assert _stats_columns(path, FEB) == {"household_id"}
    write(scores(spark, FEB), path, replace={"score_month": [FEB]}, properties=properties)
    assert delta.version(path) == before + 3
    assert DeltaTable(path).protocol().min_reader_version == 1
    assert pl.read_delta(path).height == 8
