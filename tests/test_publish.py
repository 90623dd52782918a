"""jobs/lib/publish.py: a run's tables change together for readers; a run that dies or fails
leaves them as they were; two runs of a month never both publish."""
from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import functions as F

from jobs.lib import delta
from jobs.lib.config import load_config
from jobs.lib.publish import (
    RUNS_SCHEMA, Publication, RunConflictError, published_versions, read_published, scan_published,
)

M = date(2026, 2, 1)
OTHER = date(2026, 3, 1)


@pytest.fixture
def config(tmp_path):
    return load_config(env="local", overrides={"data_dir": str(tmp_path)})


def frames(spark, month, value):
    """Two tiny output tables of one month, both carrying `value`."""
    rows = [("59", month, f"h{i}", value, i + 1) for i in range(3)]
    df = spark.createDataFrame(rows, "caf string, score_month date, household_id string, score double, "
                                     "rank_in_caf int")
    targets = df.where(F.col("household_id") == "h0").select("*", F.lit(1).alias("target_rank"),
                                                             F.lit(5).alias("capacity"))
    return {"scores": df, "targets": targets}


def publication(spark, config, month=M, run_id="run-1", job="score"):
    return Publication(spark, config, "runs", RUNS_SCHEMA, job, month, run_id,
                       scope={"scores": {"score_month": [month]}, "targets": {"score_month": [month]}})


def publish(spark, config, month, value, run_id):
    with publication(spark, config, month, run_id) as run:
        run.commit(frames(spark, month, value), {})


def scores_of(spark, config, month=M):
    return sorted(r.score for r in read_published(spark, config, "scores", month).collect())


def ledger(spark, config):
    return {(r.run_id, r.status): r for r in delta.read(spark, config.output_path("runs")).collect()}


def test_a_published_run_records_the_version_of_every_table(spark, config):
    publish(spark, config, M, 0.25, "run-1")
    versions = published_versions(config, "runs", M, "score")
    assert set(versions) == {"scores", "targets"}
    assert versions["scores"] == delta.version(config.output_path("scores"))
    assert scores_of(spark, config) == [0.25] * 3
    assert scan_published(config, "targets", M, versions).collect().height == 1
    rows = ledger(spark, config)
    assert rows[("run-1", "succeeded")].output_rows == {"scores": 3, "targets": 1}
    assert ("run-1", "running") in rows  # the claim


def test_a_failure_after_a_commit_rolls_it_back_and_is_recorded(spark, config):
    publish(spark, config, M, 0.25, "run-1")
    before = {t: delta.read(spark, config.output_path(t)).collect() for t in ("scores", "targets")}
    broken = frames(spark, M, 0.75)
    broken["targets"] = broken["targets"].withColumn("score", F.lit("not a number"))  # refused by Delta
    with pytest.raises(delta.DeltaWriteError):
        with publication(spark, config, M, "run-2") as run:
            run.commit(broken, {})
    for table, rows in before.items():
        assert sorted(delta.read(spark, config.output_path(table)).collect()) == sorted(rows)
    failed = ledger(spark, config)[("run-2", "failed")]
    assert "DeltaWriteError" in failed.message and "rolled back scores" in failed.message
    assert scores_of(spark, config) == [0.25] * 3


def test_readers_never_see_a_run_that_has_not_published(spark, config):
    publish(spark, config, M, 0.25, "run-1")
    publish(spark, config, OTHER, 0.5, "run-o")
    started = publication(spark, config, M, "run-2").begin()
    # run-2 committed its scores, not yet its targets nor its outcome (still running or dead)
    delta.write(frames(spark, M, 0.75)["scores"], config.output_path("scores"), partition_by=["caf", "score_month"],
                mode="overwrite", replace={"score_month": [M]}, run_id=started.run_id, operation="SCORE",
                meta={"score_month": str(M)})
    assert scores_of(spark, config) == [0.25] * 3
    assert scores_of(spark, config, OTHER) == [0.5] * 3  # another month is read as it is now


def test_a_second_run_of_a_month_in_progress_stops_and_writes_nothing(spark, config):
    first = publication(spark, config, M, "run-1").begin()
    with pytest.raises(RunConflictError, match="run-1 of 2026-02 is still running"):
        publication(spark, config, M, "run-2").begin()
    first.commit(frames(spark, M, 0.25), {})
    assert ledger(spark, config)[("run-2", "failed")].message.endswith("this run wrote nothing")
    assert scores_of(spark, config) == [0.25] * 3
    publish(spark, config, OTHER, 0.5, "run-o")  # another month is not held


def test_two_runs_claiming_a_month_at_the_same_moment_only_one_proceeds(spark, config):
    """Both computed the same claim before either committed: Delta keeps the first."""
    first, second = publication(spark, config, M, "run-1"), publication(spark, config, M, "run-2")
    number = first._next_claim()
    assert second._next_claim() == number
    first.begin()
    with pytest.raises(RunConflictError, match="started at the same moment and claimed the month first"):
        second._claim(number)
    assert delta.transaction_version(config.output_path("runs"), first.app_id) == number
    assert ("run-2", "running") not in ledger(spark, config)
    assert ledger(spark, config)[("run-2", "failed")].message.endswith("this run wrote nothing")


def test_a_run_whose_process_died_is_rolled_back_by_the_next_one(spark, config):
    publish(spark, config, M, 0.25, "run-1")
    dead = publication(spark, config, M, "run-dead")
    dead.claim = dead._next_claim()
    claim = {**dead._row("running", message=None), "pid": 2 ** 31 - 7}  # a process that no longer exists
    dead._append(claim, txn=(dead.app_id, dead.claim))
    # it committed scores, then died
    delta.write(frames(spark, M, 0.75)["scores"], config.output_path("scores"), partition_by=["caf", "score_month"],
                mode="overwrite", replace={"score_month": [M]}, run_id="run-dead", operation="SCORE",
                meta={"score_month": str(M)})
    assert scores_of(spark, config) == [0.25] * 3  # readers already see the published run only
    publish(spark, config, M, 0.5, "run-3")
    recovered = ledger(spark, config)[("run-dead", "failed")]
    assert "rolled back scores" in recovered.message and "recovered by run run-3" in recovered.message
    assert scores_of(spark, config) == [0.5] * 3
    assert any(c.get("operation") == "RESTORE" for c in delta.history(config.output_path("scores")))


def test_a_dead_run_followed_by_other_months_is_rolled_back_on_its_rows_only(spark, config):
    publish(spark, config, M, 0.25, "run-1")
    dead = publication(spark, config, M, "run-dead")
    dead.claim = dead._next_claim()
    dead._append({**dead._row("running", message=None), "pid": 2 ** 31 - 7}, txn=(dead.app_id, dead.claim))
    delta.write(frames(spark, M, 0.75)["scores"], config.output_path("scores"), partition_by=["caf", "score_month"],
                mode="overwrite", replace={"score_month": [M]}, run_id="run-dead", operation="SCORE",
                meta={"score_month": str(M)})
    publish(spark, config, OTHER, 0.5, "run-other")  # commits after the dead run's: RESTORE would undo them
    with publication(spark, config, M, "run-4") as run:
        assert run.notes and "had stopped without publishing" in run.notes[0]
        rows = delta.read(spark, config.output_path("scores")).where(F.col("score_month") == M)
        assert sorted(r.score for r in rows.collect()) == [0.25] * 3  # copied back from before it
        run.commit(frames(spark, M, 0.6), {})
    assert scores_of(spark, config, OTHER) == [0.5] * 3
    assert scores_of(spark, config) == [0.6] * 3
