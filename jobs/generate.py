"""Write a synthetic population's six source tables as Delta tables.

    dmde generate --households 100000 --start 2023-08 --end 2026-01 --seed 7 --data-dir data

The tables go to <data-dir>/sources/<table> (households, members, payments, declarations,
events, controls). The same arguments give identical tables; every draw is a seeded hash
computed on the executors, so the job scales with the cluster.
"""
from __future__ import annotations

import argparse
import sys
import uuid
from datetime import date

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from domain.calendar import Span, add_months, months_between
from domain.errors import DmdeError
from domain.synth import SynthSpec
from jobs.lib import synthetic, tables
from jobs.lib.config import Config
from jobs.lib.opbd import features_at_control, fit_intercepts, with_population_category
from jobs.lib.runner import JobContext, Progress, job_main, month_argument
from jobs.lib.sources import read_sources
from transforms import synth, synth_labels


# The intercepts' common shift that makes the drawn OPBD rate the published one is searched
# in ±BISECTION_RANGE (log-odds), halving the interval BISECTION_STEPS times.
BISECTION_RANGE = 3.0
BISECTION_STEPS = 14


class GenerationError(DmdeError):
    """Arguments that cannot describe a population."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--households", type=int, required=True, help="number of households")
    parser.add_argument("--start", required=True, type=month_argument, help="first month YYYY-MM")
    parser.add_argument("--end", required=True, type=month_argument, help="last month YYYY-MM (inclusive)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--partitions", type=int, default=None,
                        help="Spark partitions of the household ids (default: 2 per 100 000, at least 4)")


def generate(spark: SparkSession, config: Config, *, households: int, start: date, end: date, seed: int,
             partitions: int | None = None, progress: Progress | None = None) -> dict[str, int]:
    """Generate and write the source tables; return the rows written per table."""
    if households <= 0:
        raise GenerationError(f"--households must be positive (got {households})")
    if end < start:
        raise GenerationError(f"--end {end:%Y-%m} is before --start {start:%Y-%m}")
    spec = config.synth()
    period = synth.Period(start, months_between(start, end) + 1)
    cafs = [(c.code, c.relative_size, c.prefill_start) for c in config.cafs]
    progress = progress or Progress("generate")
    run_id = f"generate-{uuid.uuid4().hex[:12]}"
    partitions = partitions or max(4, households // 50_000)

    ids = spark.range(0, households, numPartitions=partitions)
    # Six tables read the households' static draws: drawn once, kept for all of them.
    frame = synth.household_frame(ids, spec, cafs, period, seed).persist(StorageLevel.MEMORY_AND_DISK)
    months = synth.household_months(frame, spec, period, config.smic_table, seed)
    truth_intercepts: dict[str, float] = {}

    def controls() -> DataFrame:
        # OPBD outcomes need the variables of the tables written above
        opbd, intercepts = opbd_controls(spark, config, spec, households, period, seed)
        truth_intercepts.update(intercepts)
        return synth.dmde_controls(frame, spec, config.model.target, period, seed).unionByName(opbd)

    frames = {
        "households": lambda: synth.households_table(months),
        "members": lambda: synth.members_table(frame, period, seed),
        "payments": lambda: synth.payments_table(months),
        "declarations": lambda: synth.declarations_table(frame, spec, period, config.smic_table, seed),
        "events": lambda: synth.events_table(months, spec, seed),
        "controls": controls,
    }

    def write(name: str) -> int:
        tables.write_source(config, name, frames[name](), run_id=run_id,
                            operation=f"GENERATE seed={seed} households={households}")
        # The mark `dmde simulate-controls` requires; on controls, what it draws outcomes with.
        synthetic.mark(spark, config, name,
                       synthetic.controls_mark(seed, truth_intercepts) if name == "controls" else None)
        return tables.row_count(config.source_path(name))

    try:
        return {name: progress.stage(f"write {name}", write, name) for name in frames}
    finally:
        frame.unpersist()


def opbd_controls(spark: SparkSession, config: Config, spec: SynthSpec, households: int, period: synth.Period,
                  seed: int) -> tuple[DataFrame, dict[str, float]]:
    """The random-control sample of the extract's last 12 months, its outcomes drawn from the
    truth (`synth.truth`) applied to the variables the scoring job computes (the sources just
    written, which the generator makes rule-abiding: they are not validated again); and the
    truth's intercepts (shift included), which `dmde simulate-controls` draws with too."""
    c, truth = spec.controls, spec.truth
    wanted = max(c.opbd_min, round(c.opbd_per_year_national * households / c.national_households))
    sample_months = min(12, period.months - 1)
    snapshots = tables.read_source(spark, config, "households")
    sample = synth_labels.draw_sample(snapshots, last_month=period.end, months=sample_months,
                                      probability=min(1.0, wanted / households), seed=seed)
    span = Span(config.calendar(add_months(period.end, 1 - sample_months)), config.calendar(period.end))
    truth_spec = truth.model_spec(config.model)
    sources = read_sources(spark, config, span, with_controls=False)
    labelled = features_at_control(spark, config, sources, span, sample, truth_spec)
    if truth.attribute_effect is not None:
        labelled = with_population_category(config, sources, span, labelled, truth.attribute_effect.attribute,
                                            synth_labels.PLANTED_CATEGORY)
    labelled = labelled.persist()
    rate = truth_spec.target.published_rate
    intercepts = {name: b0 for name, (b0, _, _) in fit_intercepts(labelled, truth_spec, rate).items()}
    # Shift the intercepts together until the drawn outcomes hit the published rate (the
    # planted odds ratios and attribute effect included): a sample of a few thousand would
    # otherwise miss it by a point by chance alone. The truth's own shift comes on top.
    size = labelled.count()

    def drawn_rate(shift: float) -> float:
        shifted = {name: b0 + shift for name, b0 in intercepts.items()}
        in_target = synth_labels.is_target(synth_labels.truth_probability(truth, truth_spec, shifted), seed)
        return labelled.where(in_target).count() / size

    low, high = -BISECTION_RANGE, BISECTION_RANGE
    for _ in range(BISECTION_STEPS):  # the shift to 1/2700: far below one outcome of the sample
        middle = (low + high) / 2
        low, high = (middle, high) if drawn_rate(middle) < rate else (low, middle)
    shift = (low + high) / 2 + truth.intercept_shift
    truth_intercepts = {name: b0 + shift for name, b0 in intercepts.items()}
    return synth_labels.opbd_controls(labelled, truth, truth_spec, truth_intercepts, spec.outcomes, c, seed), \
        truth_intercepts


def run(ctx: JobContext) -> int:
    args = ctx.args
    counts = generate(ctx.spark, ctx.config, households=args.households, start=args.start, end=args.end,
                      seed=args.seed, partitions=args.partitions, progress=ctx.progress)
    ctx.progress.say(f"{args.households:,} households, {args.start:%Y-%m} to {args.end:%Y-%m}, "
                     f"seed {args.seed}, in {ctx.progress.total_seconds:.1f} s")
    for name, rows in counts.items():
        print(f"  {ctx.config.source_path(name):<60} {rows:>14,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))
