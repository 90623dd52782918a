"""Running a job: the arguments every job takes, the configuration and the Spark session
built once, progress per stage, and errors turned into one paragraph and an exit code.

A job module (`jobs/<job>.py`) exposes `add_arguments(parser)` and `run(ctx) -> int`;
`dmde <job>` (jobs/cli.py) and `spark-submit jobs/<job>.py` both go through `execute`.
Errors a job declares (`domain.errors.DmdeError`: a configuration problem, bad data, a
month not scored yet…) print their message and exit with their code; anything else prints
one paragraph naming the error and how to see the traceback (`--verbose`).
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib.metadata import PackageNotFoundError, version as package_version
from types import ModuleType
from typing import Any

from domain.calendar import month_start, months
from domain.codes import CAF_CODES
from domain.errors import DmdeError
from jobs.lib.config import Config, load_config


def code_version() -> str:
    try:
        return package_version("dmde")
    except PackageNotFoundError:
        return "unknown"


def new_run_id(job: str, month: date) -> str:
    """score-2026-02-20261130T214929-094604: the job, its month, when, and a nonce."""
    return f"{job}-{month:%Y-%m}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def month_argument(value: str):
    """argparse type of a month: YYYY-MM, with a readable error."""
    try:
        if len(value) != 7 or value[4] != "-":
            raise ValueError
        return month_start(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a month YYYY-MM (e.g. 2026-02)") from None


CAF_CODES_TEXT = "the départements 01…95 (2A and 2B for Corsica) and 971, 972, 973, 974, 976 (e.g. --caf 59)"


def caf_argument(value: str) -> str:
    """argparse type of a Caf code, with a readable error."""
    if value not in CAF_CODES:
        raise argparse.ArgumentTypeError(f"{value!r} is not a Caf code: {CAF_CODES_TEXT}")
    return value


def add_month_arguments(parser: argparse.ArgumentParser, month_help: str, what: str) -> None:
    """`--month`, or `--from … --to` for a range of months (`what`: the months' noun)."""
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--month", type=month_argument, help=month_help)
    when.add_argument("--from", dest="first", type=month_argument, help=f"first {what} of a range")
    parser.add_argument("--to", dest="last", type=month_argument, help=f"last {what} of a range (with --from)")


def months_to_run(args: argparse.Namespace, default: Callable[[], date] | None = None) -> list[date]:
    """The months of `--month`, or of `--from … --to` (one after the other), or the default."""
    if getattr(args, "first", None):
        if args.last and args.last < args.first:
            raise DmdeError(f"--to {args.last:%Y-%m} is before --from {args.first:%Y-%m}.")
        return months(args.first, args.last or args.first)
    return [args.month or default()] if default is not None else [args.month]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="configuration overlay conf/<env>.yaml (default: $DMDE_ENV or local)")
    parser.add_argument("--conf", action="append", default=[], metavar="FILE",
                        help="extra YAML overlay merged last (repeatable)")
    parser.add_argument("--data-dir", help="root of the source and output tables (overrides data_dir)")
    parser.add_argument("--verbose", action="store_true",
                        help="show Spark's own log lines and, on an unexpected error, the traceback")


def load_job_config(args: argparse.Namespace) -> Config:
    overrides = {"data_dir": args.data_dir} if getattr(args, "data_dir", None) else None
    return load_config(env=args.env, overlays=args.conf, overrides=overrides)


