"""MONITORING.md §4, §5: primary suppression on each side of min_cell, secondary suppression
in both kinds of additive groups, the smallest-count and key-order rules."""
from __future__ import annotations

import pandas as pd
import pytest

from transforms.monitoring_suppression import suppress_small_cells

KEYS = ["caf", "attribute", "category"]
COUNTS = ["n_selected", "n_reference"]
VALUES = ["share_selected", "representation_ratio", "flag"]


def frame(rows) -> pd.DataFrame:
    """Rows (caf, attribute, category, n_selected, n_reference); values derived."""
    data = pd.DataFrame(rows, columns=KEYS + COUNTS)
    data["share_selected"] = data["n_selected"] / 1000.0
    data["representation_ratio"] = 1.1
    data["flag"] = "NONE"
    data["psi_variable"] = 0.02  # a statistic of the parent: never nulled
    return data


def suppress(data: pd.DataFrame, **kwargs) -> pd.DataFrame:
    options = {"keys": KEYS, "counts": COUNTS, "values": VALUES, "min_cell": 11}
    options.update(kwargs)
    return suppress_small_cells(data, **options)


def reasons(result: pd.DataFrame) -> dict[tuple, str | None]:
    return {tuple(row[k] for k in KEYS): row["suppression_reason"] for _, row in result.iterrows()}


def test_primary_on_each_side_of_min_cell():
    data = frame([("59", "sex", "F", 10, 400), ("59", "sex", "M", 11, 400),
                  ("59", "sex", "UNKNOWN", 0, 0)])
    result = suppress(data, category=None, caf=None)
    assert reasons(result) == {("59", "sex", "F"): "PRIMARY", ("59", "sex", "M"): None,
                               ("59", "sex", "UNKNOWN"): None}  # zeros are published
    assert result["suppressed"].tolist() == [True, False, False]


def test_a_small_reference_count_suppresses_too():
    result = suppress(frame([("59", "sex", "F", 40, 1)]), category=None, caf=None)
    assert result["suppression_reason"].tolist() == ["PRIMARY"]


def test_a_suppressed_row_keeps_its_keys_and_loses_every_count_and_value():
    data = frame([("59", "sex", "F", 10, 400), ("59", "sex", "M", 11, 400)])
    result = suppress(data, category=None, caf=None)
    hidden, shown = result.iloc[0], result.iloc[1]
    assert (hidden["caf"], hidden["attribute"], hidden["category"]) == ("59", "sex", "F")
    assert all(pd.isna(hidden[c]) for c in COUNTS + VALUES)
    assert hidden["psi_variable"] == 0.02
    assert (shown["n_selected"], shown["share_selected"], shown["flag"]) == (11, 0.011, "NONE")
    assert str(result["n_selected"].dtype) == "Int64" and str(result["share_selected"].dtype) == "Float64"
    assert data["n_selected"].tolist() == [10, 11]  # the input is left as it was


def test_secondary_within_the_categories_of_an_attribute():
    data = frame([("59", "age_band", "<25", 5, 300), ("59", "age_band", "25-34", 30, 300),
                  ("59", "age_band", "35-44", 12, 300), ("59", "age_band", ">=65", 40, 300),
                  ("59", "sex", "F", 45, 600), ("59", "sex", "M", 42, 600)])
    assert reasons(suppress(data, caf=None)) == {
        ("59", "age_band", "<25"): "PRIMARY",
        ("59", "age_band", "25-34"): None,
        ("59", "age_band", "35-44"): "SECONDARY",  # the smallest of the others
        ("59", "age_band", ">=65"): None,
        ("59", "sex", "F"): None, ("59", "sex", "M"): None,  # another attribute, another group
    }


def test_two_primary_cells_need_no_secondary():
    data = frame([("59", "age_band", "<25", 5, 300), ("59", "age_band", "25-34", 7, 300),
                  ("59", "age_band", ">=65", 40, 300)])
    assert list(reasons(suppress(data, caf=None)).values()) == ["PRIMARY", "PRIMARY", None]


