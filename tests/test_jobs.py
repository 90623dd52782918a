"""The jobs end to end on a small synthetic population: generate, calibrate, score."""
from __future__ import annotations

import shutil
from datetime import date

import pytest
from chispa import assert_df_equality
from pyspark.sql import Window
from pyspark.sql import functions as F

from jobs.lib import delta
from jobs.lib.models import load_scoring_model
from domain.errors import ConfigError
from jobs.lib.config import load_config
from jobs.score_month import ScoringError, score_month
from jobs.lib.validation import DataQualityError
from tests.loop import copy_population


def read(spark, population, name):
    return delta.read(spark, population.config.output_path(name))


def test_every_household_of_the_snapshot_is_scored_once(spark, population):
    scores = read(spark, population, "scores")
    snapshot = delta.read(spark, population.config.source_path("households"),
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


def test_runs_row_records_counts_stages_and_the_versions_it_published(spark, population):
    runs = read(spark, population, "runs").where(F.col("job") == "score").collect()
    assert sorted(r.status for r in runs) == ["running", "succeeded"]  # the claim, then the outcome
    run = next(r for r in runs if r.status == "succeeded")
    assert run.run_id == population.run["run_id"] and run.households_scored == population.run["households_scored"]
    assert set(run.output_rows) == {"features", "scores", "targets", "quarantine"}
    assert run.output_rows["scores"] == run.households_scored
    assert {"read sources", "validate", "features", "scores"} <= set(run.stage_seconds)
    for table, version in run.table_versions.items():
        commit = next(c for c in delta.history(population.config.output_path(table)) if c["version"] == version)
        assert commit["meta"]["run_id"] == run.run_id


@pytest.mark.slow
def test_rescoring_a_month_replaces_it_atomically(spark, population):
    config = population.config
    before = {name: delta.version(config.output_path(name)) for name in ("scores", "targets", "features")}
    first = read(spark, population, "scores").select("household_id", "score", "rank_in_caf", "decile")
    score_month(spark, config, population.month)
    after = read(spark, population, "scores").select("household_id", "score", "rank_in_caf", "decile")
    assert_df_equality(first, after, ignore_row_order=True)
    for name, version in before.items():
        assert delta.version(config.output_path(name)) == version + 1
    old = delta.read(spark, config.output_path("scores"), version=before["scores"])
    assert old.count() == after.count()


def test_scoring_refuses_an_uncalibrated_model(spark, population, tmp_path):
    config = load_config(env="local", overrides={"data_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="dmde calibrate --month"):
        load_scoring_model(config)


@pytest.mark.slow
def test_a_failed_run_leaves_the_tables_as_they_were(spark, population, tmp_path):
    config = copy_population(population, tmp_path)
    households = delta.read(spark, config.source_path("households"))
    # every household in an unknown Caf: far above the quarantine threshold, the run stops
    broken = households.withColumn("caf", F.lit("00"))
    delta.write(broken.localCheckpoint(), config.source_path("households"), partition_by=["month"],
                      run_id="test", mode="overwrite", operation="TEST")
    versions = {n: delta.version(config.output_path(n)) for n in ("features", "scores", "targets", "quarantine")}
    with pytest.raises((ScoringError, DataQualityError)):
        score_month(spark, config, population.month)
    assert {n: delta.version(config.output_path(n)) for n in versions} == versions
    failed = delta.read(spark, config.output_path("runs")).where(F.col("status") == "failed").collect()
    assert len(failed) == 1 and "DataQualityError" in failed[0].message


@pytest.mark.slow
def test_scores_do_not_depend_on_monitoring_attributes(spark, population, tmp_path):
    config = copy_population(population, tmp_path, "shuffled")
    households = delta.read(spark, config.source_path("households"))
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
    delta.write(shuffled, config.source_path("households"), partition_by=["month"],
                      run_id="test", mode="overwrite", operation="TEST")
    score_month(spark, config, population.month)
    columns = ["household_id", "p_model1", "p_model2", "score", "rank_in_caf"]
    original = read(spark, population, "scores").select(*columns)
    again = delta.read(spark, config.output_path("scores")).select(*columns)
    assert_df_equality(original, again, ignore_row_order=True)


def renamed_models(text: str) -> str:
    """A model file whose models are called `before` and `after` instead of model1/model2."""
    return (text.replace("model1:", "before:").replace("model2:", "after:")
            .replace("before: model1", "before: before").replace("after: model2", "after: after"))


@pytest.mark.slow
def test_a_model_file_with_other_model_names_scores_the_same(spark, population, tmp_path):
    data_dir = tmp_path / "renamed"
    shutil.copytree(population.data_dir, data_dir, ignore=shutil.ignore_patterns("tables"))  # new columns
    published = load_config(env="local").model_file
    renamed = tmp_path / "conf" / published.name
    renamed.parent.mkdir()
    renamed.write_text(renamed_models(published.read_text(encoding="utf-8")), encoding="utf-8")
    calibrated = data_dir / "models" / published.name
    calibrated.write_text(renamed_models(calibrated.read_text(encoding="utf-8")), encoding="utf-8")
    config = load_config(env="local", overrides={"data_dir": str(data_dir), "model_file": str(renamed)})
    assert config.model.model_names() == ["before", "after"] and config.model.blend.after == "after"
    score_month(spark, config, population.month)
    scores = delta.read(spark, config.output_path("scores")).where(F.col("score_month") == population.month)
    assert {"p_before", "p_after", "w_after"} <= set(scores.columns) and "p_model1" not in scores.columns
    original = read(spark, population, "scores").select(
        "household_id", F.col("p_model1").alias("p_before"), F.col("p_model2").alias("p_after"),
        F.col("w_model2").alias("w_after"), "score", "rank_in_caf")
    assert_df_equality(original, scores.select(*original.columns), ignore_row_order=True)


def _intercepts(spec):
    return {name: (info.intercept.value, info.intercept.sample_size) for name, info in spec.models.items()}


@pytest.mark.slow
def test_calibration_quarantines_a_corrupt_opbd_control_which_does_not_move_the_intercepts(spark, population,
                                                                                          tmp_path):
    from jobs.calibrate import calibrate

    corrupted = copy_population(population, tmp_path, "corrupted")
    removed = copy_population(population, tmp_path, "removed")
    controls = delta.read(spark, corrupted.source_path("controls"))
    window = F.col("control_date").between(date(2025, 2, 1), date(2026, 1, 31))
    # an OPBD control outside the target: read as is, its absurd amount would put it in
    victim = (controls.where((F.col("origin") == "OPBD") & window & (F.col("overpayment_eur") < 600))
              .orderBy("household_id").first())
    is_victim = (F.col("household_id") == victim.household_id) & (F.col("control_date") == victim.control_date) \
        & (F.col("origin") == "OPBD")
    broken = controls.select(*[F.when(is_victim, F.lit(5_000_000).cast("decimal(12,2)")).otherwise(F.col(c)).alias(c)
                               if c == "overpayment_eur" else
                               F.when(is_victim, F.lit(12)).otherwise(F.col(c)).alias(c)
                               if c == "overpayment_months" else F.col(c) for c in controls.columns])
    delta.write(broken.localCheckpoint(), corrupted.source_path("controls"), partition_by=[], run_id="test",
                      mode="overwrite", operation="TEST")
    delta.write(controls.where(~is_victim).localCheckpoint(), removed.source_path("controls"),
                      partition_by=[], run_id="test", mode="overwrite", operation="TEST")

    gated = calibrate(spark, corrupted, population.month)
    assert _intercepts(gated) == _intercepts(calibrate(spark, removed, population.month))
    quarantine = delta.read(spark, corrupted.output_path("quarantine")).where(F.col("job") == "calibrate")
    rows = quarantine.collect()
    assert [(r.table, r.household_id, r.rule) for r in rows] == [
        ("controls", victim.household_id, "overpayment_eur_in_range")]
