"""The calibrated model of a data directory: where it lives, how it is read and written.

`dmde calibrate` writes `<data-dir>/<paths.models>/<model file name>` (and a dated copy
in `history/`); every job that scores reads it from there and refuses a model whose
intercepts are not calibrated, saying what to run.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from domain.errors import ConfigError
from domain.model import ModelSpec
from jobs.lib.config import Config, load_model, write_model


def calibrated_model_path(config: Config) -> Path:
    return config.folder("models") / config.model_file.name


def load_scoring_model(config: Config, path: Path | None = None) -> ModelSpec:
    """The calibrated model of this data directory (or the file `path`); refuses an
    uncalibrated one."""
    path = path or calibrated_model_path(config)
    spec = load_model(path) if path.exists() else config.model
    missing = spec.uncalibrated_models()
    if missing:
        raise ConfigError(path if path.exists() else config.model_file, "models",
                          f"{', '.join(missing)} have no calibrated intercept: run "
                          f"`dmde calibrate --month YYYY-MM --data-dir {config.data_dir}` first "
                          "(it fits them on the OPBD random-control sample)")
    return spec


def save_calibrated_model(config: Config, spec: ModelSpec, month: date) -> tuple[Path, Path]:
    """Write the calibrated model where scoring reads it, and a dated copy in history/."""
    path = calibrated_model_path(config)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    history = path.parent / "history" / f"{path.stem}-{month:%Y-%m}-{stamp}.yaml"
    write_model(spec, history)
    write_model(spec, path)
    return path, history
