"""jobs.delta: Spark stages Parquet, delta-rs commits it; every table goes through here."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyarrow.fs import LocalFileSystem, SubTreeFileSystem
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DecimalType,
    DoubleType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from jobs.lib.delta import (
    ConcurrentWriteError,
    DeltaWriteError,
    read_table,
    table_exists,
    table_history,
    table_version,
    write_table,
)

PARTITIONS = ["caf", "score_month"]
SCHEMA = StructType([
    StructField("caf", StringType()),
    StructField("score_month", StringType()),
    StructField("household_id", StringType()),
    StructField("score", DoubleType()),
    StructField("amount", DecimalType(12, 2)),
    StructField("as_of", DateType()),
    StructField("scored_at", TimestampType()),
])


def scores(spark: SparkSession, month: str, cafs: tuple[str, ...] = ("13", "75"),
           score: float = 1.0) -> DataFrame:
    """Two households per caf, one of them with missing score, amount, date and time."""
    rows = []
    for caf in cafs:
        rows.append((caf, month, f"{caf}-{month}-a", score, Decimal("154.99"),
                     date(2026, 1, 31), datetime(2026, 2, 1, 8, 30, 0, 123456)))
        rows.append((caf, month, f"{caf}-{month}-b", None, None, None, None))
    return spark.createDataFrame(rows, SCHEMA)


def table_path(tmp_path: Path) -> str:
    return str(tmp_path / "scores")


def data_files(path: str) -> set[str]:
    """Every Parquet file in the table folder, whether the log references it or not."""
    root = Path(path)
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet")
            if p.relative_to(root).parts[0] not in ("_delta_log", "_staging")}


def logged_adds(path: str) -> list[dict]:
    """The add actions of every commit, read from the log itself."""
    return [json.loads(line)["add"]
            for commit in sorted((Path(path) / "_delta_log").glob("*.json"))
            for line in commit.read_text().splitlines() if '"add"' in line]


def assert_folder_matches_log(path: str) -> None:
    """No staging leftovers, no file outside the log, no live file missing."""
    assert not list((Path(path) / "_staging").glob("*"))
    assert data_files(path) == {add["path"] for add in logged_adds(path)}
    assert all(Path(uri).is_file() for uri in DeltaTable(path).file_uris())


def test_round_trip_preserves_rows_and_types(spark, tmp_path):
    path = table_path(tmp_path)
    df = scores(spark, "2026-01").unionByName(scores(spark, "2026-02"))

    version = write_table(df, path, partition_by=PARTITIONS, run_id="run-1")

    assert version == 0 and table_exists(path) and table_version(path) == 0
    result = read_table(spark, path)
    assert result.schema == SCHEMA
    assert_df_equality(result, df, ignore_row_order=True)
    assert_folder_matches_log(path)


def test_date_partition_stays_date_and_where_prunes(spark, tmp_path):
    path = table_path(tmp_path)
    df = scores(spark, "2026-01").withColumn(
        "month", F.when(F.col("caf") == "13", F.lit(date(2026, 1, 1))).otherwise(F.lit(date(2026, 2, 1))))

    write_table(df, path, partition_by=["month"], run_id="run-1", mode="append")

    assert DeltaTable(path).schema().to_json().count('"type":"date"') == 2
    january = read_table(spark, path, where={"month": [date(2026, 1, 1)]})
    assert january.schema["month"].dataType == DateType()
    # Every Delta column is nullable, while Spark marks the literal month column not null.
    assert_df_equality(january, df.where(F.col("caf") == "13"), ignore_row_order=True,
                       ignore_nullable=True)
    assert read_table(spark, path, where={"month": []}).count() == 0


def test_replacing_a_month_twice_gives_the_same_rows(spark, tmp_path):
    path = table_path(tmp_path)
    write_table(scores(spark, "2026-01").unionByName(scores(spark, "2026-02")), path,
                partition_by=PARTITIONS, run_id="run-0")
    february_files = DeltaTable(path).file_uris([("score_month", "=", "2026-02")])
    rescored = scores(spark, "2026-01", score=2.0)

    first = write_table(rescored, path, partition_by=PARTITIONS, run_id="run-1")
    second = write_table(rescored, path, partition_by=PARTITIONS, run_id="run-2")

    assert (first, second) == (1, 2)
    assert_df_equality(read_table(spark, path, where={"score_month": ["2026-01"]}), rescored,
                       ignore_row_order=True)
    assert DeltaTable(path).file_uris([("score_month", "=", "2026-02")]) == february_files
    assert read_table(spark, path).count() == 8
    assert_folder_matches_log(path)


def test_replace_where_removes_an_absent_month_and_append_adds(spark, tmp_path):
    path = table_path(tmp_path)
    write_table(scores(spark, "2026-01").unionByName(scores(spark, "2026-02")), path,
                partition_by=PARTITIONS, run_id="run-0")

    write_table(spark.createDataFrame([], SCHEMA), path, partition_by=PARTITIONS, run_id="run-1",
                replace_where={"score_month": ["2026-01"]})
    assert read_table(spark, path).select("score_month").distinct().collect() == [("2026-02",)]

    write_table(scores(spark, "2026-03", cafs=("13",)), path, partition_by=PARTITIONS,
                run_id="run-2", mode="append")
    assert read_table(spark, path, where={"score_month": ["2026-03"]}).count() == 2

    write_table(scores(spark, "2026-04"), path, partition_by=PARTITIONS, run_id="run-3",
                mode="overwrite")
    assert_df_equality(read_table(spark, path), scores(spark, "2026-04"), ignore_row_order=True)


def test_replace_where_refuses_rows_outside_it(spark, tmp_path):
    path = table_path(tmp_path)
    write_table(scores(spark, "2026-01"), path, partition_by=PARTITIONS, run_id="run-0")

    with pytest.raises(DeltaWriteError, match="outside replace_where"):
        write_table(scores(spark, "2026-02"), path, partition_by=PARTITIONS, run_id="run-1",
                    replace_where={"score_month": ["2026-01"]})

    assert table_version(path) == 0
    assert_folder_matches_log(path)


def test_partitions_that_one_commit_cannot_replace_are_refused(spark, tmp_path):
    path = table_path(tmp_path)
    write_table(scores(spark, "2026-01").unionByName(scores(spark, "2026-02")), path,
                partition_by=PARTITIONS, run_id="run-0")
    # Replacing (13, 2026-01) and (75, 2026-02) with one filter would also drop the other two.
    diagonal = scores(spark, "2026-01", cafs=("13",)).unionByName(scores(spark, "2026-02", cafs=("75",)))

    with pytest.raises(DeltaWriteError, match="every combination"):
        write_table(diagonal, path, partition_by=PARTITIONS, run_id="run-1")

    assert table_version(path) == 0 and read_table(spark, path).count() == 8


def test_time_travel_and_history(spark, tmp_path):
    path = table_path(tmp_path)
    original = scores(spark, "2026-01")
    write_table(original, path, partition_by=PARTITIONS, run_id="run-0", operation="SCORE")
    write_table(scores(spark, "2026-01", score=9.0), path, partition_by=PARTITIONS, run_id="run-1")

    assert_df_equality(read_table(spark, path, version=0), original, ignore_row_order=True)
    history = table_history(path)
    assert [(h["version"], h["run_id"]) for h in history] == [(1, "run-1"), (0, "run-0")]
    assert history[1]["dmde_operation"] == "SCORE"
    app_versions = [DeltaTable(path, version=v).transaction_version("dmde") for v in (0, 1)]
    assert app_versions[0] < app_versions[1]


def test_stale_snapshot_commit_raises_concurrent_write_error(spark, tmp_path):
    path = table_path(tmp_path)
    write_table(scores(spark, "2026-01"), path, partition_by=PARTITIONS, run_id="run-0")
    read_by_both = table_version(path)
    winner = scores(spark, "2026-01", score=2.0)
    write_table(winner, path, partition_by=PARTITIONS, run_id="writer-a")

    with pytest.raises(ConcurrentWriteError, match="another writer"):
        write_table(scores(spark, "2026-01", score=3.0), path, partition_by=PARTITIONS,
                    run_id="writer-b", _snapshot_version=read_by_both)

    assert table_version(path) == 1
    assert_df_equality(read_table(spark, path), winner, ignore_row_order=True)
    assert_folder_matches_log(path)


def test_failed_spark_write_leaves_table_unchanged(spark, tmp_path):
    path = table_path(tmp_path)
    write_table(scores(spark, "2026-01"), path, partition_by=PARTITIONS, run_id="run-0")
    failing = scores(spark, "2026-01").withColumn(
        "score", F.when(F.col("caf") == "75", F.raise_error(F.lit("boom"))).otherwise(F.col("score")))

    with pytest.raises(DeltaWriteError, match="Spark failed"):
        write_table(failing, path, partition_by=PARTITIONS, run_id="run-1")

    assert table_version(path) == 0
    assert_folder_matches_log(path)


def test_schema_mismatch_is_refused_naming_the_columns(spark, tmp_path):
    path = table_path(tmp_path)
    write_table(scores(spark, "2026-01"), path, partition_by=PARTITIONS, run_id="run-0")
    narrower = scores(spark, "2026-02").withColumn("amount", F.col("amount").cast("decimal(10,2)"))

    with pytest.raises(DeltaWriteError, match=r"amount \(df decimal\(10,2\), table decimal\(12,2\)\)"):
        write_table(narrower, path, partition_by=PARTITIONS, run_id="run-1", mode="append")

    assert table_version(path) == 0
    assert_folder_matches_log(path)


def test_unsafe_partition_value_is_refused_before_anything_is_written(spark, tmp_path):
    path = table_path(tmp_path)
    bad = scores(spark, "2026-01").withColumn("caf", F.lit("a/b"))

    with pytest.raises(DeltaWriteError, match=r"caf='a/b'"):
        write_table(bad, path, partition_by=PARTITIONS, run_id="run-0")

    assert not table_exists(path) and table_version(path) is None
    assert data_files(path) == set() and not list((Path(path) / "_staging").glob("*"))
    with pytest.raises(FileNotFoundError, match="No Delta table"):
        read_table(spark, path)


def test_readers_agree(spark, tmp_path):
    path = table_path(tmp_path)
    write_table(scores(spark, "2026-01").unionByName(scores(spark, "2026-02")), path,
                partition_by=PARTITIONS, run_id="run-0", files_per_partition=2)
    write_table(scores(spark, "2026-01", score=5.0), path, partition_by=PARTITIONS, run_id="run-1")

    spark_rows = read_table(spark, path).agg(F.count("*"), F.sum("score")).first()
    polars_rows = pl.read_delta(path).select(pl.len(), pl.col("score").sum()).row(0)
    dataset = DeltaTable(path).to_pyarrow_dataset(
        filesystem=SubTreeFileSystem(path, LocalFileSystem())).to_table()

    assert tuple(spark_rows) == polars_rows == (8, 12.0)
    assert (dataset.num_rows, sum(v for v in dataset["score"].to_pylist() if v)) == (8, 12.0)


def test_protocol_stays_reader_1_and_stats_drive_skipping(spark, tmp_path):
    path = table_path(tmp_path)
    write_table(scores(spark, "2026-01"), path, partition_by=PARTITIONS, run_id="run-0")

    protocol = DeltaTable(path).protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 2)
    stats = [json.loads(add["stats"]) for add in logged_adds(path)]
    assert [s["numRecords"] for s in stats] == [2, 2]
    assert stats[0]["minValues"] == {"household_id": stats[0]["minValues"]["household_id"],
                                     "score": 1.0, "amount": 154.99, "as_of": "2026-01-31",
                                     "scored_at": "2026-02-01T08:30:00.123Z"}
    assert stats[0]["nullCount"] == {"household_id": 0, "score": 1, "amount": 1, "as_of": 1,
                                     "scored_at": 1}
    table = DeltaTable(path)
    assert table.file_uris(file_pruning_predicate="amount > 200") == []
    assert len(table.file_uris(file_pruning_predicate="as_of = '2026-01-31'")) == 2
