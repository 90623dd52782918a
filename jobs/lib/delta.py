"""The one Delta layer: Delta Lake's own Spark integration (delta-spark) for every write and
every Spark read; delta-rs for what needs only the log (existence, versions, history, row
counts from file statistics), so that no Spark job is started for them.

Every commit carries its run in `userMetadata` (JSON: run_id, operation, write_id, and the
score month when there is one), readable by `DESCRIBE HISTORY` and by `history()` here.
A write may carry a transaction identifier (Delta's idempotent writes, `txnAppId` /
`txnVersion`): Delta skips a write whose version is not above the last one recorded for
that application, which is how a run is fenced off once another run of its month took over.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Literal, NamedTuple

import pyarrow as pa
from deltalake import DeltaTable as LogTable
from deltalake.exceptions import TableNotFoundError
from py4j.protocol import Py4JJavaError
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from domain.errors import DmdeError

Mode = Literal["append", "overwrite"]


class Commit(NamedTuple):
    version: int
    rows: int | None  # rows written (Delta's numOutputRows)


class DeltaWriteError(DmdeError):
    """A write failed; the table is as it was before the write."""


class ConcurrentWriteError(DeltaWriteError):
    """Another writer committed a conflicting change first (Delta's conflict detection)."""


def _conflict_types() -> tuple[type[BaseException], ...]:
    from delta.exceptions import captured
    return tuple(getattr(captured, name) for name in (
        "ConcurrentAppendException", "ConcurrentDeleteReadException", "ConcurrentDeleteDeleteException",
        "MetadataChangedException", "ProtocolChangedException", "ConcurrentTransactionException",
        "ConcurrentWriteException") if hasattr(captured, name))


# ---------------------------------------------------------------------------------------
# The log, without Spark (delta-rs)


def exists(path: str) -> bool:
    return LogTable.is_deltatable(path)


def version(path: str) -> int | None:
    """The latest committed version, None when there is no table."""
    return LogTable(path).version() if exists(path) else None


def _log(path: str, version: int | None = None) -> LogTable:
    try:
        return LogTable(path, version=version)
    except TableNotFoundError as err:
        raise FileNotFoundError(f"No Delta table at {path}.") from err


def row_count(path: str, version: int | None = None) -> int:
    """Rows of the table from the numRecords statistics of its live files: no data is read."""
    actions = _log(path, version).get_add_actions(flatten=True)
    counts = pa.table(actions).column("num_records").to_pylist() if actions.num_rows else []
    if any(count is None for count in counts):
        raise DeltaWriteError(f"Delta table {path}: a file has no numRecords statistics; count with read().")
    return int(sum(counts))


def partition_values(path: str, column: str) -> set:
    """The values of a partition column among the live files (read from the log)."""
    actions = pa.table(_log(path).get_add_actions(flatten=True))
    name = f"partition.{column}"
    if name not in actions.column_names:
        raise ValueError(f"Delta table {path}: {column} is not a partition column.")
    return {v for v in actions.column(name).to_pylist() if v is not None}


def live_files(path: str, version: int | None = None) -> list[dict]:
    """Every live file of the table at `version` (default: the latest), from the log: its
    `path`, partition values (`partition.<column>`) and statistics (`min.<column>`,
    `max.<column>`). Files are immutable: a changed set of files is a changed content."""
    return pa.table(_log(path, version).get_add_actions(flatten=True)).to_pylist()


def max_partition_value(path: str, column: str) -> object | None:
    """The largest value of a partition column among the live files (read from the log)."""
    return max(partition_values(path, column), default=None)


def history(path: str, limit: int | None = None) -> list[dict]:
    """Commits, newest first, each with `meta`: the parsed userMetadata of our writes ({}
    for a commit made by anything else)."""
    commits = _log(path).history(limit)
    for commit in commits:
        try:
            commit["meta"] = json.loads(commit.get("userMetadata") or "{}")
        except (TypeError, ValueError):
            commit["meta"] = {}
    return commits


def transaction_version(path: str, app_id: str) -> int | None:
    """The last txnVersion Delta recorded for an application in this table."""
    return _log(path).transaction_version(app_id) if exists(path) else None


# ---------------------------------------------------------------------------------------
# Reading and writing with Spark


def read(spark: SparkSession, path: str, *, version: int | None = None,
         where: Mapping[str, Sequence[object]] | None = None) -> DataFrame:
    """The table (at `version`), keeping only the given partition values, which Delta
    prunes from its log before any file is read."""
    if not exists(path):
        raise FileNotFoundError(f"No Delta table at {path}.")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    df = reader.load(path)
    for column, values in (where or {}).items():
        df = df.where(F.col(column).isin(*[F.lit(v) for v in values]))
    return df


def predicate(where: Mapping[str, Sequence[object]]) -> str:
    """A SQL predicate selecting the given values of the given columns."""
    def literal(value: object) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, (date, datetime)):
            return f"'{value.isoformat()}'"
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    if not where or any(not values for values in where.values()):
        raise ValueError(f"a replace predicate needs at least one value per column, got {dict(where)}")
    return " AND ".join(f"`{column}` IN ({', '.join(literal(v) for v in values)})"
                        for column, values in where.items())


