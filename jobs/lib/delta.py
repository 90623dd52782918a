"""The one module that writes and reads Delta tables.

Delta's Spark jars come from Maven, which is unreachable here (STACK.md), so Spark writes
plain Parquet into a staging folder and delta-rs commits those files in one transaction.
Spark cannot read the Delta log, so reads go through the log's live file list.
"""
from __future__ import annotations

import json
import math
import os
import posixpath
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Literal
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    Transaction,
    create_table_with_add_actions,
)
from pyarrow.fs import FileSelector, FileSystem, FileType
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, IntegralType, StringType, StructField, StructType

WriteMode = Literal["append", "overwrite", "replace_partitions"]

APP_ID = "dmde"
STAGING_DIR = "_staging"
# Other characters get escaped by Spark in folder names and break Delta readers (STACK.md).
_SAFE_PARTITION_VALUE = re.compile(r"[A-Za-z0-9_.-]+")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_SPARK_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_PARTITION_TYPES = (StringType, DateType, IntegralType)
# Delta keeps a prefix of long strings; a truncated max would no longer be an upper bound.
_STRING_STATS_PREFIX = 32
# Stats are JSON numbers: a decimal is only written when a float holds it exactly.
_FLOAT_EXACT_DIGITS = 15


class DeltaWriteError(RuntimeError):
    """A write failed; the table is as it was before the write."""


class ConcurrentWriteError(DeltaWriteError):
    """Another writer committed a conflicting change first; rerun the write."""


@dataclass(frozen=True)
class _StagedFile:
    """A Parquet file Spark wrote under the staging folder, described by its listing."""

    fs_path: str
    relative_path: str  # "col=value/.../part-*.parquet": its path under the table too
    partition_values: dict[str, str]
    size: int
    mtime_ms: int


def write_table(
    df: DataFrame,
    path: str,
    *,
    partition_by: Sequence[str],
    run_id: str,
    mode: WriteMode = "replace_partitions",
    replace_where: Mapping[str, Sequence[object]] | None = None,
    operation: str = "WRITE",
    files_per_partition: int = 1,
    _snapshot_version: int | None = None,
) -> int:
    """Write df as ONE Delta commit and return the new version.

    append adds files; overwrite replaces the whole table; replace_partitions replaces the
    partitions named by replace_where (values compared as strings, every row of df must
    fall inside them) or, when replace_where is None, the partitions present in df.
    The table is created when absent. `_snapshot_version` commits against an older
    snapshot, as a writer that read the table before a concurrent commit would (tests).
    """
    return stage_write(df, path, partition_by=partition_by, run_id=run_id, mode=mode,
                       replace_where=replace_where, operation=operation,
                       files_per_partition=files_per_partition,
                       _snapshot_version=_snapshot_version).commit()


@dataclass
class PendingWrite:
    """Data written by Spark into the table's staging folder, not yet committed.

    A job that writes several tables stages them all first (the slow, failure-prone part),
    then commits them one after the other (milliseconds each): a failed computation leaves
    every table as it was.
    """

    uri: str
    fs: FileSystem
    root: str
    staging: str
    write_id: str
    run_id: str
    operation: str
    snapshot: DeltaTable | None
    schema: Schema
    partition_by: list[str]
    staged: list[_StagedFile]
    adds: list[AddAction]
    commit_mode: str
    filters: list | None
    done: bool = False

    @property
    def rows(self) -> int:
        return sum(json.loads(add.stats)["numRecords"] for add in self.adds)

    def commit(self) -> int:
        """Move the staged files under the table and commit them in one transaction."""
        if self.done:
            raise DeltaWriteError(f"Delta table {self.uri}: write {self.write_id} was already committed or aborted.")
        self.done = True
        since = self.snapshot.version() if self.snapshot is not None else -1
        moved: list[str] = []
        try:
            for file in self.staged:
                target = f"{self.root}/{file.relative_path}"
                self.fs.create_dir(posixpath.dirname(target), recursive=True)
                self.fs.move(file.fs_path, target)
                moved.append(target)
            _check_adds(self.uri, self.fs, self.root, self.adds, self.partition_by)
            properties = CommitProperties(
                custom_metadata={"run_id": self.run_id, "dmde_operation": self.operation,
                                 "write_id": self.write_id},
                app_transactions=[Transaction(APP_ID, _app_version(self.snapshot))],
            )
            _commit(self.uri, self.snapshot, self.schema, self.adds, self.commit_mode, self.filters,
                    self.partition_by, properties)
            version = _find_commit(self.uri, self.write_id, since)
            if version is None:
                raise DeltaWriteError(f"Delta table {self.uri}: delta-rs reported success but no commit "
                                      f"carries write_id {self.write_id}; inspect table_history().")
            return version
        except BaseException:
            # Files referenced by a commit (e.g. one that failed only in a post-commit hook)
            # must stay; any other moved file is removed so the folder matches the log.
            if moved and _find_commit(self.uri, self.write_id, since) is None:
                for target in moved:
                    self.fs.delete_file(target)
            raise
        finally:
            self._clean()

    def abort(self) -> None:
        """Drop the staged files; the table is untouched."""
        self.done = True
        self._clean()

    def _clean(self) -> None:
        if self.fs.get_file_info(self.staging).type == FileType.Directory:
            self.fs.delete_dir(self.staging)


