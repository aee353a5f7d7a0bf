"""Rows from a marginal-based DP model (``mst``, ``bayesnet`` with ``epsilon``): the model draws each row's groups
(given evidence), each column's cell is drawn inside its group by the noisy cell weights, and each cell becomes a
value of the column's public domain. Conditions hold exactly: a conditioned column's group is evidence, its cell
and (for numbers) its value are the ones asked for. All of it is post-processing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.generators.conditions import condition_frame
from synthgov.privacy.cells import draw_values
from synthgov.privacy.domains import ColumnDomain
from synthgov.table.schema import Schema

# draw_groups(n, rng, evidence {column index: group}) -> (n x columns) model groups; ValueError: impossible evidence
DrawGroups = Callable[[int, np.random.Generator, dict[int, int]], np.ndarray]


def sample_frame(
    n: int,
    rng: np.random.Generator,
    conditions: Any,
    schema: Schema,
    domains: dict[str, ColumnDomain],
    groups: list[np.ndarray],
    within: list[np.ndarray],
    draw_groups: DrawGroups,
) -> pd.DataFrame:
    from synthgov.generators.transformer import TableTransformer

    names = schema.names
    cond = _conditions(conditions, n, names, domains)
    cells = np.empty((n, len(names)), dtype=np.int64)
    if cond is None:
        cells[:] = _cells(n, rng, {}, names, domains, groups, within, draw_groups)
    else:
        keys = cond.astype(object).where(cond.notna(), None)
        for _, rows in keys.groupby(list(cond.columns), sort=False, dropna=False).indices.items():
            fixed = {name: cond[name].iloc[int(rows[0])] for name in cond.columns}
            cells[rows] = _cells(len(rows), rng, fixed, names, domains, groups, within, draw_groups)
    frame = pd.DataFrame(index=range(n))
    for j, name in enumerate(names):
        values = domains[name].decode(cells[:, j], rng)
        if cond is not None and name in cond.columns and domains[name].kind == "numeric":
            given = pd.to_numeric(cond[name], errors="coerce").to_numpy(dtype=np.float64)
            values = np.where(np.isnan(given), values, given)  # the exact value asked for
        frame[name] = TableTransformer.restore(schema[name], values)
    return frame


def _conditions(conditions: Any, n: int, names: list[str], domains: dict[str, ColumnDomain]) -> pd.DataFrame | None:
    if conditions is None or (isinstance(conditions, dict) and not conditions):
        return None
    frame = condition_frame(conditions, n, names)
    for name in frame.columns:
        for value in pd.unique(frame[name].astype(object)):
            domains[name].code_of(value)  # raises for a value outside the declared domain
    return frame


def _cells(
    n: int,
    rng: np.random.Generator,
    fixed: dict[str, Any],
    names: list[str],
    domains: dict[str, ColumnDomain],
    groups: list[np.ndarray],
    within: list[np.ndarray],
    draw_groups: DrawGroups,
) -> np.ndarray:
    """``n`` rows of cells, the columns in ``fixed`` held at their value's cell."""
    evidence, pinned = {}, {}
    for name, value in fixed.items():
        j = names.index(name)
        pinned[j] = domains[name].code_of(value)
        evidence[j] = int(groups[j][pinned[j]])
    try:
        coarse = draw_groups(n, rng, evidence)
    except ValueError:
        shown = ", ".join(f"{k}={v!r}" for k, v in fixed.items())
        raise InputError(f"the model gives the condition {shown} no probability") from None
    out = np.empty_like(coarse)
    for j in range(len(names)):
        out[:, j] = pinned[j] if j in pinned else draw_values(groups[j], within[j], coarse[:, j], rng)
    return out