class Progress:
    """Prints each stage with its rows and seconds, and keeps the durations for `runs`.

    On a terminal, the running stage has a live line (elapsed seconds and, while Spark
    runs tasks, tasks done out of total, from Spark's status tracker), replaced by the
    stage's final line; elsewhere (CI, logs, cron) only the final lines are printed.
    A quiet progress prints nothing and only keeps the durations (`dmde replay` prints one
    line per month instead).
    """

    def __init__(self, job: str, *, live: bool | None = None, quiet: bool = False) -> None:
        self.job = job
        self.quiet = quiet
        self.durations: dict[str, float] = {}
        self._t0 = time.perf_counter()
        self._live = not quiet and (sys.stdout.isatty() if live is None else live)
        self._running: list[tuple[str, float]] = []  # nested stages, innermost last
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None

    def stage(self, name: str, func: Callable, *args, **kwargs):
        start = time.perf_counter()
        with self._lock:
            self._running.append((name, start))
        self._start_ticker()
        try:
            result = func(*args, **kwargs)
        finally:
            with self._lock:
                self._running.pop()
                self._clear_line()
        seconds = time.perf_counter() - start
        self.durations[name] = round(seconds, 3)
        rows = result if isinstance(result, int) and not isinstance(result, bool) else None
        detail = f"{rows:>12,} rows" if rows is not None else " " * 17
        self.echo(f"[{self.job}] {name:<28}{detail}  {seconds:8.1f} s")
        return result

    # --- the live line -------------------------------------------------------------------

    def _start_ticker(self) -> None:
        if self._live and (self._ticker is None or not self._ticker.is_alive()):
            self._ticker = threading.Thread(target=self._tick, name="dmde-progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while True:
            time.sleep(0.5)
            with self._lock:
                if not self._running:
                    return
                name, start = self._running[-1]
                tasks = _spark_tasks()
                line = f"[{self.job}] {name:<28}{tasks:>17}  {time.perf_counter() - start:8.1f} s"
                sys.stdout.write("\r\x1b[K" + line)
                sys.stdout.flush()

    def _clear_line(self) -> None:
        if self._live:
            sys.stdout.write("\r\x1b[K")
            sys.stdout.flush()

    def say(self, text: str) -> None:
        self.echo(f"[{self.job}] {text}")

    def echo(self, text: str) -> None:
        """Print a block as it is (unless quiet)."""
        if self.quiet:
            return
        with self._lock:
            self._clear_line()
            print(text, flush=True)

    @property
    def total_seconds(self) -> float:
        return time.perf_counter() - self._t0


@dataclass
class JobContext:
    """What a job's `run` receives: its arguments, the configuration, a Spark session
    started on first use, and its progress printer."""

    name: str
    args: argparse.Namespace
    config: Config
    progress: Progress
    _spark: Any = field(default=None, repr=False)

    @property
    def spark(self):
        if self._spark is None:
            from jobs.lib.spark import session_for
            self._spark = session_for(self.config, verbose=getattr(self.args, "verbose", False))
            self.progress.say(f"Spark {self._spark.version} started, master {self._spark.sparkContext.master}")
        return self._spark


def _spark_tasks() -> str:
    """'tasks 34/200' of the stages Spark is running now, '' when none (or no Spark)."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is None:
        return ""
    try:
        tracker = context.statusTracker()
        stages = [tracker.getStageInfo(s) for s in tracker.getActiveStageIds()]
    except Exception:  # noqa: BLE001 - the live line is a courtesy; never fail a job for it
        return ""
    stages = [s for s in stages if s is not None]
    if not stages:
        return ""
    return f"tasks {sum(s.numCompletedTasks for s in stages):,}/{sum(s.numTasks for s in stages):,}"


def start_line(name: str, config: Config) -> str:
    """The job's first line: code version, configuration overlays, Spark master, data dir."""
    from jobs.lib.spark import under_spark_submit

    master = config.spark.master or ("set by spark-submit" if under_spark_submit() else "none (needs spark-submit)")
    overlays = " + ".join(["base.yaml", *config.overlays])
    return (f"[{name}] dmde {code_version()} · configuration {overlays} · Spark master {master} · "
            f"data {config.data_dir}")


def execute(name: str, module: ModuleType, args: argparse.Namespace) -> int:
    """Run a job module with its parsed arguments; the exit code."""
    prog = f"dmde {name}"
    try:
        config = load_job_config(args)
        ctx = JobContext(name, args, config, Progress(name))
        if getattr(module, "PRINTS_START_LINE", True):
            print(start_line(name, config), flush=True)
        return module.run(ctx)
    except DmdeError as err:
        what = "configuration error\n" if err.exit_code == 2 else ""
        print(f"{prog}: {what}{err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; a run that had not committed changed nothing.", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the last line of defence: never a traceback
        if getattr(args, "verbose", False) or os.environ.get("DMDE_TRACEBACK"):
            traceback.print_exc()
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"{prog}: unexpected error {type(err).__name__}{': ' + first[:300] if first else ''}. "
              f"This is not a data or configuration problem the job knows how to explain; tables "
              f"that were not committed are unchanged. Rerun with --verbose to see the traceback, "
              f"and report it with the command line you used.", file=sys.stderr)
        return 1


def job_main(module: ModuleType, argv: Sequence[str] | None = None) -> int:
    """Entry point of `spark-submit jobs/<job>.py`: the same arguments as `dmde <job>`."""
    name = module.__name__.rsplit(".", 1)[-1]
    parser = argparse.ArgumentParser(prog=f"spark-submit {sys.argv[0]}", description=module.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    module.add_arguments(parser)
    return execute(getattr(module, "JOB_NAME", name), module, parser.parse_args(argv))
