"""One SparkSession for the whole suite: local[2], 2 shuffle partitions, UTC, no UI."""
from __future__ import annotations

import pytest

from jobs.spark import get_spark


@pytest.fixture(scope="session")
def spark():
    session = get_spark(
        "dmde-tests",
        master="local[2]",
        conf={
            "spark.sql.shuffle.partitions": 2,
            "spark.default.parallelism": 2,
            "spark.ui.enabled": False,
            "spark.driver.memory": "4g",
            "spark.sql.adaptive.enabled": True,
        },
    )
    yield session
    session.stop()
