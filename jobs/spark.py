"""The one place a SparkSession is built."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from pyspark.sql import SparkSession

# Settings every DMDE session needs whatever the environment: Delta-compatible Parquet
# timestamps (reader protocol 1) and month arithmetic in UTC.
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.ansi.enabled": "true",
    # The jobs print their own progress per stage.
    "spark.ui.showConsoleProgress": "false",
}


def get_spark(app_name: str = "dmde", master: str | None = None,
              conf: Mapping[str, object] | None = None) -> SparkSession:
    """Return the active session, or build one from the config's `spark` section.

    `master` is None under spark-submit (the cluster manager decides); `local[N]` here.
    """
    # Workers must run the same interpreter as the driver (pyarrow lives in the venv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in {**(conf or {}), **REQUIRED_CONF}.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
