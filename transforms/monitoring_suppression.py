"""Small-cell suppression of the published monitoring tables (MONITORING.md §4, min_cell = 11).

A pure function over a pandas frame of rows with counts, generic over the tables: the caller
names the key, count and value columns. Primary suppression hides the rows a small count
makes identifying; secondary suppression hides, in each additive group left with exactly
one suppressed row, one more row, so that the hidden one cannot be recovered by difference
from the group's total.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from domain.monitoring import NATIONAL, SUPPRESSED_PRIMARY, SUPPRESSED_SECONDARY

SUPPRESSED = "suppressed"
SUPPRESSION_REASON = "suppression_reason"


def suppress_small_cells(rows: pd.DataFrame, *, keys: Sequence[str], counts: Sequence[str],
                         values: Sequence[str] = (), min_cell: int,
                         category: str | None = "category", caf: str | None = "caf",
                         national: str = NATIONAL, size: str | None = None) -> pd.DataFrame:
    """The rows with `suppressed` and `suppression_reason` set and the hidden cells nulled
    (MONITORING.md §4).

    - **Primary**: a row any of whose `counts` is between 1 and min_cell − 1 is PRIMARY.
      Zero counts are published.
    - **Secondary**, over two kinds of additive groups: (a) the rows that differ only by
      `category` (the categories of one attribute under the same table, month, Caf,
      selection or rule, reference, band and window: every other key); (b) the Caf rows
      (`caf` ≠ `national`) that differ only by `caf`, while their national row is published.
      While some group has exactly one suppressed row, its non-suppressed row with the
      smallest `size` count (default: the first of `counts`; ties: key order) becomes
      SECONDARY. Groups are visited in key order, kind (a) first, until none changes, so the
      result does not depend on the frame's row order.
    - On every suppressed row the `counts` and `values` become null (integer columns become
      pandas `Int64`, floats `Float64`, booleans `boolean`); keys and other columns stay
      (e.g. a PSI or AUC of the published parent).

    `keys` identify a row (checked) and give the tie-break order; `category` or `caf` may be
    None for a table without that kind of group. The input frame is not modified.
    """
    keys, counts, values = list(keys), list(counts), list(values)
    size = size or counts[0]
    _check_columns(rows, keys, counts, values, category, caf, size)
    if min_cell < 1:
        raise ValueError(f"min_cell must be >= 1 (got {min_cell})")
    frame = rows.copy()
    n = len(frame)
    # Positions of the rows in key order: the tie-break, and the order groups are visited in.
    key_order = np.empty(n, dtype=np.int64)
    key_order[_sorted_positions(frame, keys)] = np.arange(n)

    primary = np.zeros(n, dtype=bool)
    for column in counts:
        primary |= frame[column].between(1, min_cell - 1).fillna(False).to_numpy(dtype=bool)
    reason = np.where(primary, SUPPRESSED_PRIMARY, None).astype(object)
    suppressed = primary.copy()

    sizes = pd.to_numeric(frame[size], errors="coerce").to_numpy(dtype=float)
    sizes = np.where(np.isnan(sizes), np.inf, sizes)  # a row without a count is never chosen
    groups = _groups(frame, keys, category, caf, national, key_order)

    changed = True
    while changed:
        changed = False
        for members, parent in groups:
            if parent is not None and suppressed[parent]:
                continue  # kind (b) needs a published national row
            hidden = suppressed[members]
            if hidden.sum() != 1:
                continue
            candidates = members[~hidden]
            if candidates.size == 0:
                continue
            chosen = candidates[np.lexsort((key_order[candidates], sizes[candidates]))[0]]
            suppressed[chosen] = True
            reason[chosen] = SUPPRESSED_SECONDARY
            changed = True

    for column in counts + values:
        frame[column] = _nullable(frame[column])
        frame.loc[suppressed, column] = None
    frame[SUPPRESSED] = suppressed
    frame[SUPPRESSION_REASON] = pd.Series(reason, index=frame.index, dtype=object)
    return frame


def _groups(frame: pd.DataFrame, keys: list[str], category: str | None, caf: str | None,
            national: str, key_order: np.ndarray) -> list[tuple[np.ndarray, int | None]]:
    """The additive groups as (member positions, national parent position or None), kind (a)
    then kind (b), each in the key order of its first member."""
    found: list[tuple[np.ndarray, int | None]] = []
    if category is not None:
        others = [key for key in keys if key != category]
        kind_a = [(members, None) for members in _positions_by(frame, others) if members.size > 1]
        found += sorted(kind_a, key=lambda group: key_order[group[0]].min())
    if caf is not None:
        others = [key for key in keys if key != caf]
        is_national = (frame[caf] == national).to_numpy(dtype=bool)
        kind_b = []
        for members in _positions_by(frame, others):
            parents, children = members[is_national[members]], members[~is_national[members]]
            if parents.size == 1 and children.size > 1:
                kind_b.append((children, int(parents[0])))
        found += sorted(kind_b, key=lambda group: key_order[group[0]].min())
    return found


def _positions_by(frame: pd.DataFrame, columns: list[str]) -> list[np.ndarray]:
    if not columns:
        return [np.arange(len(frame))]
    labels = frame.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return [np.asarray(part) for part in np.split(order, bounds)] if len(frame) else []


def _sorted_positions(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Row positions in key order (nulls last), whatever the frame's own order."""
    ordered = frame[keys].reset_index(drop=True).sort_values(keys, kind="mergesort", na_position="last")
    return ordered.index.to_numpy()


def _nullable(column: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(column):
        return column.astype("boolean")
    if pd.api.types.is_integer_dtype(column):
        return column.astype("Int64")
    if pd.api.types.is_float_dtype(column):
        return column.astype("Float64")
    return column.astype(object)


def _check_columns(rows: pd.DataFrame, keys: list[str], counts: list[str], values: list[str],
                   category: str | None, caf: str | None, size: str) -> None:
    missing = [c for c in keys + counts + values + [size] if c not in rows.columns]
    if missing:
        raise ValueError(f"unknown column(s): {', '.join(dict.fromkeys(missing))}")
    for role, column in (("category", category), ("caf", caf)):
        if column is not None and column not in keys:
            raise ValueError(f"the {role} column {column!r} must be one of the keys")
    if size not in counts:
        raise ValueError(f"the size column {size!r} must be one of the counts")
    overlap = set(keys) & set(counts + values)
    if overlap:
        raise ValueError(f"key column(s) cannot be nulled: {', '.join(sorted(overlap))}")
    duplicated = rows.duplicated(keys, keep=False)
    if duplicated.any():
        first = rows.loc[duplicated, keys].iloc[0].to_dict()
        raise ValueError(f"keys do not identify the rows: {int(duplicated.sum())} rows share "
                         f"their keys, e.g. {first}")
