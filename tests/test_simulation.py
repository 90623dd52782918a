"""The control loop on synthetic data (MONITORING.md §7 (3), issue 16 §3): DMDE controls
that follow the published lists, `dmde simulate-controls` and `dmde replay`.

On a copy of the shared population (2 500 households), replayed over 2026-01 and 2026-02
with a capacity of about 10 % of households a month (`reference_households` lowered), so
that a month has about 220 DMDE controls: enough for the rules to be tested on every row
and for the shares to be tested within a few standard errors (each tolerance below says
how many). The 12-month check on 20 000 households is `scripts/check_control_loop.py`.
"""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from pyspark.sql import functions as F

from domain.errors import ConfigError
from domain.synth import ControllerBias, Simulation
from jobs.lib import delta, synthetic
from jobs.lib.config import DEFAULT_CONF_DIR, load_config
from jobs.lib.publish import published_run, read_published
from jobs.lib.simulation import months_done, simulate_controls, simulated_months
from jobs.replay import replay
from tests.loop import REPLAY_MONTHS, replay_config
from transforms import ranking, simulation

MONTHS = list(REPLAY_MONTHS)
SETTINGS = Simulation()


def config_for(data_dir: Path):
    return replay_config(data_dir)


@pytest.fixture(scope="module")
def loop(replayed):
    """The shared population's data dir, copied, then replayed over MONTHS (conftest)."""
    return replayed.config, replayed.lines, replayed.done


def controls(spark, config):
    return delta.read(spark, config.source_path("controls"))


def simulated(spark, config):
    """The DMDE controls of the replayed months."""
    return controls(spark, config).where(
        (F.col("origin") == "DMDE") & F.trunc("control_date", "month").isin(*[F.lit(m) for m in MONTHS]))


def published(spark, config, table):
    frames = [read_published(spark, config, table, m) for m in MONTHS]
    return frames[0].unionByName(frames[1])


def test_replay_prints_one_line_per_month_and_resumes(spark, loop):
    config, lines, done = loop
    assert done == MONTHS
    assert [line[:16] for line in lines] == ["[replay] 2026-01", "[replay] 2026-02"]
    assert all("DMDE controls" in line and "from the lists" in line for line in lines)
    version = delta.version(config.source_path("controls"))
    again: list[str] = []
    assert replay(spark, config, MONTHS[0], MONTHS[-1], out=again.append) == []
    assert again == ["[replay] 2026-01: scored and simulated already: skipped",
                     "[replay] 2026-02: scored and simulated already: skipped"]
    assert delta.version(config.source_path("controls")) == version
    assert {m: published_run(spark, config, "runs", m, "score").run_id for m in MONTHS} == \
        {m: run for m, (run, _) in simulated_months(config).items() if m in MONTHS}


def test_replay_resumes_at_the_first_month_not_done():
    jan, feb, mar, apr = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)
    runs = {jan: "s1", feb: "s2", mar: "s3"}.get
    simulated = {jan: ("s1", 5), feb: ("s2", 6), mar: ("s3", 7)}
    assert months_done([jan, feb, mar, apr], runs, simulated) == [jan, feb, mar]
    # March re-scored since its controls were simulated: resume at March
    assert months_done([jan, feb, mar], {jan: "s1", feb: "s2", mar: "s3b"}.get, simulated) == [jan, feb]
    # February simulated again after March was: March's eligibility may have moved
    assert months_done([jan, feb, mar], runs, {**simulated, feb: ("s2", 8)}) == [jan, feb]
    # …and January again after February: from February on
    assert months_done([feb, mar], runs, {**simulated, jan: ("s1", 9)}) == []
    assert months_done([jan], runs, {}) == []


def test_on_list_controls_are_on_the_list_they_name(spark, loop):
    config, _, _ = loop
    rows = simulated(spark, config)
    on_list = rows.where(F.col("target_score_month").isNotNull())
    assert on_list.count() > 300
    lists = published(spark, config, "targets").select("household_id", F.col("score_month").alias("target_score_month"))
    assert on_list.join(lists, on=["household_id", "target_score_month"], how="left_anti").count() == 0
    # …of the control month or the two before
    lag = F.months_between(F.trunc("control_date", "month"), F.col("target_score_month"))
    assert on_list.where((lag < 0) | (lag > 2)).count() == 0


