"""The project's tables by name: sources under `<data-dir>/sources/`, outputs under
`<data-dir>/tables/`, their paths and partition columns from the configuration, read and
written through the one Delta layer (`jobs/lib/delta.py`). Outputs are written only
through a publication (`jobs/lib/publish.py`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession

from jobs.lib import delta
from jobs.lib.config import Config

exists = delta.exists
row_count = delta.row_count
version = delta.version
max_partition_value = delta.max_partition_value


def read_source(spark: SparkSession, config: Config, name: str, *,
                where: Mapping[str, Sequence[object]] | None = None, version: int | None = None) -> DataFrame:
    """A source table; `where` keeps only the given partition values."""
    return delta.read(spark, config.source_path(name), where=where, version=version)


def read_output(spark: SparkSession, config: Config, name: str, *,
                where: Mapping[str, Sequence[object]] | None = None, version: int | None = None) -> DataFrame:
    """An output table as it is now (readers of a month's results use
    `publish.read_published`, which never shows half a run)."""
    return delta.read(spark, config.output_path(name), where=where, version=version)


def write_source(config: Config, name: str, df: DataFrame, *, run_id: str, operation: str,
                 mode: delta.Mode = "overwrite", replace: Mapping[str, Sequence[object]] | None = None,
                 meta: Mapping[str, object] | None = None) -> delta.Commit | None:
    """Write a source table (the generator, the control simulation) in one commit; `meta`
    goes into the commit's userMetadata with the run."""
    return delta.write(df, config.source_path(name), partition_by=config.partition_by(name), mode=mode,
                       replace=replace, run_id=run_id, operation=operation, meta=meta)
