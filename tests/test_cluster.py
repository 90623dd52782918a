"""The monthly job on a real Spark standalone cluster (scripts/cluster.sh: a master and two
one-core workers, each its own JVM): submitted the way a cluster user would, it gives the
rows of local mode, and it survives a worker killed in the middle of the run.

Slow (a cluster start, then spark-submit runs): marked `cluster`, run by CI, skipped
locally with `-m "not cluster"`.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest
from chispa import assert_df_equality

from jobs.lib.config import load_config
from jobs.lib.publish import read_published

pytestmark = pytest.mark.cluster

M = date(2026, 2, 1)
ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "scripts" / "cluster.sh"
OUTPUTS = ("features", "scores", "targets")


def cluster(*args: str, **kwargs):
    return subprocess.run(["bash", str(CLUSTER), *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DMDE_CLUSTER_DIR": str(kwargs.pop("cluster_dir"))}, **kwargs)


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    cluster_dir = tmp_path_factory.mktemp("cluster")
    started = cluster("start", cluster_dir=cluster_dir, timeout=300)
    assert started.returncode == 0, started.stderr + started.stdout
    yield cluster_dir
    cluster("stop", cluster_dir=cluster_dir, timeout=120)


@pytest.fixture(scope="module")
def local_reference(spark, population):
    """The month as local mode scored it (the shared population)."""
    return {table: published(spark, population.config, table).localCheckpoint() for table in OUTPUTS}


def published(spark, config, table):
    rows = read_published(spark, config, table, M)
    return rows.drop(*[c for c in ("run_id", "model_version") if c in rows.columns])


def copy_without_outputs(population, tmp_path) -> Path:
    data_dir = tmp_path / "data"
    shutil.copytree(population.data_dir, data_dir, ignore=shutil.ignore_patterns("tables", "validation"))
    return data_dir


def submit(standalone, data_dir: Path, tmp_path: Path, wait=True):
    overlay = tmp_path / "small.yaml"
    overlay.write_text("spark: {conf: {spark.sql.shuffle.partitions: 8}}\n")
    command = ["bash", str(CLUSTER), "submit", "score_month", "--month", "2026-02", "--data-dir", str(data_dir),
               "--conf", str(overlay)]
    env = {**os.environ, "DMDE_CLUSTER_DIR": str(standalone)}
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def assert_same_rows(spark, data_dir, reference):
    config = load_config(env="local", overrides={"data_dir": str(data_dir)})
    for table in OUTPUTS:
        assert_df_equality(reference[table], published(spark, config, table), ignore_row_order=True,
                           ignore_nullable=True)


def test_the_monthly_job_on_the_cluster_gives_the_rows_of_local_mode(spark, population, standalone,
                                                                    local_reference, tmp_path):
    data_dir = copy_without_outputs(population, tmp_path)
    result = submit(standalone, data_dir, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "master spark://127.0.0.1:7077" in result.stdout
    assert_same_rows(spark, data_dir, local_reference)


def test_a_worker_killed_in_the_middle_of_the_run_loses_nothing(spark, population, standalone, local_reference,
                                                              tmp_path):
    data_dir = copy_without_outputs(population, tmp_path)
    run = submit(standalone, data_dir, tmp_path, wait=False)
    lines = []
    for line in run.stdout:  # kill a worker once validation has started: tasks are running
        lines.append(line)
        if "validate: lookups" in line or "check schemas" in line:
            break
    worker = int((standalone / "pids" / "worker1.pid").read_text())
    os.kill(worker, signal.SIGKILL)
    lines += run.stdout.readlines()
    assert run.wait(timeout=1800) == 0, "".join(lines[-60:])
    assert_same_rows(spark, data_dir, local_reference)
    restarted = cluster("start-worker", "1", cluster_dir=standalone, timeout=60)
    assert restarted.returncode == 0
    time.sleep(5)
