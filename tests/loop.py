"""Copies of the shared population for the tests that change it, and the control loop
replayed on one (the `replayed` fixture of conftest): 2026-01 and 2026-02 scored and their DMDE controls simulated, with a capacity of
about 10 % of households a month (`reference_households` lowered) so that a month has
about 220 DMDE controls."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from jobs.lib.config import Config, load_config

REPLAY_MONTHS = (date(2026, 1, 1), date(2026, 2, 1))
REPLAY_CAPACITY = {"capacity": {"reference_households": 138_000}}  # 13 833 a month × 2 500 / 138 000 ≈ 250


def replay_config(data_dir: Path | str, **overrides) -> Config:
    """The configuration of a replayed data dir (and of its copies)."""
    return load_config(env="local", overrides={"data_dir": str(data_dir), **REPLAY_CAPACITY, **overrides})


def copy_population(population, tmp_path: Path, name: str = "copy") -> Config:
    """The configuration of a copy of the shared population's data dir, for a test that
    changes its tables."""
    data_dir = tmp_path / name
    shutil.copytree(population.data_dir, data_dir)
    return load_config(env="local", overrides={"data_dir": str(data_dir)})