def stage_write(
    df: DataFrame,
    path: str,
    *,
    partition_by: Sequence[str],
    run_id: str,
    mode: WriteMode = "replace_partitions",
    replace_where: Mapping[str, Sequence[object]] | None = None,
    operation: str = "WRITE",
    files_per_partition: int = 1,
    _snapshot_version: int | None = None,
) -> PendingWrite:
    """Run the Spark write into the table's staging folder; commit later with .commit()."""
    uri = _table_uri(path)
    partition_by = list(partition_by)
    _check_arguments(uri, df, partition_by, mode, replace_where, files_per_partition)
    # The snapshot is taken before any data is written: a commit made by another writer
    # in the meantime is then detected by delta-rs's conflict check.
    snapshot = _open_snapshot(uri, _snapshot_version)
    df = _conform_to_table(uri, df, snapshot, partition_by)
    schema = _delta_schema(df.schema)
    data_types = {
        field["name"]: field["type"]
        for field in json.loads(schema.to_json())["fields"]
        if field["name"] not in partition_by
    }
    fs, root = FileSystem.from_uri(uri)
    write_id = f"{_UNSAFE_CHARS.sub('_', run_id)}-{uuid.uuid4().hex}"
    staging = f"{root}/{STAGING_DIR}/{write_id}"
    try:
        _stage(uri, df, f"{uri}/{STAGING_DIR}/{write_id}", partition_by, files_per_partition)
        staged = _list_staged(uri, fs, staging, partition_by)
        commit_mode, filters = _commit_mode(uri, mode, partition_by, replace_where, staged)
        adds = [_add_action(uri, fs, file, data_types) for file in staged]
    except BaseException:
        if fs.get_file_info(staging).type == FileType.Directory:
            fs.delete_dir(staging)
        raise
    return PendingWrite(uri, fs, root, staging, write_id, run_id, operation, snapshot, schema,
                        partition_by, staged, adds, commit_mode, filters)


def commit_all(pending: Sequence[PendingWrite]) -> list[int]:
    """Commit staged writes in order; if one fails, the ones not yet committed are aborted."""
    versions = []
    try:
        for write in pending:
            versions.append(write.commit())
    finally:
        for write in pending:
            if not write.done:
                write.abort()
    return versions


def read_table(
    spark: SparkSession,
    path: str,
    *,
    version: int | None = None,
    where: Mapping[str, Sequence[object]] | None = None,
) -> DataFrame:
    """Read the live files of a version, never a folder glob: the folder also holds
    files that later commits removed. `where` keeps only the given partition values."""
    uri = _table_uri(path)
    table = _open_table(uri, version)
    schema = StructType.fromJson(json.loads(table.schema().to_json()))
    partition_columns = table.metadata().partition_columns
    unknown = sorted(set(where or {}) - set(partition_columns))
    if unknown:
        raise ValueError(f"Delta table {uri}: where may only name partition columns "
                         f"{partition_columns}, not {unknown}.")
    predicate = [(column, "in", [_partition_string(v) for v in values])
                 for column, values in (where or {}).items()]
    uris = table.file_uris(file_pruning_predicate=predicate or None)
    if not uris:
        return spark.createDataFrame([], schema)
    # Spark appends partition columns after the data columns: restore the table's order.
    return (spark.read.schema(schema).option("basePath", uri).parquet(*uris)
            .select(*schema.fieldNames()))


