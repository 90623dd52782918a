"""Simulating a month's DMDE controls (`dmde simulate-controls`, and each month of `dmde
replay`): reads what the scoring job published for the month, draws the controls
(transforms/simulation.py) and their outcomes from the generator's truth
(transforms/synth_labels.py), and writes them to the `controls` source table.

The month's DMDE rows are replaced in one Delta commit (`replaceWhere` on origin DMDE and
the month's control dates): a rerun gives the same rows and no duplicates; the OPBD and
OTHER rows are untouched. The DMDE controls the generator drew for that month (by
archetype risk, not from lists) are replaced too: from then on the month's DMDE controls
are the ones that followed the lists. The commit records the month and the score run it
followed, which is how `dmde replay` knows where to resume.
"""
from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from domain.calendar import Span, add_months
from domain.errors import DmdeError
from domain.synth import Simulation
from jobs.lib import delta, synthetic, tables
from jobs.lib.config import Config
from jobs.lib.opbd import caf_starts
from jobs.lib.publish import published_run, read_published
from jobs.lib.runner import Progress, new_run_id
from jobs.lib.sources import read_sources
from transforms import model, populations, ranking, simulation, synth_labels

OPERATION = "SIMULATE CONTROLS"
GENERATE = "GENERATE"


class SimulationError(DmdeError):
    """A month whose controls cannot be simulated: nothing is written."""


@dataclass(frozen=True)
class Simulated:
    month: date
    score_run_id: str
    controls: int
    on_list: int
    on_site: int
    fraud: int
    capacity: int


def month_dates(month: date) -> list[date]:
    return [month.replace(day=d) for d in range(1, calendar.monthrange(month.year, month.month)[1] + 1)]


def simulated_months(config: Config) -> dict[date, tuple[str, int]]:
    """{month: (the score run its controls followed, the version of `controls` they were
    committed in)} for the months simulated since the controls table was last generated
    (read from its Delta log; a month simulated longer ago than the log retention is not
    listed, and would be simulated again)."""
    path = config.source_path("controls")
    if not delta.exists(path):
        return {}
    found: dict[date, tuple[str, int]] = {}
    for commit in delta.history(path):       # newest first
        meta = commit["meta"]
        if str(meta.get("operation", "")).startswith(GENERATE):
            break
        if meta.get("operation") == OPERATION:
            found.setdefault(date.fromisoformat(meta["simulated_month"]), (meta["score_run_id"], commit["version"]))
    return found


def months_done(wanted: list[date], published: Callable[[date], str | None],
                simulated: Mapping[date, tuple[str, int]]) -> list[date]:
    """The first months of `wanted` that a replay can skip: each one's controls followed the
    score run published now (`published(month)`: its run id, or None), and were committed
    after the month before's (else that month's controls changed since it was scored)."""
    _, previous = simulated.get(add_months(wanted[0], -1), (None, -1)) if wanted else (None, -1)
    done = []
    for month in wanted:
        score_run, version = simulated.get(month, (None, -1))
        if version <= previous or score_run is None or score_run != published(month):
            break
        done.append(month)
        previous = version
    return done


def _bias_categories(spark: SparkSession, config: Config, month: date, features: DataFrame,
                     attributes: list[str]) -> DataFrame:
    """household_id and the month's population categories of `attributes` (MONITORING.md §1),
    as of the month's as-of date, for the households of `features`."""
    cal = config.calendar(month)
    sources = read_sources(spark, config, Span.of(cal), with_controls=False)
    categories = populations.protected_attributes(features, sources.households, sources.members,
                                                  sources.payments, cal=cal, spec=config.populations)
    return categories.select("household_id", *attributes)


