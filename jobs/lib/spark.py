"""The one place a SparkSession is built."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from pyspark.sql import SparkSession

from domain.errors import ConfigError

# Settings every DMDE session needs whatever the environment: Delta-compatible Parquet
# timestamps (reader protocol 1) and month arithmetic in UTC.
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.ansi.enabled": "true",
    # The jobs print their own progress per stage.
    "spark.ui.showConsoleProgress": "false",
}


def under_spark_submit() -> bool:
    """Whether this Python process was started by spark-submit (which starts the JVM first
    and hands the Python driver its gateway)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(app_name: str = "dmde", master: str | None = None,
              conf: Mapping[str, object] | None = None, *, log_level: str = "WARN") -> SparkSession:
    """Return the active session, or build one.

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
    spark.sparkContext.setLogLevel(log_level)
    return spark


def session_for(config, *, verbose: bool = False) -> SparkSession:
    """The session of a job, from the configuration's `spark` section. A configuration
    without a master only runs under spark-submit: started otherwise, Spark would silently
    fall back to local mode with the cluster's settings."""
    settings = config.spark
    if settings.master is None and not under_spark_submit():
        raise ConfigError(
            config.overlays[0] if config.overlays else "conf", "spark.master",
            "is null, which means 'the cluster manager decides' and only works under spark-submit; this "
            "process was not started by spark-submit. Run the job as `spark-submit --master <url> "
            "jobs/<job>.py …`, or set spark.master (e.g. with --conf FILE) to run it from `dmde`")
    return get_spark(settings.app_name, settings.master, settings.conf,
                     log_level="WARN" if verbose else "ERROR")