def write(df: DataFrame, path: str, *, partition_by: Sequence[str], mode: Mode, run_id: str, operation: str,
          replace: Mapping[str, Sequence[object]] | None = None, meta: Mapping[str, object] | None = None,
          txn: tuple[str, int] | None = None, properties: Mapping[str, str] | None = None,
          constraints: Mapping[str, str] | None = None) -> Commit | None:
    """Write df as ONE Delta commit; its version and rows, or None when Delta skipped the
    write because `txn` (app id, version) is not above the version it recorded for that app.

    overwrite replaces the whole table, or only the rows that `replace` selects (a
    partition, or partitions and values of other columns): every row of df must fall
    inside it. A new table is created first with its `properties` and CHECK `constraints`.
    """
    write_id = uuid.uuid4().hex
    metadata = json.dumps({"run_id": run_id, "operation": operation, "write_id": write_id, **(meta or {})},
                          default=str)
    if not exists(path):
        _create(df.sparkSession, path, df.schema, partition_by, properties or {}, constraints or {})
    elif properties:
        _align_properties(df.sparkSession, path, properties)
    since = version(path)
    writer = df.write.format("delta").mode(mode).partitionBy(*partition_by).option("userMetadata", metadata)
    if replace is not None:
        if mode != "overwrite":
            raise ValueError("replace applies to mode='overwrite'")
        writer = writer.option("replaceWhere", predicate(replace))
    if txn is not None:
        writer = writer.option("txnAppId", txn[0]).option("txnVersion", txn[1])
    try:
        writer.save(path)
    except _conflict_types() as err:
        raise ConcurrentWriteError(f"Delta table {path}: another writer committed a conflicting change first "
                                   f"({_first_line(err)}). This write changed nothing.") from err
    except (AnalysisException, Py4JJavaError, OSError) as err:
        raise _write_error(path, err) from err
    return _commit_of(path, write_id, since)


def _create(spark: SparkSession, path: str, schema: StructType, partition_by: Sequence[str],
            properties: Mapping[str, str], constraints: Mapping[str, str]) -> None:
    """An empty table with its schema (every column nullable: one run's plan must not make
    the next run's rows incompatible), partitions, properties and constraints."""
    from delta.tables import DeltaTable

    builder = (DeltaTable.createIfNotExists(spark).location(path)
               .addColumns(StructType([StructField(f.name, f.dataType, True) for f in schema]))
               .partitionedBy(*partition_by))
    for key, value in properties.items():
        builder = builder.property(key, value)
    with _metadata_change(path, "created it at the same time"):
        builder.execute()
        for name, check in constraints.items():
            spark.sql(f"ALTER TABLE delta.`{path}` ADD CONSTRAINT {name} CHECK ({check})")