def table_exists(path: str) -> bool:
    """Whether a Delta log exists at path."""
    return DeltaTable.is_deltatable(_table_uri(path))


def table_version(path: str) -> int | None:
    """The latest committed version, None when there is no table."""
    uri = _table_uri(path)
    return DeltaTable(uri).version() if DeltaTable.is_deltatable(uri) else None


def table_rows(path: str, version: int | None = None) -> int:
    """Rows of the table from the numRecords stats of its live files: no data is read."""
    actions = _open_table(_table_uri(path), version).get_add_actions(flatten=True)
    counts = pa.table(actions).column("num_records").to_pylist() if actions.num_rows else []
    if any(count is None for count in counts):
        raise DeltaWriteError(f"Delta table {path}: a file has no numRecords stats; count with read_table().")
    return int(sum(counts))


def max_partition_value(path: str, column: str) -> object | None:
    """The largest value of a partition column among the live files (read from the log)."""
    actions = pa.table(_open_table(_table_uri(path), None).get_add_actions(flatten=True))
    name = f"partition.{column}"
    if name not in actions.column_names:
        raise ValueError(f"Delta table {path}: {column} is not a partition column.")
    values = [v for v in actions.column(name).to_pylist() if v is not None]
    return max(values) if values else None


def table_history(path: str, limit: int | None = None) -> list[dict]:
    """Commit infos, newest first; custom keys run_id, dmde_operation and write_id included."""
    return _open_table(_table_uri(path), None).history(limit)



def _table_uri(path: str) -> str:
    """Local paths become absolute: delta-rs and pyarrow.fs both need that."""
    return path.rstrip("/") if "://" in path else os.path.abspath(path)


def _open_table(uri: str, version: int | None) -> DeltaTable:
    try:
        return DeltaTable(uri, version=version)
    except TableNotFoundError as err:
        raise FileNotFoundError(f"No Delta table at {uri}: write it first with write_table().") from err


def _open_snapshot(uri: str, version: int | None) -> DeltaTable | None:
    if version is None and not DeltaTable.is_deltatable(uri):
        return None
    return _open_table(uri, version)