def test_the_share_from_the_lists_is_the_adherence(spark, loop):
    """Quotas are rounded at random per Caf (variance ≤ 1/4 each, ~100 Caf a month): the share
    of ~450 controls has a standard error near 1.6 points; 5 points is 3 of them."""
    config, _, _ = loop
    share = simulated(spark, config).agg(F.avg(F.col("target_score_month").isNotNull().cast("int"))).first()[0]
    assert share == pytest.approx(SETTINGS.adherence, abs=0.05)


def test_no_household_is_controlled_inside_its_delay(spark, loop):
    config, _, _ = loop
    rows = simulated(spark, config)
    # every simulated control is of a household eligible in its month's scores…
    scores = published(spark, config, "scores").select(
        "household_id", F.col("score_month").alias("month"), "eligible", "rank_in_caf", "households_in_caf")
    stamped = rows.select("household_id", F.trunc("control_date", "month").alias("month"), "target_score_month")
    checked = stamped.join(scores, on=["household_id", "month"], how="left")
    assert checked.where(~F.coalesce(F.col("eligible"), F.lit(False))).count() == 0
    # …off-list ones are in the Caf's deciles 1-3
    assert checked.where(F.col("target_score_month").isNull() & ~simulation.in_top_deciles(3)).count() == 0
    # …and no two DMDE controls of a household (the generator's before 2026-01 included) are
    # closer than the delay that applied at the second one
    dmde = controls(spark, config).where(F.col("origin") == "DMDE")
    impact = (F.col("overpayment_eur") > 0) | (F.col("underpayment_eur") > 0)
    pairs = (dmde.select("household_id", F.col("control_date").alias("first"), impact.alias("impact"))
             .join(rows.select("household_id", F.col("control_date").alias("second")), on="household_id", how="inner")
             .where(F.col("first") < F.col("second")).collect())
    delays = config.control_delays
    for pair in pairs:
        months = (pair.second.year - pair.first.year) * 12 + pair.second.month - pair.first.month
        assert months >= delays.months_for(pair.second.replace(day=1), pair.impact), pair
    assert rows.groupBy("household_id", F.trunc("control_date", "month")).count().where("count > 1").count() == 0


def test_controls_per_caf_stay_within_the_capacity(spark, loop):
    config, _, _ = loop
    rows = simulated(spark, config)
    for month in MONTHS:
        scores = read_published(spark, config, "scores", month)
        capacity = ranking.monthly_capacity(
            scores, national_per_year=config.capacity.national_controls_per_year,
            reference_households=config.capacity.reference_households, per_caf_monthly={})
        per_caf = (rows.where(F.trunc("control_date", "month") == F.lit(month))
                   .join(scores.select("household_id", "caf"), on="household_id", how="inner")
                   .groupBy("caf").count())
        joined = capacity.join(per_caf, on="caf", how="full").fillna(0, ["count"])
        assert joined.where(F.col("capacity").isNull() | (F.col("count") > F.col("capacity"))).count() == 0
        used, total = joined.agg(F.sum("count"), F.sum("capacity")).first()
        assert used == pytest.approx(SETTINGS.fill_rate * total, rel=0.08)


def test_on_site_and_fraud_shares(spark, loop):
    """~450 controls: the ON_SITE share has a standard error of 2.2 points (8 points = 3.6 of
    them), the fraud share 1.2 points (5 points = 4)."""
    config, _, _ = loop
    rows = simulated(spark, config)
    on_site, fraud = rows.agg(F.avg((F.col("mode") == "ON_SITE").cast("int")),
                              F.avg(F.col("fraud").cast("int"))).first()
    assert on_site == pytest.approx(SETTINGS.on_site_share, abs=0.08)
    assert fraud == pytest.approx(SETTINGS.fraud_share, abs=0.05)
    assert rows.where(F.col("fraud") & (F.col("overpayment_eur") <= 0)).count() == 0
    assert set(rows.select("mode").distinct().toPandas()["mode"]) == {"ON_SITE", "DOCUMENTS"}


