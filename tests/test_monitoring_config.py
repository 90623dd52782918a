"""MONITORING.md §0: the `monitoring` section of conf/base.yaml loads with the published
values, and every impossible value fails on load, naming the key."""
from __future__ import annotations

import pytest

from domain.errors import ConfigError
from jobs.lib.config import DEFAULT_CONF_DIR, load_config


def test_the_published_monitoring_settings():
    monitoring = load_config("local", conf_dir=DEFAULT_CONF_DIR).monitoring
    assert monitoring.model_dump(mode="json") == {
        "evaluation_months": 12, "fractions": [0.012, 0.05, 0.10, 0.20],
        "parity_fractions": [0.10, 0.20], "horizons_months": [3, 6, 12],
        "list_lookback_months": 3, "baseline_months": 6, "min_cell": 11, "band": [0.8, 1.25],
        "psi": {"floor": 0.0001, "moderate": 0.10, "significant": 0.25},
        "score_bins": [0, 0.05, 0.10, 0.15, 0.20, 0.30, 0.40, 1.0],
        "bootstrap": {"replicates": 1000, "seed": 20260101, "level": 0.95},
        "intersections": [["family_situation", "sex"], ["nationality", "sex"]],
        "attributes_retention_months": 25,
    }


BROKEN = {
    "band not ordered": ({"band": [1.25, 0.8]},
                         "<overrides>: monitoring.band: must be ordered [low, high] with low < high"),
    "band without 1": ({"band": [1.1, 1.25]}, "<overrides>: monitoring.band: must hold 1"),
    "band of three": ({"band": [0.8, 1, 1.25]}, "<overrides>: monitoring.band"),
    "fraction zero": ({"fractions": [0, 0.1]}, "<overrides>: monitoring.fractions[0]: must be > 0"),
    "fraction above 1": ({"fractions": [0.1, 1.5]},
                         "<overrides>: monitoring.fractions[1]: must be <= 1 (got 1.5)"),
    "fractions not increasing": ({"fractions": [0.1, 0.05]},
                                 "<overrides>: monitoring.fractions[1]: must be > the previous value"),
    "no fraction": ({"fractions": []}, "<overrides>: monitoring.fractions: must have at least 1"),
    "parity fraction not a fraction": (
        {"parity_fractions": [0.10, 0.30]},
        "<overrides>: monitoring.parity_fractions[1]: must be one of fractions (0.3 is not)"),
    "horizon zero": ({"horizons_months": [0, 3]},
                     "<overrides>: monitoring.horizons_months[0]: must be > 0"),
    "horizons repeated": ({"horizons_months": [3, 3]},
                          "<overrides>: monitoring.horizons_months[1]: must be > the previous value"),
    "min_cell zero": ({"min_cell": 0}, "<overrides>: monitoring.min_cell: must be > 0 (got 0)"),
    "psi floor zero": ({"psi": {"floor": 0}}, "<overrides>: monitoring.psi.floor: must be > 0"),
    "psi thresholds swapped": ({"psi": {"moderate": 0.3, "significant": 0.2}},
                               "<overrides>: monitoring.psi.significant: must be > moderate"),
    "score bins not covering [0, 1]": (
        {"score_bins": [0, 0.5, 0.9]}, "<overrides>: monitoring.score_bins: must start at 0 and end at 1"),
    "score bins not increasing": (
        {"score_bins": [0, 0.5, 0.5, 1]}, "<overrides>: monitoring.score_bins[2]: must be > the previous"),
    "level 1": ({"bootstrap": {"level": 1}}, "<overrides>: monitoring.bootstrap.level: must be < 1"),
    "negative seed": ({"bootstrap": {"seed": -1}}, "<overrides>: monitoring.bootstrap.seed: must be >= 0"),
    "no replicate": ({"bootstrap": {"replicates": 0}},
                     "<overrides>: monitoring.bootstrap.replicates: must be > 0"),
    "unknown attribute": ({"intersections": [["sex", "religion"]]},
                          "<overrides>: monitoring.intersections[0]: unknown attribute(s) religion"),
    "attribute with itself": ({"intersections": [["sex", "sex"]]},
                              "<overrides>: monitoring.intersections[0]: crosses sex with itself"),
    "duplicate intersection": ({"intersections": [["sex", "nationality"], ["nationality", "sex"]]},
                               "<overrides>: monitoring.intersections[1]: duplicate of intersections[0]"),
    "unknown key": ({"alpha": 0.05}, "<overrides>: monitoring.alpha: unknown key"),
    "fraction as a string": ({"fractions": ["0.1"]},
                             "<overrides>: monitoring.fractions[0]: must be a number"),
}


@pytest.mark.parametrize("override, message", BROKEN.values(), ids=BROKEN.keys())
def test_broken_monitoring_settings(override, message):
    with pytest.raises(ConfigError) as raised:
        load_config("local", conf_dir=DEFAULT_CONF_DIR, overrides={"monitoring": override})
    assert message in str(raised.value)


def test_a_fraction_of_1_is_the_whole_caf():
    monitoring = load_config("local", conf_dir=DEFAULT_CONF_DIR,
                             overrides={"monitoring": {"fractions": [0.5, 1],
                                                        "parity_fractions": [1]}}).monitoring
    assert (monitoring.fractions, monitoring.parity_fractions) == ((0.5, 1.0), (1.0,))
