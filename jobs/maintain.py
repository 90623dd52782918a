"""Keep the Delta tables fast and small: compact their files, remove what no version needs.

    dmde maintain [--sources] [--retain-hours N] [--dry-run] [--data-dir DIR]

For every output table (and, with --sources, every source table): OPTIMIZE (compacts the
small files that monthly replacements leave), then VACUUM with a retention of
`delta.vacuum_retention_hours` (default 168 h = 7 days): the files that no version within
the retention references are deleted, including those of a write that crashed before its
commit. Time travel then reaches back as far as the retention; the tables' logs keep
`delta.log_retention`. --dry-run lists what VACUUM would delete and changes nothing.
Run it after the monthly run, when no other job writes.
"""
from __future__ import annotations

import argparse
import sys

from jobs.lib import delta
from jobs.lib.runner import JobContext, job_main


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sources", action="store_true", help="the source tables too")
    parser.add_argument("--retain-hours", type=int, default=None,
                        help="VACUUM retention in hours (default: conf delta.vacuum_retention_hours)")
    parser.add_argument("--dry-run", action="store_true", help="list what VACUUM would delete; change nothing")


def run(ctx: JobContext) -> int:
    config, args = ctx.config, ctx.args
    hours = args.retain_hours if args.retain_hours is not None else config.delta.vacuum_retention_hours
    paths = {name: config.output_path(name) for name in config.outputs}
    if args.sources:
        paths |= {name: config.source_path(name) for name in config.sources}
    present = {name: path for name, path in paths.items() if delta.exists(path)}
    if not present:
        ctx.progress.say(f"no Delta table in {config.data_dir}: nothing to maintain.")
        return 0
    spark = ctx.spark
    if hours < 168:
        # Delta refuses a retention under its default unless told: a concurrent reader of an
        # older version could lose its files. The operator asked for it explicitly.
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    for name, path in present.items():
        if args.dry_run:
            doomed = delta.vacuum(spark, path, hours, dry_run=True).count()
            ctx.progress.say(f"{name}: VACUUM would delete {doomed:,} file(s) older than {hours} h")
            continue
        metrics = delta.optimize(spark, path).first().metrics
        removed = delta.vacuum(spark, path, hours).count()
        ctx.progress.say(f"{name}: OPTIMIZE {metrics.numFilesRemoved:,} file(s) into {metrics.numFilesAdded:,}; "
                         f"VACUUM (retain {hours} h) deleted {max(removed - 1, 0):,} path(s)")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
