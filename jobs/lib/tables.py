"""The project's tables by name: sources under `<data-dir>/sources/`, outputs under
`<data-dir>/tables/`, their paths and partition columns from the configuration, read and
written through the one Delta layer (`jobs/lib/delta.py`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession

from jobs.lib import delta
from jobs.lib.config import Config

exists = delta.table_exists
row_count = delta.table_rows
version = delta.table_version
max_partition_value = delta.max_partition_value


def read_source(spark: SparkSession, config: Config, name: str, *,
                where: Mapping[str, Sequence[object]] | None = None, version: int | None = None) -> DataFrame:
    """A source table; `where` keeps only the given partition values."""
    return delta.read_table(spark, config.source_path(name), where=where, version=version)


def read_output(spark: SparkSession, config: Config, name: str, *,
                where: Mapping[str, Sequence[object]] | None = None, version: int | None = None) -> DataFrame:
    """An output table; `where` keeps only the given partition values."""
    return delta.read_table(spark, config.output_path(name), where=where, version=version)


def stage_output(config: Config, name: str, df: DataFrame, *, run_id: str, operation: str,
                 replace_where: Mapping[str, Sequence[object]] | None = None,
                 mode: delta.WriteMode = "replace_partitions") -> delta.PendingWrite:
    """Write df into the output table's staging area; commit later with `publish`."""
    return delta.stage_write(df, config.output_path(name), partition_by=config.partition_by(name),
                             run_id=run_id, mode=mode, replace_where=replace_where, operation=operation)


def write_source(config: Config, name: str, df: DataFrame, *, run_id: str, operation: str,
                 mode: delta.WriteMode = "overwrite") -> int:
    """Write a whole source table (the generator) in one commit; the new version."""
    return delta.write_table(df, config.source_path(name), partition_by=config.partition_by(name),
                             run_id=run_id, mode=mode, operation=operation)


def publish(pending: Sequence[delta.PendingWrite]) -> list[int]:
    """Commit staged writes in order; if one fails, the ones not yet committed are aborted."""
    return delta.commit_all(pending)


def abort(pending: Sequence[delta.PendingWrite]) -> None:
    for write in pending:
        write.abort()
