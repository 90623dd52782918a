"""The one place a SparkSession is built: with Delta Lake's SQL extension and catalog, and
its jars (fetched once into the project's jars folder by scripts/fetch_jars.sh; passed with
`spark-submit --jars` on a cluster)."""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from pyspark.sql import SparkSession

from domain.errors import ConfigError, DmdeError

# Settings every DMDE session needs whatever the environment: Delta Lake, month
# arithmetic in UTC, ANSI SQL.
REQUIRED_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Deletion vectors raise the table protocol past what delta-rs (BI's Python readers) reads.
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.ansi.enabled": "true",
    # The jobs print their own progress per stage.
    "spark.ui.showConsoleProgress": "false",
}


class MissingJarsError(DmdeError):
    """Delta Lake's jars are not where the session looks for them."""


def under_spark_submit() -> bool:
    """Whether this Python process was started by spark-submit (which starts the JVM first
    and hands the Python driver its gateway)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


QUIET_LOG_CONF = Path(__file__).resolve().parents[2] / "conf" / "spark"  # log4j2.properties: errors only


def get_spark(app_name: str = "dmde", master: str | None = None, conf: Mapping[str, object] | None = None, *,
              jars: Sequence[Path] = (), log_level: str = "WARN", quiet: bool = True) -> SparkSession:
    """Return the active session, or build one with Delta Lake.

    `master` is None under spark-submit (the cluster manager decides, and the jars come
    with --jars); `local[N]` here, with `jars` (Delta Lake's) on the classpath. `quiet`:
    Spark logs errors only from the JVM's start (its banner and warnings would drown the
    job's own lines).
    """
    # Workers must run the same interpreter as the driver (pyarrow lives in the venv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if quiet and QUIET_LOG_CONF.is_dir():
        os.environ.setdefault("SPARK_CONF_DIR", str(QUIET_LOG_CONF))
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    if not under_spark_submit():
        missing = [str(jar) for jar in jars if not Path(jar).is_file()]
        if missing or not jars:
            raise MissingJarsError(
                f"Delta Lake's jars are missing ({', '.join(missing) or 'none configured'}): run "
                "scripts/fetch_jars.sh once (scripts/test.sh and scripts/demo.sh run it), or set delta.jars_dir.")
        builder = builder.config("spark.jars", ",".join(str(jar) for jar in jars))
    for key, value in {**(conf or {}), **REQUIRED_CONF}.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    if quiet and not under_spark_submit() and SparkSession.getActiveSession() is None:
        with _jvm_stderr_without(JDK_NOTICES):
            spark = builder.getOrCreate()
    else:
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(log_level)
    import delta.exceptions.captured  # noqa: F401 - Delta's conflicts arrive as Python exceptions
    if under_spark_submit() and "delta-spark" not in spark.sparkContext.getConf().get("spark.jars", ""):
        raise MissingJarsError(
            "this spark-submit did not ship Delta Lake's jars: add --jars "
            f"{','.join(str(jar) for jar in jars) or '<delta-spark and delta-storage jars>'}.")
    return spark


# What the JDK itself prints at start (not Spark's logs: log4j cannot quiet it).
JDK_NOTICES = (b"WARNING: Using incubator modules",)


@contextlib.contextmanager
def _jvm_stderr_without(notices: Sequence[bytes]):
    """The JVM inherits this process's stderr when it starts: hand it a pipe instead, whose
    lines a thread forwards to our stderr for the JVM's whole life, minus `notices`."""
    try:
        saved = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:  # no usable stderr: start as it is
        yield
        return
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        with os.fdopen(read_end, "rb") as pipe, os.fdopen(os.dup(saved), "wb", buffering=0) as out:
            for line in pipe:
                if not line.startswith(tuple(notices)):
                    out.write(line)

    threading.Thread(target=forward, name="jvm-stderr", daemon=True).start()
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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
    return get_spark(settings.app_name, settings.master, settings.conf, jars=config.delta_jars,
                     log_level="WARN" if verbose else "ERROR", quiet=not verbose)
