"""One SparkSession for the whole suite: local[2], 2 shuffle partitions (and 2 for Delta's log
state), UTC, no UI."""
from __future__ import annotations

from datetime import date

import pytest

from jobs.lib.spark import get_spark
from tests.loop import REPLAY_MONTHS, replay_config


@pytest.fixture(scope="session")
def spark():
    from jobs.lib.config import load_config

    config = load_config(env="local")
    session = get_spark(
        "dmde-tests",
        master="local[2]",
        conf={  # the project's settings, sized down for small test data
            **config.spark.conf,
            "spark.sql.shuffle.partitions": 2,
            "spark.default.parallelism": 2,
            "spark.driver.memory": "4g",
        },
        jars=config.delta_jars,
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def population(spark, tmp_path_factory):
    """A small generated, calibrated and scored population shared by the job tests."""
    from types import SimpleNamespace

    from jobs.calibrate import calibrate
    from jobs.lib.models import calibrated_model_path
    from jobs.lib.config import load_config, write_model
    from jobs.generate import generate
    from jobs.score_month import score_month

    data_dir = tmp_path_factory.mktemp("population")
    config = load_config(env="local", overrides={"data_dir": str(data_dir)})
    households, start, end, seed = 2500, date(2024, 6, 1), date(2026, 1, 1), 11
    counts = generate(spark, config, households=households, start=start, end=end, seed=seed)
    month = date(2026, 2, 1)
    spec = calibrate(spark, config, month)
    calibrated_model_path(config).parent.mkdir(parents=True, exist_ok=True)
    write_model(spec, calibrated_model_path(config))
    run = score_month(spark, config, month)
    return SimpleNamespace(config=config, counts=counts, month=month, run=run, data_dir=data_dir,
                           households=households, start=start, end=end, seed=seed)


@pytest.fixture(scope="session")
def replayed(spark, population, tmp_path_factory):
    """A copy of the population replayed over REPLAY_MONTHS (`dmde replay`): the control
    loop's tests read it, and the monitoring's run on it (its window has DMDE controls)."""
    import shutil
    from types import SimpleNamespace

    from jobs.replay import replay

    data_dir = tmp_path_factory.mktemp("replayed") / "data"
    shutil.copytree(population.data_dir, data_dir)
    config = replay_config(data_dir)
    lines: list[str] = []
    done = replay(spark, config, REPLAY_MONTHS[0], REPLAY_MONTHS[-1], out=lines.append)
    return SimpleNamespace(config=config, lines=lines, done=done, data_dir=data_dir)
