"""A run's outputs, published as one set: the ledger of runs is the publish marker.

Delta commits one table at a time; a month's outputs (features, scores, targets,
quarantine; or the monitoring tables) must nevertheless change together for whoever reads
them. A run therefore:

1. **claims** its job and month: it appends a `running` row to its ledger (`runs`, or
   `monitoring_runs`) carrying Delta's transaction identifier (txnAppId = job and month,
   txnVersion = one above any version recorded for them). Two runs that start together
   compute the same version: Delta records the first claim and skips (or refuses) the
   second, which stops before computing anything. A run that finds an *older* unfinished
   claim still alive (same host and process, or another host within
   `delta.run_lease_hours`) stops too; an older claim whose process is gone is recovered:
   the tables it committed are rolled back (Delta RESTORE when its commit is the table's
   last, else its month's partitions are copied back from the version before it) and a
   `failed` row records it;
2. computes everything, then **commits** each table (`replaceWhere` on its month; the
   tables at the same time, each its own Delta transaction), every commit carrying the
   same transaction identifier, so that a run presumed dead and replaced can no longer
   commit over its successor;
3. **publishes** a `succeeded` row recording the version of every table it committed. A
   run that fails undoes its own commits and records a `failed` row with the reason.

Readers (`read_published` here, `dmde show`, the monitoring, the report) read each table at
the version the latest succeeded run of the month recorded whenever a later commit of that
month exists (a run in progress, or one that died before publishing): they never see half
a run.
"""
from __future__ import annotations

import functools
import os
import signal
import socket
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pyspark import inheritable_thread_target
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from domain.errors import DmdeError
from jobs.lib import delta
from jobs.lib.config import Config

FAILPOINT = "DMDE_FAILPOINT"  # e.g. after_commit:scores: the process kills itself there (fault tests)
LEDGER_CORE = ("run_id string, job string, score_month date, status string, claim long, host string, "
               "pid long, pid_started long, started_at timestamp, finished_at timestamp, "
               "table_versions map<string,long>, output_rows map<string,long>, message string")


# The ledger of `dmde score` and `dmde calibrate` (BI reads it: one row per claim and per outcome).
RUNS_SCHEMA = (LEDGER_CORE + ", model_version string, code_version string, households_scored long, "
               "households_eligible long, rows_read map<string,long>, "
               "rows_used map<string,long>, rows_quarantined map<string,long>, stage_seconds map<string,double>")

# The ledger of `dmde monitor` (MONITORING.md §0): what the month's tables were computed from,
# how many rows each has and how many of them are suppressed; the report reads its header here.
MONITORING_RUNS_SCHEMA = (LEDGER_CORE + ", model_version string, code_version string, data_origin string, "
                          "window_start date, window_end date, window_months_available int, "
                          "months_read array<date>, households_scored long, dmde_controls_month long, "
                          "dmde_controls_window long, opbd_controls_window long, "
                          "suppressed_rows map<string,long>, cells_tested long, flagged_rows map<string,long>, "
                          "stage_seconds map<string,double>")


class RunConflictError(DmdeError):
    """Another run of the same job and month holds it: this run wrote nothing."""


class SupersededError(DmdeError):
    """This run was presumed dead and replaced by a newer run of its month."""


