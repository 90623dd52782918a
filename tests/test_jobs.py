"""The jobs end to end on a small synthetic population: generate, calibrate, score."""
from __future__ import annotations

import shutil
from datetime import date

import pytest
from chispa import assert_df_equality
from pyspark.sql import Window
from pyspark.sql import functions as F

from jobs import delta
from jobs.calibrate import load_scoring_model
from jobs.config import ConfigError, load_config
from jobs.score_month import ScoringError, score_month
from jobs.validate import DataQualityError


def read(spark, population, name):
    return delta.read_table(spark, population.config.output_path(name))


def test_every_household_of_the_snapshot_is_scored_once(spark, population):
    scores = read(spark, population, "scores")
    snapshot = delta.read_table(spark, population.config.source_path("households"),
                                where={"month": [date(2026, 1, 1)]})
    assert scores.count() == snapshot.count() == population.run["households_scored"]
    assert scores.select("household_id").distinct().count() == scores.count()
    assert scores.where(F.col("score").isNull() | (F.col("score") <= 0) | (F.col("score") >= 1)).count() == 0


def test_scores_follow_rank_and_blend(spark, population):
    scores = read(spark, population, "scores")
    assert scores.where(F.abs(F.col("score") - ((1 - F.col("w_model2")) * F.col("p_model1")
                                               + F.col("w_model2") * F.col("p_model2"))) > 1e-12).count() == 0
    # Caf 06 switched to pre-filling in 2024-10, the others in 2025-03 (M = 2026-02)
    weights = {r.caf: r.w_model2 for r in scores.groupBy("caf").agg(F.first("w_model2").alias("w_model2")).collect()}
    assert weights["06"] == pytest.approx(16 / 24) and weights["59"] == pytest.approx(11 / 24)
    disorder = scores.alias("a").join(scores.alias("b"), on=["caf"]).where(
        (F.col("a.rank_in_caf") < F.col("b.rank_in_caf")) & (F.col("a.score") < F.col("b.score")))
    assert disorder.count() == 0


def test_targets_respect_capacity_and_eligibility(spark, population):
    targets = read(spark, population, "targets")
    scores = read(spark, population, "scores")
    assert targets.where(F.col("target_rank") > F.col("capacity")).count() == 0
    ineligible = targets.join(scores.where(~F.col("eligible")), on="household_id", how="inner")
    assert ineligible.count() == 0


def test_runs_row_records_counts_and_stages(spark, population):
    runs = read(spark, population, "runs").collect()
    assert len(runs) == 1
    run = runs[0]
    assert run.status == "succeeded" and run.households_scored == population.run["households_scored"]
    assert set(run.output_rows) == {"features", "scores", "targets"}
    assert {"read sources", "features", "scores", "stage scores"} <= set(run.stage_seconds)


def test_rescoring_a_month_replaces_it_atomically(spark, population):
    config = population.config
    before = {name: delta.table_version(config.output_path(name)) for name in ("scores", "targets", "features")}
    first = read(spark, population, "scores").select("household_id", "score", "rank_in_caf", "decile")
    score_month(spark, config, population.month)
    after = read(spark, population, "scores").select("household_id", "score", "rank_in_caf", "decile")
    assert_df_equality(first, after, ignore_row_order=True)
    for name, version in before.items():
        assert delta.table_version(config.output_path(name)) == version + 1
    old = delta.read_table(spark, config.output_path("scores"), version=before["scores"])
    assert old.count() == after.count()


def test_scoring_refuses_an_uncalibrated_model(spark, population, tmp_path):
    config = load_config(env="local", overrides={"data_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="dmde calibrate --month"):
        load_scoring_model(config)


def test_a_failed_run_leaves_the_tables_as_they_were(spark, population, tmp_path):
    data_dir = tmp_path / "copy"
    shutil.copytree(population.data_dir, data_dir)
    config = load_config(env="local", overrides={"data_dir": str(data_dir)})
    households = delta.read_table(spark, config.source_path("households"))
    # every household in an unknown Caf: far above the quarantine threshold, the run stops
    broken = households.withColumn("caf", F.lit("00"))
    delta.write_table(broken.localCheckpoint(), config.source_path("households"), partition_by=["month"],
                      run_id="test", mode="overwrite")
    versions = {n: delta.table_version(config.output_path(n)) for n in ("features", "scores", "targets", "runs")}
    with pytest.raises((ScoringError, DataQualityError)):
        score_month(spark, config, population.month)
    assert {n: delta.table_version(config.output_path(n)) for n in versions} == versions


def test_scores_do_not_depend_on_monitoring_attributes(spark, population, tmp_path):
    data_dir = tmp_path / "shuffled"
    shutil.copytree(population.data_dir, data_dir)
    config = load_config(env="local", overrides={"data_dir": str(data_dir)})
    households = delta.read_table(spark, config.source_path("households"))
    monitoring = ["head_sex", "head_nationality", "head_birth_date", "residence"]
    # each household takes the monitoring attributes of another one (a fixed permutation)
    ids = households.select("household_id").distinct()
    receivers = ids.select("household_id", F.row_number().over(Window.orderBy("household_id")).alias("k"))
    donors = ids.select(F.col("household_id").alias("donor"),
                        F.row_number().over(Window.orderBy(F.xxhash64("household_id"))).alias("k"))
    attributes = households.groupBy("household_id").agg(*[F.first(c).alias(c) for c in monitoring]) \
        .withColumnRenamed("household_id", "donor")
    shuffled = (households.drop(*monitoring)
                .join(receivers.join(donors, on="k"), on="household_id", how="inner")
                .join(attributes, on="donor", how="inner")
                .select(*households.columns)).localCheckpoint()
    moved = shuffled.alias("s").join(households.alias("h"), on=["household_id", "month"]).where(
        F.col("s.head_birth_date") != F.col("h.head_birth_date")).count()
    assert moved > 0.9 * households.count()
    delta.write_table(shuffled, config.source_path("households"), partition_by=["month"],
                      run_id="test", mode="overwrite")
    score_month(spark, config, population.month)
    columns = ["household_id", "p_model1", "p_model2", "score", "rank_in_caf"]
    original = read(spark, population, "scores").select(*columns)
    again = delta.read_table(spark, config.output_path("scores")).select(*columns)
    assert_df_equality(original, again, ignore_row_order=True)