def _partition_string(value: object) -> str:
    """Delta's string form of a partition value (dates as YYYY-MM-DD)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _check_arguments(uri: str, df: DataFrame, partition_by: list[str], mode: str,
                     replace_where: Mapping[str, Sequence[object]] | None,
                     files_per_partition: int) -> None:
    """Refuse a write that cannot succeed before Spark computes anything."""

    def fail(what: str) -> DeltaWriteError:
        return DeltaWriteError(f"Delta table {uri}: {what}. Nothing was written.")

    if mode not in ("append", "overwrite", "replace_partitions"):
        raise fail(f"unknown mode {mode!r}; use append, overwrite or replace_partitions")
    if files_per_partition < 1:
        raise fail(f"files_per_partition must be >= 1, got {files_per_partition}")
    fields = {field.name: field for field in df.schema}
    missing = [column for column in partition_by if column not in fields]
    if missing or len(set(partition_by)) != len(partition_by):
        raise fail(f"partition_by {partition_by} must name distinct columns of df ({missing} absent)")
    if len(partition_by) == len(fields):
        raise fail("at least one column must not be a partition column")
    bad_types = [f"{column} {fields[column].dataType.simpleString()}" for column in partition_by
                 if not isinstance(fields[column].dataType, _PARTITION_TYPES)]
    if bad_types:
        raise fail(f"partition columns must be string, date or integer, not {bad_types}")
    ntz = [field.name for field in df.schema if "timestamp_ntz" in field.dataType.simpleString()]
    if ntz:
        raise fail(f"columns {ntz} are TIMESTAMP_NTZ, which raises the table protocol to "
                   "reader 3/writer 7; cast them to timestamp (UTC)")
    if mode == "replace_partitions" and not partition_by:
        raise fail("replace_partitions needs partition columns; use overwrite")
    if replace_where is not None:
        if mode != "replace_partitions":
            raise fail(f"replace_where only applies to mode='replace_partitions', not {mode!r}")
        if not replace_where or set(replace_where) - set(partition_by):
            raise fail(f"replace_where keys {sorted(replace_where)} must be partition columns "
                       f"{partition_by}")
        for column, values in replace_where.items():
            strings = [_partition_string(value) for value in values]
            if not strings or not all(_SAFE_PARTITION_VALUE.fullmatch(s) for s in strings):
                raise fail(f"replace_where[{column!r}] = {strings} must be a non-empty list of "
                           "values made of [A-Za-z0-9_.-]")


def _conform_to_table(uri: str, df: DataFrame, snapshot: DeltaTable | None,
                      partition_by: list[str]) -> DataFrame:
    """Refuse files the table could not read back; order df's columns as the table's."""
    if snapshot is None:
        return df
    table_partitions = snapshot.metadata().partition_columns
    if partition_by != table_partitions:
        raise DeltaWriteError(f"Delta table {uri}: partition_by {partition_by} differs from the "
                              f"table's {table_partitions}. Nothing was written.")
    table_types = {f["name"]: f["type"] for f in json.loads(snapshot.schema().to_json())["fields"]}
    df_types = {f["name"]: f["type"] for f in json.loads(df.schema.json())["fields"]}
    if df_types != table_types:
        differences = [
            f"{name} (df {df_types.get(name, 'absent')}, table {table_types.get(name, 'absent')})"
            for name in sorted(set(df_types) | set(table_types))
            if df_types.get(name) != table_types.get(name)
        ]
        raise DeltaWriteError(f"Delta table {uri}: df's schema differs from the table's in "
                              f"{', '.join(differences)}. Cast or select the columns to match; "
                              "nothing was written.")
    return df.select(*table_types)


def _delta_schema(spark_schema: StructType) -> Schema:
    """The Delta schema of df: Delta serializes schemas exactly as Spark's JSON does.

    Every column is nullable, as Spark's own file writers make them: nullability inferred
    from one run's plan must not make the next run's files incompatible.
    """
    nullable = StructType([StructField(f.name, f.dataType, True, f.metadata) for f in spark_schema])
    return Schema.from_json(nullable.json())


def _stage(uri: str, df: DataFrame, staging_uri: str, partition_by: list[str],
           files_per_partition: int) -> None:
    """Spark writes the Parquet files, a few per partition, under the staging folder."""
    if not partition_by:
        spread = df.repartition(files_per_partition)
    elif files_per_partition == 1:
        spread = df.repartition(*partition_by)
    else:
        # A hash of the row, not rand(): a retried task must send rows to the same file.
        bucket = F.pmod(F.xxhash64(*df.columns), F.lit(files_per_partition))
        spread = df.repartition(*partition_by, bucket)
    try:
        spread.write.mode("errorifexists").partitionBy(*partition_by).parquet(staging_uri)
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DeltaWriteError(f"Delta table {uri}: Spark failed to write the data ({first_line}). "
                              "The table is unchanged; fix the input and rerun.") from err


def _list_staged(uri: str, fs: FileSystem, staging: str, partition_by: list[str]) -> list[_StagedFile]:
    """The data files Spark staged, with partition values read from their folder names."""
    staged: list[_StagedFile] = []
    refused: set[str] = set()
    for info in fs.get_file_info(FileSelector(staging, recursive=True)):
        relative = info.path[len(staging) + 1:]
        if info.type != FileType.File or posixpath.basename(relative).startswith(("_", ".")):
            continue  # _SUCCESS and .crc files
        *folders, _ = relative.split("/")
        columns = [folder.partition("=")[0] for folder in folders]
        if columns != partition_by:
            raise DeltaWriteError(f"Delta table {uri}: unexpected staged file {relative}; "
                                  "the table is unchanged.")
        values = {column: folder.partition("=")[2] for column, folder in zip(columns, folders)}
        for column, value in values.items():
            if value == _SPARK_NULL_PARTITION or not _SAFE_PARTITION_VALUE.fullmatch(value):
                shown = "null or empty" if value == _SPARK_NULL_PARTITION else repr(unquote(value))
                refused.add(f"{column}={shown}")
        staged.append(_StagedFile(info.path, relative, values, info.size,
                                  int(info.mtime.timestamp() * 1000)))
    if refused:
        raise DeltaWriteError(f"Delta table {uri}: partition values {sorted(refused)} are not made "
                              "of [A-Za-z0-9_.-]; clean them before writing. The table is unchanged.")
    return staged


def _commit_mode(uri: str, mode: WriteMode, partition_by: list[str],
                 replace_where: Mapping[str, Sequence[object]] | None,
                 staged: list[_StagedFile]) -> tuple[str, list[tuple[str, str, list[str]]] | None]:
    """delta-rs mode and partition filters: overwrite with filters replaces those partitions."""
    if mode != "replace_partitions":
        return mode, None
    present = {tuple(file.partition_values[column] for column in partition_by) for file in staged}
    if replace_where is not None:
        allowed = {column: {_partition_string(v) for v in values}
                   for column, values in replace_where.items()}
        outside = sorted(
            "/".join(f"{column}={value}" for column, value in zip(partition_by, key))
            for key in present
            if any(column in allowed and value not in allowed[column]
                   for column, value in zip(partition_by, key)))
        if outside:
            raise DeltaWriteError(f"Delta table {uri}: df has rows in {outside}, outside "
                                  f"replace_where {dict(replace_where)}; filter df or widen "
                                  "replace_where. The table is unchanged.")
        return "overwrite", [(column, "in", sorted(values)) for column, values in allowed.items()]
    if not present:
        return "append", None  # an empty df replaces nothing
    # delta-rs takes one conjunction of filters: the partitions must form a product.
    values = [sorted({key[i] for key in present}) for i in range(len(partition_by))]
    if len(present) != math.prod(len(v) for v in values):
        raise DeltaWriteError(f"Delta table {uri}: the partitions in df {sorted(present)} are not "
                              "every combination of their values, which one commit cannot "
                              "replace; pass replace_where or split the write. The table is unchanged.")
    return "overwrite", [(column, "in", v) for column, v in zip(partition_by, values)]


def _add_action(uri: str, fs: FileSystem, file: _StagedFile, data_types: dict[str, object]) -> AddAction:
    """An add action whose stats come from the Parquet footer (they drive file skipping)."""
    metadata = pq.read_metadata(file.fs_path, filesystem=fs)
    file_types = {f["name"]: f["type"] for f in
                  json.loads(Schema.from_arrow(metadata.schema.to_arrow_schema()).to_json())["fields"]}
    if file_types != data_types:
        differences = sorted(name for name in set(file_types) | set(data_types)
                             if file_types.get(name) != data_types.get(name))
        raise DeltaWriteError(
            f"Delta table {uri}: Spark wrote {file.relative_path} with columns {differences} "
            f"typed {[file_types.get(n) for n in differences]} instead of "
            f"{[data_types.get(n) for n in differences]}; build the session with "
            "jobs.spark.get_spark (UTC, TIMESTAMP_MICROS). The table is unchanged.")
    return AddAction(file.relative_path, file.size, file.partition_values, file.mtime_ms,
                     True, _stats_json(metadata))


def _stats_json(metadata: pq.FileMetaData) -> str:
    """numRecords, minValues, maxValues, nullCount of the top-level columns that have them."""
    minimums: dict[str, object] = {}
    maximums: dict[str, object] = {}
    null_counts: dict[str, int] = {}
    row_groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    for index in range(metadata.num_columns):
        name = metadata.schema.column(index).path
        statistics = [group.column(index).statistics for group in row_groups]
        if "." in name or not statistics or any(s is None for s in statistics):
            continue  # nested or unrecorded: no stats is valid, the file is never skipped
        if all(s.has_null_count for s in statistics):
            null_counts[name] = sum(s.null_count for s in statistics)
        # A row group without min/max is fine only when it holds no values at all.
        if any(not s.has_min_max and s.num_values > 0 for s in statistics):
            continue
        bounded = [s for s in statistics if s.has_min_max]
        if bounded:
            low = _stat_value(min(s.min for s in bounded), is_max=False)
            high = _stat_value(max(s.max for s in bounded), is_max=True)
            if low is not None:
                minimums[name] = low
            if high is not None:
                maximums[name] = high
    return json.dumps({"numRecords": metadata.num_rows, "minValues": minimums,
                       "maxValues": maximums, "nullCount": null_counts})


def _stat_value(value: object, *, is_max: bool) -> object | None:
    """A footer statistic as Delta writes it in JSON, or None when it cannot be exact."""
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value) if len(value.as_tuple().digits) <= _FLOAT_EXACT_DIGITS else None
    if isinstance(value, datetime):
        # The protocol stores timestamps truncated to milliseconds; readers widen the max.
        utc = value.astimezone(timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        if len(value) <= _STRING_STATS_PREFIX:
            return value
        return None if is_max else value[:_STRING_STATS_PREFIX]
    return None  # binary and other types: no stats


def _check_adds(uri: str, fs: FileSystem, root: str, adds: list[AddAction],
                partition_by: list[str]) -> None:
    """delta-rs commits missing files or wrong partition values silently: check them here."""
    infos = fs.get_file_info([f"{root}/{add.path}" for add in adds])
    for add, info in zip(adds, infos):
        folders = [f"{column}={add.partition_values[column]}" for column in partition_by]
        if (add.path.startswith("/") or ".." in add.path.split("/")
                or add.path.split("/")[:-1] != folders
                or info.type != FileType.File or info.size != add.size):
            raise DeltaWriteError(f"Delta table {uri}: file {add.path} is missing, outside the "
                                  f"table or disagrees with partition values {add.partition_values}; "
                                  "nothing was committed.")


def _app_version(snapshot: DeltaTable | None) -> int:
    """Epoch milliseconds, kept above the last version so the marker always increases."""
    previous = snapshot.transaction_version(APP_ID) if snapshot is not None else None
    return max(int(time.time() * 1000), (previous or -1) + 1)


def _commit(uri: str, snapshot: DeltaTable | None, schema: Schema, adds: list[AddAction],
            mode: str, filters: list[tuple[str, str, list[str]]] | None,
            partition_by: list[str], properties: CommitProperties) -> None:
    try:
        if snapshot is None:
            create_table_with_add_actions(uri, schema, adds, mode="error",
                                          partition_by=partition_by, commit_properties=properties)
        else:
            snapshot.create_write_transaction(adds, mode=mode, schema=schema,
                                              partition_by=partition_by, partition_filters=filters,
                                              commit_properties=properties)
    except CommitFailedError as err:
        raise ConcurrentWriteError(f"Delta table {uri}: another writer committed a conflicting "
                                   f"change first ({err}). The table is unchanged by this write; "
                                   "rerun it.") from err
    except DeltaError as err:
        if snapshot is None and DeltaTable.is_deltatable(uri):
            raise ConcurrentWriteError(f"Delta table {uri}: another writer created the table "
                                       "first. This write left it unchanged; rerun it.") from err
        raise DeltaWriteError(f"Delta table {uri}: the commit failed ({err}). The table is "
                              "unchanged; rerun the write.") from err


def _find_commit(uri: str, write_id: str, since: int) -> int | None:
    """The version committed by write_id after version `since` (delta-rs returns none)."""
    if not DeltaTable.is_deltatable(uri):
        return None
    latest = DeltaTable(uri)
    if latest.version() <= since:
        return None
    for commit in latest.history(limit=latest.version() - since):
        if commit.get("write_id") == write_id:
            return commit["version"]
    return None