def simulate_controls(spark: SparkSession, config: Config, month: date, progress: Progress | None = None,
                      settings: Simulation | None = None) -> Simulated:
    """Simulate and write the DMDE controls of `month` (its scores must be published)."""
    progress = progress or Progress("simulate-controls")
    origin = synthetic.require_synthetic(config)
    spec = config.synth()
    settings = settings or spec.simulation
    seed, truth = origin.seed, spec.truth
    run = published_run(spark, config, "runs", month, "score")
    if run is None:
        raise SimulationError(f"{month:%Y-%m} has no published score run in {config.data_dir}: controllers "
                              f"take their controls from its lists. Run `dmde score --month {month:%Y-%m}` first "
                              "(or `dmde replay`, which scores each month before simulating it).")
    progress.say(f"controls of {month:%Y-%m} from score run {run.run_id} (seed {seed})")
    later = sorted(m for m in simulated_months(config) if m > month)
    if later:
        progress.say(f"note: {len(later)} later month(s) ({later[0]:%Y-%m} …) were scored and simulated before "
                     f"these controls existed: their eligibility may not hold any more; "
                     f"`dmde replay --from {add_months(month, 1):%Y-%m} --to {later[-1]:%Y-%m}` redoes them.")

    scores = read_published(spark, config, "scores", month)
    eligible = scores.where(F.col("eligible")).select("caf", "household_id", "rank_in_caf", "households_in_caf")
    lists = None
    for back in range(settings.list_months):
        list_month = add_months(month, -back)
        if back and published_run(spark, config, "runs", list_month, "score") is None:
            continue    # a month not scored has no list to take controls from
        listed = read_published(spark, config, "targets", list_month).select("household_id", "score_month")
        lists = listed if lists is None else lists.unionByName(listed)
    capacity = ranking.monthly_capacity(
        scores, national_per_year=config.capacity.national_controls_per_year,
        reference_households=config.capacity.reference_households,
        per_caf_monthly=config.capacity.per_caf_monthly)
    quotas = simulation.quotas(capacity, settings, seed, month).persist()

    features = read_published(spark, config, "features", month)
    bias, effect = settings.controller_bias, truth.attribute_effect
    attributes = sorted({a.attribute for a in (bias, effect) if a is not None})
    if attributes:
        categories = _bias_categories(spark, config, month, features.join(eligible.select("household_id"),
                                                                          on="household_id", how="left_semi"),
                                      attributes)
        if bias is not None:
            eligible = eligible.join(categories.select("household_id", F.col(bias.attribute)
                                                       .alias(simulation.BIAS_CATEGORY)),
                                     on="household_id", how="left")
    chosen = simulation.controls_of_month(eligible, lists, quotas, settings, seed, month)

    # Outcomes from the truth, with the variables of the month's features (the score month
    # is the control month, as for the generator's OPBD sample).
    truth_spec = truth.model_spec(config.model)
    labelled = (chosen.select("caf", "household_id", "control_month", "control_date", "mode", "target_score_month")
                .join(features.select("household_id", *[v.name for v in config.model.variables]),
                      on="household_id", how="inner")
                .transform(model.with_prefill_start(caf_starts(spark, config))))
    if effect is not None:
        labelled = labelled.join(categories.select("household_id", F.col(effect.attribute)
                                                   .alias(synth_labels.PLANTED_CATEGORY)),
                                 on="household_id", how="left")
    in_target = synth_labels.is_target(
        synth_labels.truth_probability(truth, truth_spec, origin.truth_intercepts), seed)
    found = synth_labels.with_outcomes(labelled, in_target, spec.outcomes, truth_spec.target, seed)
    rows = (simulation.with_fraud_share(found, settings.fraud_share, seed)
            .transform(simulation.as_controls)
            .persist(StorageLevel.MEMORY_AND_DISK))

    def count():
        return rows.agg(F.count(F.lit(1)).alias("controls"),
                        F.count("target_score_month").alias("on_list"),
                        F.sum((F.col("mode") == simulation.ON_SITE).cast("long")).alias("on_site"),
                        F.sum(F.col("fraud").cast("long")).alias("fraud")).first()

    counts = progress.stage("controls", count)
    total_capacity = quotas.agg(F.sum("capacity")).first()[0] or 0

    def write() -> delta.Commit | None:
        return tables.write_source(
            config, "controls", rows, run_id=new_run_id("simulate-controls", month),
            operation=OPERATION, mode="overwrite",
            replace={"origin": [simulation.DMDE], "control_date": month_dates(month)},
            meta={"simulated_month": f"{month:%Y-%m-%d}", "score_run_id": run.run_id})

    progress.stage("write controls", write)
    rows.unpersist()
    quotas.unpersist()
    return Simulated(month=month, score_run_id=run.run_id, controls=counts.controls, on_list=counts.on_list,
                     on_site=counts.on_site or 0, fraud=counts.fraud or 0, capacity=int(total_capacity))


def summary(result: Simulated) -> str:
    n = max(result.controls, 1)
    return (f"{result.month:%Y-%m}: {result.controls:,} DMDE controls (capacity {result.capacity:,}), "
            f"{result.on_list / n:.1%} from the lists, {result.on_site / n:.1%} on site, "
            f"{result.fraud / n:.1%} fraud")