def test_ties_on_the_smallest_count_go_by_key_order():
    data = frame([("59", "nationality", "NON_EU", 12, 300), ("59", "nationality", "FR", 4, 300),
                  ("59", "nationality", "EU", 12, 300)])
    assert reasons(suppress(data, caf=None)) == {
        ("59", "nationality", "NON_EU"): None, ("59", "nationality", "FR"): "PRIMARY",
        ("59", "nationality", "EU"): "SECONDARY"}  # EU < NON_EU


def test_secondary_among_the_caf_rows_of_a_published_national_row():
    data = frame([("ALL", "sex", "F", 500, 9000), ("59", "sex", "F", 7, 300),
                  ("75", "sex", "F", 20, 300), ("13", "sex", "F", 15, 300)])
    assert reasons(suppress(data, category=None)) == {
        ("ALL", "sex", "F"): None, ("59", "sex", "F"): "PRIMARY",
        ("75", "sex", "F"): None, ("13", "sex", "F"): "SECONDARY"}


def test_no_secondary_among_caf_rows_whose_national_row_is_suppressed():
    data = frame([("ALL", "sex", "F", 9, 9000), ("59", "sex", "F", 7, 300),
                  ("13", "sex", "F", 30, 300), ("14", "sex", "F", 40, 300)])
    assert reasons(suppress(data, category=None)) == {
        ("ALL", "sex", "F"): "PRIMARY", ("59", "sex", "F"): "PRIMARY",
        ("13", "sex", "F"): None, ("14", "sex", "F"): None}


def test_the_two_kinds_cascade_until_no_group_has_a_single_hidden_row():
    """Caf 59: A is small → its B (kind a); then category A has one hidden Caf row → 75's A
    (kind b); then Caf 75 has one hidden row → 75's B (kind a). The national rows stay."""
    data = frame([("ALL", "x", "A", 45, 900), ("ALL", "x", "B", 110, 900),
                  ("59", "x", "A", 5, 400), ("59", "x", "B", 50, 400),
                  ("75", "x", "A", 40, 500), ("75", "x", "B", 60, 500)])
    assert reasons(suppress(data)) == {
        ("ALL", "x", "A"): None, ("ALL", "x", "B"): None,
        ("59", "x", "A"): "PRIMARY", ("59", "x", "B"): "SECONDARY",
        ("75", "x", "A"): "SECONDARY", ("75", "x", "B"): "SECONDARY"}


def test_the_result_does_not_depend_on_the_row_order():
    data = frame([("ALL", "x", "A", 45, 900), ("ALL", "x", "B", 110, 900), ("ALL", "x", "C", 30, 900),
                  ("59", "x", "A", 5, 400), ("59", "x", "B", 50, 400), ("59", "x", "C", 12, 400),
                  ("75", "x", "A", 40, 500), ("75", "x", "B", 60, 500), ("75", "x", "C", 12, 500),
                  ("13", "x", "C", 6, 50)])
    forward = reasons(suppress(data))
    backward = reasons(suppress(data.iloc[::-1].reset_index(drop=True)))
    shuffled = reasons(suppress(data.sample(frac=1.0, random_state=3).set_axis(range(100, 110))))
    assert forward == backward == shuffled
    assert sum(reason is not None for reason in forward.values()) >= 4


def test_the_size_column_chooses_the_secondary_row():
    data = frame([("59", "x", "A", 3, 500), ("59", "x", "B", 50, 20), ("59", "x", "C", 12, 600)])
    assert reasons(suppress(data, caf=None, size="n_reference"))[("59", "x", "B")] == "SECONDARY"
    assert reasons(suppress(data, caf=None))[("59", "x", "C")] == "SECONDARY"


def test_keys_must_identify_the_rows():
    data = frame([("59", "sex", "F", 40, 400), ("59", "sex", "F", 50, 400)])
    with pytest.raises(ValueError, match="keys do not identify the rows"):
        suppress(data)


def test_a_key_cannot_be_nulled():
    with pytest.raises(ValueError, match="key column"):
        suppress(frame([("59", "sex", "F", 40, 400)]), values=["category"])