def _process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a live process
    from a later one that reused its pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Publication:
    """One run of `job` for `month`, recorded in `ledger`, writing each table of `scope`
    over the rows its predicate selects (a month's partitions, the same for every run of
    this job and month)."""

    spark: SparkSession
    config: Config
    ledger: str
    schema: str  # the ledger's DDL (LEDGER_CORE first)
    job: str
    month: date
    run_id: str
    scope: Mapping[str, Mapping[str, Sequence[object]]]  # table -> {column: values} it replaces
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    claim: int | None = None
    committed: dict[str, delta.Commit] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def app_id(self) -> str:
        return f"dmde-{self.job}-{self.month:%Y-%m}"

    @property
    def tables(self) -> list[str]:
        return list(self.scope)

    def _path(self, name: str) -> str:
        return self.config.output_path(name)

    # --- 1. claim and recover ---------------------------------------------------------

    def begin(self) -> Publication:
        self._claim(self._next_claim())
        self._recover()
        return self

    def _next_claim(self) -> int:
        """One above every transaction version Delta recorded for this job and month."""
        recorded = [delta.transaction_version(self._path(t), self.app_id) for t in (self.ledger, *self.tables)]
        return 1 + max((v for v in recorded if v is not None), default=0)

    def _claim(self, number: int) -> None:
        self.claim = number
        row = self._row("running", message=None)
        try:
            version = self._append(row, txn=(self.app_id, self.claim))
        except delta.ConcurrentWriteError:
            version = None
        if version is None:
            self._append(self._row("failed", message="another run of the same month claimed it at the same "
                                                     "moment; this run wrote nothing"))
            raise RunConflictError(
                f"another {self.job} run of {self.month:%Y-%m} started at the same moment and claimed the month "
                f"first (Delta recorded its claim, not this one's): this run stopped and wrote nothing. Its "
                f"outcome is in {self._path(self.ledger)}.")

    def _ledger_rows(self) -> list[Any]:
        if not delta.exists(self._path(self.ledger)):
            return []
        rows = delta.read(self.spark, self._path(self.ledger)).where(
            (F.col("job") == self.job) & (F.col("score_month") == F.lit(self.month)))
        return rows.select("run_id", "status", "claim", "host", "pid", "pid_started", "started_at").collect()

    def _recover(self) -> None:
        """Older claims of this job and month without an outcome: alive, they hold the
        month (this run stops); dead, their commits are rolled back and recorded."""
        rows = self._ledger_rows()
        finished = {r.run_id for r in rows if r.status != "running"}
        stale = [r for r in rows if r.status == "running" and r.run_id not in finished
                 and r.run_id != self.run_id and (r.claim or 0) < (self.claim or 0)]
        for other in stale:
            if self._alive(other):
                message = (f"run {other.run_id} of {self.month:%Y-%m} is still running (host {other.host}, process "
                           f"{other.pid}, started {other.started_at:%Y-%m-%d %H:%M} UTC)")
                self._append(self._row("failed", message=f"{message}; this run wrote nothing"))
                raise RunConflictError(f"{message}: this run stopped and wrote nothing. Wait for it to finish (its "
                                       f"outcome will be in {self._path(self.ledger)}), or stop it and rerun.")
            undone = self._undo(other.run_id)
            what = f"rolled back {', '.join(undone)}" if undone else "it had committed nothing"
            self._append(self._row("failed", run_id=other.run_id, claim=other.claim, message=(
                f"interrupted before publishing (process gone); {what}; recovered by run {self.run_id}")))
            self.notes.append(f"run {other.run_id} of {self.month:%Y-%m} had stopped without publishing: {what}.")

    def _alive(self, claim: Any) -> bool:
        if claim.host == socket.gethostname():
            start = _process_start(claim.pid) if claim.pid else None
            return start is not None and (claim.pid_started is None or start == claim.pid_started)
        lease = timedelta(hours=self.config.delta.run_lease_hours)
        return datetime.now(timezone.utc) - claim.started_at.replace(tzinfo=timezone.utc) < lease

    def _undo(self, run_id: str) -> list[str]:
        """Roll back every commit of `run_id` in this job's tables; the tables touched."""
        undone = []
        for table in self.tables:
            path = self._path(table)
            if not delta.exists(path):
                continue
            commits = delta.history(path)
            own = [c["version"] for c in commits if c["meta"].get("run_id") == run_id]
            if not own:
                continue
            before = min(own) - 1
            if max(c["version"] for c in commits) == max(own) and len(own) == 1:
                delta.restore(self.spark, path, before)  # its commit is the last: Delta RESTORE
            else:
                self._copy_back(table, before, run_id)  # later commits by other months: its rows only
            undone.append(table)
        return undone

    def _copy_back(self, table: str, before: int, run_id: str) -> None:
        """The rows of this run's scope in `table` as they were at version `before`."""
        path, scope = self._path(table), self.scope[table]
        rows = delta.read(self.spark, path, version=before)
        for column, values in scope.items():
            rows = rows.where(F.col(column).isin(*[F.lit(v) for v in values]))
        delta.write(rows.localCheckpoint(), path, partition_by=self.config.partition_by(table), mode="overwrite",
                    replace=scope, run_id=f"{self.run_id}/rollback-of/{run_id}",
                    operation=f"ROLLBACK {self.job} {self.month:%Y-%m}", meta={"score_month": str(self.month)})

    # --- 2. commit ----------------------------------------------------------------------

    def commit(self, frames: Mapping[str, DataFrame], row: Mapping[str, object], progress=None, *,
               meta: Mapping[str, Mapping[str, object]] | None = None) -> dict:
        """Commit every table of the scope (each over its scope's rows, with `meta[table]`
        added to its commit's metadata), then publish `row` (the ledger's other columns) as
        succeeded; the published row.

        The tables are written at the same time, each from its own thread (one Spark job
        and one Delta transaction per table): a table's driver-side work (Delta's log,
        its commit) overlaps the other tables' tasks. When a write fails, the others are
        waited for, then the first error is raised (and `fail` rolls back what committed).
        """
        with ThreadPoolExecutor(max_workers=len(frames) or 1, thread_name_prefix="dmde-commit") as pool:
            writes = [pool.submit(inheritable_thread_target(self._commit_table), table, df, progress,
                                  (meta or {}).get(table, {}))
                      for table, df in frames.items()]
            errors = [error for error in (w.exception() for w in writes) if error is not None]
        if errors:
            raise errors[0]
        if self._has_outcome():
            raise SupersededError(f"run {self.run_id} was presumed dead and recorded as failed by a newer run of "
                                  f"{self.month:%Y-%m}; its commits are not published.")
        published = {**self._row("succeeded", message=None), **row,
                     "table_versions": {table: commit.version for table, commit in self.committed.items()},
                     "output_rows": {table: commit.rows for table, commit in self.committed.items()}}
        self._append(published)
        _failpoint("after_publish")
        return published

    def _commit_table(self, table: str, df: DataFrame, progress, meta: Mapping[str, object]) -> None:
        started = time.perf_counter()
        commit = delta.write(
            df, self._path(table), partition_by=self.config.partition_by(table), mode="overwrite",
            replace=self.scope[table], run_id=self.run_id, operation=f"{self.job.upper()} {self.month:%Y-%m}",
            meta={"score_month": str(self.month), **meta}, txn=(self.app_id, self.claim),
            **table_options(self.config, table))
        if commit is None:
            raise SupersededError(
                f"run {self.run_id} was presumed dead and replaced by a newer {self.job} run of "
                f"{self.month:%Y-%m} (Delta refused its commit to {table}); it stops here.")
        self.committed[table] = commit
        if progress is not None:
            rows = f", {commit.rows:,} rows" if commit.rows is not None else ""
            progress.say(f"committed {table} (version {commit.version}{rows}) in "
                         f"{time.perf_counter() - started:.1f} s")
        _failpoint(f"after_commit:{table}")

    def _has_outcome(self) -> bool:
        return any(r.run_id == self.run_id and r.status != "running" for r in self._ledger_rows())

    # --- 3. failure ---------------------------------------------------------------------

    def fail(self, error: BaseException) -> None:
        """Undo this run's commits and record it as failed (never raises over `error`)."""
        try:
            undone = self._undo(self.run_id) if self.committed else []
            reason = str(error).strip().splitlines()[0][:500] if str(error).strip() else type(error).__name__
            suffix = f" (rolled back {', '.join(undone)})" if undone else ""
            self._append(self._row("failed", message=f"{type(error).__name__}: {reason}{suffix}"))
        except Exception as err:  # noqa: BLE001 - the original error is what the user must see
            self.notes.append(f"could not record the failure in {self.ledger}: {err}")

    def __enter__(self) -> Publication:
        return self.begin()

    def __exit__(self, kind, error, _traceback) -> None:
        if error is not None and not isinstance(error, RunConflictError):
            self.fail(error)

    # --- the ledger -----------------------------------------------------------------------

    def _row(self, status: str, *, message: str | None, run_id: str | None = None,
             claim: int | None = None) -> dict:
        return {"run_id": run_id or self.run_id, "job": self.job, "score_month": self.month, "status": status,
                "claim": claim if claim is not None else self.claim, "host": socket.gethostname(),
                "pid": os.getpid(), "pid_started": _process_start(os.getpid()), "started_at": self.started_at,
                "finished_at": None if status == "running" else datetime.now(timezone.utc),
                "table_versions": {}, "output_rows": {}, "message": message}

    def _append(self, row: Mapping[str, object], txn: tuple[str, int] | None = None) -> int | None:
        df = self.spark.createDataFrame([dict(row)], self.schema)
        commit = delta.write(df, self._path(self.ledger), partition_by=self.config.partition_by(self.ledger),
                           mode="append", run_id=self.run_id, operation=f"{self.job.upper()} {self.month:%Y-%m}",
                           meta={"score_month": str(self.month)}, txn=txn, **table_options(self.config, self.ledger))
        return commit.version if commit is not None else None