@pytest.mark.slow
def test_a_rerun_replaces_the_month_with_the_same_rows(spark, loop, tmp_path):
    """Same seed and arguments, identical rows: rerun in place (no duplicates; OPBD and OTHER
    rows untouched), and in an independent copy of the data dir."""
    config, _, _ = loop
    month = MONTHS[-1]
    copy = tmp_path / "copy"
    shutil.copytree(config.data_dir, copy)

    def rows(c):
        return sorted(simulated(spark, c).where(F.trunc("control_date", "month") == F.lit(month)).collect())

    def others(c):
        return sorted(controls(spark, c).where(F.col("origin") != "DMDE").collect())

    before, before_others, total = rows(config), others(config), controls(spark, config).count()
    simulate_controls(spark, config, month)
    assert rows(config) == before
    assert others(config) == before_others and controls(spark, config).count() == total
    simulate_controls(spark, config_for(copy), month)
    assert rows(config_for(copy)) == before


def test_refuses_a_data_dir_whose_sources_are_not_synthetic(spark, loop, tmp_path):
    config, _, _ = loop
    copy = tmp_path / "real"
    shutil.copytree(config.data_dir, copy)
    real = config_for(copy)
    spark.sql(f"ALTER TABLE delta.`{real.source_path('households')}` UNSET TBLPROPERTIES ('{synthetic.ORIGIN}')")
    version = delta.version(real.source_path("controls"))
    for attempt in (lambda: simulate_controls(spark, real, MONTHS[-1]),
                    lambda: replay(spark, real, MONTHS[-1], MONTHS[-1], out=lambda _: None)):
        with pytest.raises(synthetic.NotSyntheticError) as raised:
            attempt()
        assert "not marked dmde.data_origin=synthetic: households" in str(raised.value)
        assert "synthetic data only" in str(raised.value)
    assert delta.version(real.source_path("controls")) == version
    # the report's banner follows the same marks
    assert synthetic.data_origin(config) == "synthetic" and synthetic.data_origin(real) == "real"


@pytest.mark.slow
def test_a_controller_bias_moves_the_planted_category(spark, loop, tmp_path):
    """Households with a male head picked 4 times as readily: their share among the month's
    DMDE controls rises. With the same draws, a larger weight can only move a household up
    its pool, so the direction is certain; the size (about +15 points from ~35 %) is what
    the monitoring's OVER flag has to find."""
    config, _, _ = loop
    month = MONTHS[-1]
    copy = tmp_path / "biased"
    shutil.copytree(config.data_dir, copy)
    biased = Simulation(controller_bias=ControllerBias(attribute="sex", category="M", odds=4.0))
    simulate_controls(spark, config_for(copy), month, settings=biased)
    heads = delta.read(spark, config.source_path("households"), where={"month": [date(2026, 1, 1)]}) \
        .select("household_id", "head_sex")

    def male_share(c):
        rows = simulated(spark, c).where(F.trunc("control_date", "month") == F.lit(month))
        return rows.join(heads, on="household_id", how="inner").agg(
            F.avg((F.col("head_sex") == "M").cast("int"))).first()[0]

    assert male_share(config_for(copy)) > male_share(config) + 0.08


def test_quotas_add_up_and_stay_within_the_capacity(spark):
    capacity = spark.createDataFrame([(f"{i:02d}", c) for i, c in enumerate([0, 1, 2, 5, 9, 40] * 30)],
                                     "caf string, capacity int")
    rows = simulation.quotas(capacity, SETTINGS, seed=3, month=date(2026, 2, 1)).collect()
    assert all(0 <= r.controls <= r.capacity and r.on_list + r.off_list == r.controls and r.off_list >= 0
               for r in rows)
    assert [r.controls for r in rows if r.capacity == 0] == [0] * 30
    total = sum(r.capacity for r in rows)
    assert sum(r.controls for r in rows) == pytest.approx(0.9 * total, rel=0.03)
    assert sum(r.on_list for r in rows) == pytest.approx(0.8 * sum(r.controls for r in rows), rel=0.03)


@pytest.fixture
def conf_dir(tmp_path, monkeypatch):
    shutil.copytree(DEFAULT_CONF_DIR, tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    return Path("conf")


@pytest.mark.parametrize("bias, message", [
    ({"attribute": "religion", "category": "X", "odds": 2},
     "conf/synth.yaml: simulation.controller_bias.attribute: no attribute 'religion'"),
    ({"attribute": "nationality", "category": "US", "odds": 2},
     "conf/synth.yaml: simulation.controller_bias.category: no category 'US' of nationality"),
])
def test_the_controller_bias_names_what_exists(conf_dir, bias, message):
    path = conf_dir / "synth.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["simulation"]["controller_bias"] = bias
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(conf_dir=conf_dir).synth()
    assert message in str(raised.value)
