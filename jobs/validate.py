"""Validate the source tables a score month reads, before any variable is computed.

    dmde validate --month 2026-02 [--data-dir DIR]

Every source table has a suite in `expectations/` (schema and row rules). A row that
breaks a rule (a bad code, a negative amount, a duplicated key, an orphan payment…) is
set aside whole with the rule's name: `dmde score` writes it to the `quarantine` table
and scores with the valid rows. A table-level failure (a missing column, a wrong type, an
empty or thin month partition, more rejected rows than `quality.max_quarantine_share` in
a table or in one of its source months) stops the run before anything is written, with
one paragraph per failure saying which table, which rule, how many rows, example keys
and what to do.

Great Expectations reports on the same rules: its JSON results (and HTML data docs) go
with the job's own summary to <data-dir>/validation/<run_id>/. This command only
validates and reports; it writes no table.
"""
from __future__ import annotations

import argparse
import sys

from domain.calendar import Span
from jobs.lib.runner import JobContext, job_main, month_argument, new_run_id
from jobs.lib.validation import read_validated


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=month_argument, required=True, help="score month YYYY-MM")


def run(ctx: JobContext) -> int:
    month = ctx.args.month
    validation = read_validated(ctx.spark, ctx.config, Span.of(ctx.config.calendar(month)),
                                new_run_id("validate", month), ctx.progress)
    print(validation.summary())
    validation.unpersist()
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
