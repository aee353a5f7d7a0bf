"""Drawing the cells of a strategy, exactly, in one of two ways:

- ``select``: rows drawn plainly from the model, and the first rows of each cell kept in drawing order (every row
  is an independent draw, so the first k rows of a cell are an exact draw of that cell). The model is used where it
  is best (its unconditional sampler); it costs about max over cells of (asked share / the model's share) times
  the rows, so it is chosen when that factor is small (:data:`MAX_SELECTION_FACTOR`);
- ``condition``: each cell drawn under its own exact conditions (a categorical group's value and the label), for
  rare cells; a numeric attribute's split group is still selected from rows drawn under the other conditions."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError
from synthgov.fairness.groups import GroupSpec
from synthgov.fairness.strategies import Cell

logger = logging.getLogger(__name__)

Draw = Callable[[int, int, Any], pd.DataFrame]  # (rows, seed, conditions) -> rows

MAX_SELECTION_FACTOR = 4.0  # select from plain draws when they need at most this many rows per released row
MAX_ROUNDS = 30  # draws per cell group before a group is declared out of the model's reach
MIN_ROUND = 256  # rows per selection draw at least


def selection_factor(asked: dict[Cell, float], observed: dict[Cell, float]) -> float:
    """Rows to draw per released row when selecting: the largest ratio of a cell's asked to its observed share."""
    return max((share / observed[cell] if observed.get(cell, 0) > 0 else math.inf) for cell, share in asked.items())


def draw_cells(
    draw: Draw,
    counts: dict[Cell, int],
    specs: list[GroupSpec],
    target: str | None,
    rng: np.random.Generator,
    select: bool = False,
) -> pd.DataFrame:
    """``counts[cell]`` rows of every cell, in a seeded random order."""
    grouped: dict[tuple[tuple[str, Any], ...], dict[Cell, int]] = {}
    for cell, count in counts.items():
        key = () if select else _conditions_of(cell, specs, target)
        grouped.setdefault(key, {})[cell] = count
    parts = []
    total = sum(counts.values())
    with progress.step(f"fair: {total:,} rows in {len(counts)} cells", total=total) as advance:
        for key, wanted in grouped.items():
            conditions = dict(key)
            selected = [i for i, spec in enumerate(specs) if select or spec.is_split]
            if not selected and not select:
                ((_, count),) = wanted.items()
                parts.append(draw(count, int(rng.integers(2**63)), conditions))
            else:
                label = target if select else None
                parts.append(_select(draw, wanted, specs, selected, label, conditions, rng))
            advance(sum(wanted.values()))
    data = pd.concat(parts, ignore_index=True)
    return data.iloc[rng.permutation(len(data))].reset_index(drop=True)


def _conditions_of(cell: Cell, specs: list[GroupSpec], target: str | None) -> tuple[tuple[str, Any], ...]:
    groups = cell[: len(specs)]
    conditions = [(s.column, s.value_of(label)) for s, label in zip(specs, groups, strict=True) if not s.is_split]
    if target is not None:
        conditions.append((target, cell[-1]))
    return tuple(conditions)


def _select(
    draw: Draw,
    wanted: dict[Cell, int],
    specs: list[GroupSpec],
    selected: list[int],
    target: str | None,
    conditions: dict[str, Any],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The wanted rows of each cell, selected in drawing order from rows drawn under ``conditions``: by the groups
    of the ``selected`` attributes, and by the label too when ``target`` is given."""
    remaining = dict(wanted)
    keys = {cell: (*(cell[i] for i in selected), *((cell[-1],) if target else ())) for cell in wanted}
    found: dict[Cell, list[pd.DataFrame]] = {cell: [] for cell in wanted}
    seen = dict.fromkeys(wanted, 0)
    drawn = 0
    for _ in range(MAX_ROUNDS):
        open_cells = [cell for cell, left in remaining.items() if left > 0]
        if not open_cells:
            break
        rates = {cell: (seen[cell] + 1) / (drawn + 2) for cell in open_cells}  # Laplace: never zero
        size = max(MIN_ROUND, max(math.ceil(1.1 * remaining[c] / rates[c]) for c in open_cells))
        size = min(size, 50 * sum(wanted.values()) + 10_000)
        rows = draw(size, int(rng.integers(2**63)), conditions or None)
        parts = [specs[i].assign(rows) for i in selected] + ([rows[target].astype(object)] if target else [])
        labels = pd.Series(list(zip(*parts, strict=True)), index=rows.index)
        drawn += size
        for cell in wanted:
            members = rows[(labels == keys[cell]).to_numpy()]
            seen[cell] += len(members)
            if remaining[cell] > 0:
                taken = members.iloc[: remaining[cell]]
                found[cell].append(taken)
                remaining[cell] -= len(taken)
    missing = {cell: left for cell, left in remaining.items() if left > 0}
    if missing:
        cell = next(iter(missing))
        raise InputError(
            f"the model drew {seen[cell]:,} rows of {', '.join(map(str, keys[cell]))} in {drawn:,} rows under "
            f"{conditions or 'no conditions'}: too rare to give the {wanted[cell]:,} rows asked; choose another split"
        )
    return pd.concat([frame for frames in found.values() for frame in frames], ignore_index=True)
