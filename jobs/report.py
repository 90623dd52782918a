"""Write the ethics committee's report of a month: one self-contained HTML file.

    dmde report --month 2026-02 [--out FILE]

Reads the published monitoring tables of the month (`monitoring_*`, at the versions the
month's latest succeeded `dmde monitor` run recorded in `monitoring_runs`, and the month's
`model_estimates` of its latest `dmde estimate` run, if any, for the annex) with polars,
straight from the Delta log: no Spark session is started, nothing under restricted/ is
read. Writes <data-dir>/reports/monitoring_YYYY-MM.html (or FILE) and prints its path.
The same tables give the same bytes: the only timestamp is the run's.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from domain.errors import DmdeError
from domain.monitoring import TABLE_COLUMNS
from jobs.lib.config import Config, read_yaml
from jobs.lib.publish import published_ledger_row, scan_published
from jobs.lib.runner import JobContext, job_main, month_argument
from reporting.build import ReportInput
from reporting.render import render_report

PRINTS_START_LINE = False  # prints the report's path only, for scripts
LEDGER, JOB = "monitoring_runs", "monitor"
ESTIMATES, ESTIMATE_LEDGER, ESTIMATE_JOB = "model_estimates", "runs", "estimate"
TEMPLATE = "report/monitoring.html.j2"
TEXTS = "report/texts.yaml"


class ReportError(DmdeError):
    """No report to write, and why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=month_argument, required=True, help="score month YYYY-MM")
    parser.add_argument("--out", type=Path, help="the HTML file to write (default: <data-dir>/reports/"
                                                 "monitoring_YYYY-MM.html)")


def report_path(config: Config, month, out: Path | None) -> Path:
    return out if out is not None else config.folder("reports") / f"monitoring_{month:%Y-%m}.html"


def read_inputs(config: Config, month) -> ReportInput:
    """The month's published run and rows; a ReportError naming the command to run when
    the month has no published monitoring."""
    run = published_ledger_row(config, LEDGER, month, JOB)
    if run is None:
        raise ReportError(f"{month:%Y-%m} has no published monitoring in {config.data_dir} (no succeeded monitor run "
                          f"in {config.output_path(LEDGER)}): run `dmde monitor --month {month:%Y-%m} --data-dir "
                          f"{config.data_dir}` first, then `dmde report --month {month:%Y-%m}` again.")
    versions = run["table_versions"]
    missing = [table for table in TABLE_COLUMNS if table not in versions]
    if missing:
        raise ReportError(f"the monitor run {run['run_id']} of {month:%Y-%m} published no {', '.join(missing)}: rerun "
                          f"`dmde monitor --month {month:%Y-%m} --data-dir {config.data_dir}`.")
    tables = {table: scan_published(config, table, month, versions).collect().to_dicts() for table in TABLE_COLUMNS}
    texts = read_yaml(config.conf_dir / TEXTS)
    return ReportInput(month=month, run=run, tables=tables, settings=config.monitoring,
                       populations=config.populations, model=config.model, texts=texts,
                       estimates=read_estimates(config, month))


def read_estimates(config: Config, month) -> list[dict]:
    """The month's model_estimates rows of its latest succeeded `dmde estimate` run, if
    any (the report's annex shows them next to the published odds ratios)."""
    run = published_ledger_row(config, ESTIMATE_LEDGER, month, ESTIMATE_JOB)
    if run is None or ESTIMATES not in run["table_versions"]:
        return []
    return scan_published(config, ESTIMATES, month, run["table_versions"]).collect().to_dicts()


def write_report(config: Config, month, out: Path | None = None) -> Path:
    """Render the month's report and write it atomically; its path."""
    inputs = read_inputs(config, month)
    template = (config.conf_dir / TEMPLATE).read_text(encoding="utf-8")
    html = render_report(inputs, template)
    path = report_path(config, month, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                     delete=False, newline="\n") as handle:
        handle.write(html)
    os.chmod(handle.name, 0o644)  # a report is for reading: the umask of a plain file, not a temporary one
    os.replace(handle.name, path)
    return path


def run(ctx: JobContext) -> int:
    start = time.perf_counter()
    path = write_report(ctx.config, ctx.args.month, ctx.args.out)
    print(path)
    print(f"[report] {path.stat().st_size:,} bytes in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