def _failpoint(name: str) -> None:
    """Fault tests stop the process here, as `kill -9` would (no cleanup, no exception)."""
    if os.environ.get(FAILPOINT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


# Table properties and CHECK constraints set when a table is created.
CONSTRAINTS = {
    "scores": {"score_in_unit_interval": "score > 0 AND score < 1",
               "rank_positive": "rank_in_caf >= 1"},
    "targets": {"target_rank_within_capacity": "target_rank >= 1 AND target_rank <= capacity"},
}
APPEND_ONLY = {"runs", "monitoring_runs"}


def table_options(config: Config, table: str) -> dict:
    properties = {"delta.logRetentionDuration": config.delta.log_retention,
                  "delta.deletedFileRetentionDuration": config.delta.deleted_file_retention}
    if table in APPEND_ONLY:
        properties["delta.appendOnly"] = "true"
    if table in config.delta.stats_columns:
        properties["delta.dataSkippingStatsColumns"] = ",".join(config.delta.stats_columns[table])
    return {"properties": properties, "constraints": CONSTRAINTS.get(table, {})}


# ---------------------------------------------------------------------------------------
# Readers


def published_run(spark: SparkSession, config: Config, ledger: str, month: date, job: str) -> Any | None:
    """The latest succeeded run of `job` for `month` (a Row), or None."""
    path = config.output_path(ledger)
    if not delta.exists(path):
        return None
    runs = delta.read(spark, path).where((F.col("job") == job) & (F.col("score_month") == F.lit(month))
                                         & (F.col("status") == "succeeded"))
    return runs.orderBy(F.col("finished_at").desc(), F.col("claim").desc()).first()


def version_to_read(path: str, published_version: int, month: date) -> int | None:
    """None (the latest version) unless a commit of `month` came after the published one
    (a run in progress, or one that died before publishing): then the published version."""
    later = [c for c in delta.history(path) if c["version"] > published_version
             and c["meta"].get("score_month") == str(month)]
    return published_version if later else None


def read_published(spark: SparkSession, config: Config, table: str, month: date, *, ledger: str = "runs",
                   job: str = "score") -> DataFrame:
    """A month's rows of an output table, as the latest succeeded run published them."""
    run = published_run(spark, config, ledger, month, job)
    if run is None or table not in (run.table_versions or {}):
        raise DmdeError(f"{month:%Y-%m} has no published {job} run in {config.data_dir}: run "
                        f"`dmde {job} --month {month:%Y-%m} --data-dir {config.data_dir}` first.")
    path = config.output_path(table)
    version = version_to_read(path, run.table_versions[table], month)
    return delta.read(spark, path, version=version, where={"score_month": [month]})


def published_runs(spark: SparkSession, config: Config, ledger: str, job: str) -> dict[date, Any]:
    """{month: the latest succeeded run of `job` for it (a Row)}, for every month that has one."""
    path = config.output_path(ledger)
    if not delta.exists(path):
        return {}
    rows = (delta.read(spark, path).where((F.col("job") == job) & (F.col("status") == "succeeded"))
            .orderBy("score_month", "finished_at", "claim").collect())  # one row per run: bounded
    return {row.score_month: row for row in rows}  # the latest of each month wins


def read_published_months(spark: SparkSession, config: Config, table: str, runs: Mapping[date, Any]
                          ) -> DataFrame | None:
    """The rows of several months of `table`, each month as its run (of `runs`) published
    it, in one read per table version; None when `runs` is empty."""
    path = config.output_path(table)
    by_version: dict[int | None, list[date]] = {}
    for month, run in sorted(runs.items()):
        by_version.setdefault(version_to_read(path, run.table_versions[table], month), []).append(month)
    frames = [delta.read(spark, path, version=v, where={"score_month": months}) for v, months in by_version.items()]
    return functools.reduce(DataFrame.unionByName, frames) if frames else None


# --- the same, without Spark (dmde show, the report) -----------------------------------


def published_ledger_row(config: Config, ledger: str, month: date, job: str) -> dict | None:
    """The ledger row of the latest succeeded run of `job` for `month`, read with polars
    (maps as dicts); None when the month has none."""
    import polars as pl

    path = config.output_path(ledger)
    if not delta.exists(path):
        return None
    runs = (pl.scan_delta(path)
            .filter((pl.col("job") == job) & (pl.col("score_month") == month) & (pl.col("status") == "succeeded"))
            .sort(["finished_at", "claim"], descending=True).head(1).collect())
    if runs.is_empty():
        return None
    row = runs.row(0, named=True)
    # polars reads a Delta map as a list of {key, value} structs
    return {name: _as_dict(value) if name in _MAP_COLUMNS else value for name, value in row.items()}


_MAP_COLUMNS = {"table_versions", "output_rows", "rows_read", "rows_used", "rows_quarantined", "stage_seconds",
                "suppressed_rows", "flagged_rows"}


def _as_dict(value) -> dict:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return {item["key"]: item["value"] for item in value}


def published_versions(config: Config, ledger: str, month: date, job: str) -> dict[str, int] | None:
    """{table: version} of the latest succeeded run of `job` for `month`, read with polars;
    None when the month has none."""
    row = published_ledger_row(config, ledger, month, job)
    return None if row is None else row["table_versions"]


def scan_published(config: Config, table: str, month: date, versions: Mapping[str, int]):
    """A polars LazyFrame of the month's rows of `table`, as published (see read_published)."""
    import polars as pl

    path = config.output_path(table)
    version = version_to_read(path, versions[table], month)
    return pl.scan_delta(path, version=version).filter(pl.col("score_month") == month)
