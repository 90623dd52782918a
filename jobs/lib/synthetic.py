"""Synthetic data dirs: what `dmde generate` records on the source tables it writes, and
what the control simulation needs from it.

The generator marks every source table with the Delta table property
`dmde.data_origin = synthetic`, and the `controls` table with its seed and the truth's
intercepts (the ones the OPBD outcomes were drawn with, planted shift included), so that
`dmde simulate-controls` draws the DMDE outcomes from the same truth. A real extract loaded
into a data dir carries no such mark: the simulation refuses it.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from deltalake import DeltaTable as LogTable
from pyspark.sql import SparkSession

from domain.errors import DmdeError
from jobs.lib import delta
from jobs.lib.config import Config
from jobs.lib.sources import SOURCE_TABLES

ORIGIN = "dmde.data_origin"
SYNTHETIC = "synthetic"
SEED = "dmde.synth.seed"
TRUTH_INTERCEPTS = "dmde.synth.truth_intercepts"


class NotSyntheticError(DmdeError):
    """Simulating controls into a data dir whose sources the generator did not write."""


@dataclass(frozen=True)
class SyntheticSources:
    seed: int
    truth_intercepts: dict[str, float]


def mark(spark: SparkSession, config: Config, name: str, extra: Mapping[str, str] | None = None) -> None:
    """Record on a source table the generator just wrote that it is synthetic."""
    delta.properties(spark, config.source_path(name), {ORIGIN: SYNTHETIC, **(extra or {})})


def controls_mark(seed: int, truth_intercepts: Mapping[str, float]) -> dict[str, str]:
    return {SEED: str(seed), TRUTH_INTERCEPTS: json.dumps(dict(sorted(truth_intercepts.items())))}


def _properties(path: str) -> dict[str, str]:
    return dict(LogTable(path).metadata().configuration) if delta.exists(path) else {}


def data_origin(config: Config) -> str:
    """`synthetic` when the generator marked every source table, else `real` (the report's
    banner follows it)."""
    marked = all(_properties(config.source_path(name)).get(ORIGIN) == SYNTHETIC for name in SOURCE_TABLES)
    return SYNTHETIC if marked else "real"


def require_synthetic(config: Config) -> SyntheticSources:
    """The generator's record, or a clear refusal (read from the Delta logs: no Spark job)."""
    unmarked = [name for name in SOURCE_TABLES
                if _properties(config.source_path(name)).get(ORIGIN) != SYNTHETIC]
    controls = _properties(config.source_path("controls"))
    if unmarked or SEED not in controls or TRUTH_INTERCEPTS not in controls:
        tables = ", ".join(unmarked) or "controls (no seed or truth recorded)"
        raise NotSyntheticError(
            f"{config.data_dir} does not hold synthetic sources written by `dmde generate` (not marked "
            f"{ORIGIN}={SYNTHETIC}: {tables}). Controls are simulated on synthetic data only, never on a "
            f"Caf's extract. For a synthetic population, run `dmde generate … --data-dir {config.data_dir}` "
            "(a data dir generated before the mark existed must be generated again).")
    return SyntheticSources(seed=int(controls[SEED]),
                            truth_intercepts={k: float(v) for k, v in json.loads(controls[TRUTH_INTERCEPTS]).items()})