@contextmanager
def _metadata_change(path: str, conflict: str) -> Iterator[None]:
    """A change of the table's metadata, its errors said as `write`'s are: another writer's
    conflicting change (`conflict`: what it did) or an unwritable folder."""
    try:
        yield
    except _conflict_types() as err:
        raise ConcurrentWriteError(f"Delta table {path}: another writer {conflict} "
                                   f"({_first_line(err)}); rerun.") from err
    except (AnalysisException, Py4JJavaError, OSError) as err:
        raise _write_error(path, err) from err


def _align_properties(spark: SparkSession, path: str, properties: Mapping[str, str]) -> None:
    """Set the table properties that differ from `properties` (a table created before its
    configuration changed): one metadata commit, the first time only."""
    current = _log(path).metadata().configuration
    changed = {key: value for key, value in properties.items() if current.get(key) != value}
    if not changed:
        return
    assignments = ", ".join(f"'{key}' = '{value}'" for key, value in changed.items())
    with _metadata_change(path, "changed it while its properties were being set"):
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({assignments})")


def _commit_of(path: str, write_id: str, since: int) -> Commit | None:
    """The commit of `write_id` made after version `since`, if any."""
    latest = version(path)
    for commit in history(path, max(1, latest - since)):
        if commit["meta"].get("write_id") == write_id:
            metrics = commit.get("operationMetrics") or {}
            rows = metrics.get("numOutputRows", "0" if metrics.get("numFiles") == "0" else None)
            return Commit(commit["version"], int(rows) if rows is not None else None)
    return None


STORAGE_PROBLEMS = ("No space left on device", "Read-only file system", "Permission denied", "Disk quota exceeded")


def _write_error(path: str, err: BaseException) -> DeltaWriteError:
    """What a failed write tells the person who runs the job: the storage's own words when
    the storage refused it (a full disk, a read-only folder), else Delta's."""
    text = _full_text(err)
    for problem in STORAGE_PROBLEMS:
        if problem in text:
            return DeltaWriteError(
                f"Delta table {path}: cannot write there: {problem}. Nothing of this write was committed, and "
                f"readers still see each month as its last successful run published it. What to do: free space "
                f"(or make the folder writable) and rerun; the rerun rolls back whatever this run committed.")
    return DeltaWriteError(f"Delta table {path}: Delta refused the write ({_first_line(err)}). "
                           "The table is unchanged.")


def _full_text(err: BaseException) -> str:
    if isinstance(err, Py4JJavaError):
        try:
            return str(err.java_exception.toString()) + "\n" + str(err)
        except Exception:  # noqa: BLE001 - the gateway may be gone
            return str(err)
    return str(err)


def _first_line(err: BaseException) -> str:
    """The error's first meaningful line (for a Java error, the Java exception's message)."""
    if isinstance(err, Py4JJavaError):
        text = str(err.java_exception.getMessage() or err.java_exception.toString())
    else:
        text = str(err)
    text = text.strip()
    return text.splitlines()[0][:400] if text else type(err).__name__


# ---------------------------------------------------------------------------------------
# Maintenance


def restore(spark: SparkSession, path: str, to_version: int) -> None:
    """RESTORE the whole table to an earlier version (a new commit)."""
    spark.sql(f"RESTORE TABLE delta.`{path}` TO VERSION AS OF {int(to_version)}")


def optimize(spark: SparkSession, path: str) -> DataFrame:
    """Compact small files (OPTIMIZE); returns Delta's metrics row."""
    return spark.sql(f"OPTIMIZE delta.`{path}`")


def vacuum(spark: SparkSession, path: str, retain_hours: int, *, dry_run: bool = False) -> DataFrame:
    """Remove the files no version within the retention references (VACUUM), including the
    files of writes that crashed before their commit; with dry_run, only list them."""
    return spark.sql(f"VACUUM delta.`{path}` RETAIN {int(retain_hours)} HOURS{' DRY RUN' if dry_run else ''}")


def properties(spark: SparkSession, path: str, values: Mapping[str, str]) -> None:
    if values:
        assignments = ", ".join(f"'{key}' = '{value}'" for key, value in values.items())
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({assignments})")
