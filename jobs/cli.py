"""The `dmde` command: one subcommand per job.

Every job also runs as `spark-submit jobs/<job>.py ARGS`, with the same arguments: each
job module exposes `add_arguments(parser)` and `run(args) -> int`, and `job_main` below
turns it into a script.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from types import ModuleType

from jobs.config import ConfigError, load_config

JOBS = {
    "generate": ("jobs.generate", "write a synthetic population's six source tables"),
    "validate": ("jobs.validate", "check the source tables a score month reads (rules in expectations/)"),
    "score": ("jobs.score_month", "score every household of a month (or a range of months)"),
    "calibrate": ("jobs.calibrate", "compute both models' intercepts on the OPBD random-control sample"),
    "show": ("jobs.show", "print the top of a Caf's ranked list (reads the Delta tables, no Spark)"),
}


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="configuration overlay conf/<env>.yaml (default: $DMDE_ENV or local)")
    parser.add_argument("--conf", action="append", default=[], metavar="FILE",
                        help="extra YAML overlay merged last (repeatable)")
    parser.add_argument("--data-dir", help="root of the source and output tables (overrides data_dir)")


def load_job_config(args: argparse.Namespace):
    overrides = {"data_dir": args.data_dir} if getattr(args, "data_dir", None) else None
    return load_config(env=args.env, overlays=args.conf, overrides=overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmde",
        description="DMDE 2026: the Cnaf's household risk score, computed on Spark into Delta tables.")
    sub = parser.add_subparsers(dest="job", required=True, metavar="JOB")
    for name, (module_name, help_text) in JOBS.items():
        module = _load(module_name)
        if module is None:
            continue
        job_parser = sub.add_parser(name, help=help_text, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        add_common_arguments(job_parser)
        module.add_arguments(job_parser)
        job_parser.set_defaults(run=module.run)
    return parser


def _load(module_name: str) -> ModuleType | None:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def _execute(run, args: argparse.Namespace) -> int:
    try:
        return run(args)
    except ConfigError as exc:
        print(f"dmde: configuration error\n{exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _execute(args.run, args)


def job_main(module: ModuleType, argv: Sequence[str] | None = None) -> int:
    """Entry point of `spark-submit jobs/<job>.py`: the same arguments as `dmde <job>`."""
    parser = argparse.ArgumentParser(prog=f"spark-submit {sys.argv[0]}",
                                     description=module.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    module.add_arguments(parser)
    return _execute(module.run, parser.parse_args(argv))


class Progress:
    """Prints each stage with its rows and seconds, and keeps the durations for `runs`."""

    def __init__(self, job: str) -> None:
        self.job = job
        self.durations: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def stage(self, name: str, func, *args, **kwargs):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        seconds = time.perf_counter() - start
        self.durations[name] = round(seconds, 3)
        rows = result if isinstance(result, int) else None
        detail = f"{rows:>12,} rows" if rows is not None else " " * 17
        print(f"[{self.job}] {name:<28}{detail}  {seconds:8.1f} s", flush=True)
        return result

    @property
    def total_seconds(self) -> float:
        return time.perf_counter() - self._t0


if __name__ == "__main__":
    sys.exit(main())
