"""The `dmde` command: one subcommand per job.

Every job also runs as `spark-submit jobs/<job>.py ARGS`, with the same arguments: each
job module exposes `add_arguments(parser)` and `run(ctx) -> int`, and `jobs.lib.runner`
runs it (configuration and Spark session built once, errors as one paragraph).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from jobs.lib.runner import add_common_arguments, code_version, execute

# subcommand -> (entry-point module, one line of help)
JOBS = {
    "generate": ("jobs.generate", "write a synthetic population's six source tables"),
    "validate": ("jobs.validate", "check the source tables a score month reads (rules in expectations/)"),
    "calibrate": ("jobs.calibrate", "compute the models' intercepts on the OPBD random-control sample"),
    "estimate": ("jobs.estimate", "re-fit the models' odds ratios on the OPBD sample, next to the published ones"),
    "ingest": ("jobs.ingest", "validate and summarise a source month once, as it arrives (household_months)"),
    "score": ("jobs.score_month", "score every household of a month (or a range of months)"),
    "simulate-controls": ("jobs.simulate_controls",
                          "draw a month's DMDE controls from the published lists (synthetic data only)"),
    "replay": ("jobs.replay", "score and simulate controls month after month (synthetic data only)"),
    "monitor": ("jobs.monitor_month", "the ethics committee's indicators of a scored month (monitoring_* tables)"),
    "whatif": ("jobs.whatif", "score households described in a file as the monthly run would (what-if)"),
    "show": ("jobs.show", "print the top of a Caf's ranked list (reads the Delta tables, no Spark)"),
    "report": ("jobs.report", "write the ethics committee's monthly report, one HTML file (reads the tables, no Spark)"),
    "maintain": ("jobs.maintain", "compact the Delta tables and remove files no version needs (OPTIMIZE, VACUUM)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmde",
        description="DMDE 2026: the Cnaf's household risk score, computed on Spark into Delta tables.")
    parser.add_argument("--version", action="version", version=f"dmde {code_version()}")
    sub = parser.add_subparsers(dest="job", required=True, metavar="JOB")
    for name, (module_name, help_text) in JOBS.items():
        module = importlib.import_module(module_name)
        job_parser = sub.add_parser(name, help=help_text, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        add_common_arguments(job_parser)
        module.add_arguments(job_parser)
        job_parser.set_defaults(module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return execute(args.job, args.module, args)


if __name__ == "__main__":
    sys.exit(main())
