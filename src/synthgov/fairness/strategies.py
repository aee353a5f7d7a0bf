"""What each strategy asks of the released rows, as a share per cell: a cell is one group of every sensitive
attribute and, with a target, one label.

- ``rebalance``: group shares as requested (equal by default, or ``shares``; several attributes: the product of
  their shares); with a target, each group keeps its own label rates.
- ``parity``: group shares as in the source, and every group gets the source's overall label distribution
  (statistical parity of the data); within a cell, rows follow the model's P(other columns | group, label), so
  each group keeps its other conditional distributions (Kamiran & Calders' reweighing, done by sampling).
- ``counterfactual`` has no cell shares: see :mod:`synthgov.fairness.counterfactual`."""

from __future__ import annotations

import logging
import math
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.fairness.groups import GroupSpec

logger = logging.getLogger(__name__)

STRATEGIES = ("rebalance", "parity", "counterfactual")

Cell = tuple[Any, ...]


def positive_label(labels: pd.Series) -> Any:
    """The label whose rate the figures compare: the minority class of a binary target (as the evaluation's
    utility does), else the most frequent class."""
    counts = labels.value_counts()
    return counts.index[-1] if len(counts) == 2 else counts.index[0]


def joint_groups(frame: pd.DataFrame, specs: list[GroupSpec]) -> pd.Series:
    """Each row's group of every attribute, joined as one tuple."""
    parts = [spec.assign(frame) for spec in specs]
    return pd.Series(list(zip(*parts, strict=True)), index=frame.index)


def parse_shares(shares: Any, specs: list[GroupSpec]) -> dict[str, float] | None:
    """``--shares 'Female=0.5,Male=0.5'`` (or a mapping) for one sensitive attribute: each group's share."""
    if shares is None or shares == {} or shares == "":
        return None
    if len(specs) != 1:
        raise InputError("--shares applies to one --fair column; with several, each gets equal shares")
    if isinstance(shares, str):
        parsed: dict[str, Any] = {}
        for item in (part.strip() for part in shares.split(",") if part.strip()):
            label, sep, value = item.rpartition("=")
            if not sep or not label.strip():
                raise InputError(f"--shares entry '{item}' is not GROUP=SHARE")
            parsed[label.strip()] = value.strip()
        shares = parsed
    if not isinstance(shares, dict):
        raise InputError("--shares must be GROUP=SHARE,... or a mapping {group: share}")
    labels = specs[0].labels
    out: dict[str, float] = {}
    for label, value in shares.items():
        if str(label) not in labels:
            known = ", ".join(labels)
            raise InputError(f"--shares group '{label}' is not a group of {specs[0].text} (groups: {known})")
        try:
            share = float(value)
        except (TypeError, ValueError):
            raise InputError(f"--shares of '{label}' must be a number in [0, 1], got {value!r}") from None
        if not 0 <= share <= 1 or math.isnan(share):
            raise InputError(f"--shares of '{label}' must be in [0, 1], got {value!r}")
        out[str(label)] = share
    total = sum(out.values())
    if total > 1 + 1e-9:
        raise InputError(f"--shares add up to {total:.3f} > 1")
    if total < 1 - 1e-9 and len(out) == len(labels):
        raise InputError(f"--shares of every group add up to {total:.3f}, not 1")
    return out


def cell_shares(
    strategy: str,
    specs: list[GroupSpec],
    source: pd.DataFrame,
    target: str | None,
    shares: dict[str, float] | None,
) -> dict[Cell, float]:
    """The share of every cell under ``strategy``; ``source`` gives the proportions the strategy keeps (the
    training table, or a draw of a DP model)."""
    groups = joint_groups(source, specs)
    known = [set(spec.labels) for spec in specs]  # rows of no group (a DP model's missing value) do not count
    inside = groups.map(lambda cell: all(label in labels for label, labels in zip(cell, known, strict=True)))
    source, groups = source[inside.to_numpy()], groups[inside]
    observed = groups.value_counts(normalize=True)
    if strategy == "rebalance":
        per_attribute = [requested_shares(spec, source, shares if len(specs) == 1 else None) for spec in specs]
        group_share = {
            cell: float(np.prod([per_attribute[i][label] for i, label in enumerate(cell)]))
            for cell in product(*[list(p) for p in per_attribute])
        }
    else:  # parity, and "as-is" (the source's own shares, which a selection is measured against)
        group_share = {cell: float(share) for cell, share in observed.items()}
    group_share = {cell: share for cell, share in group_share.items() if share > 0}
    if target is None:
        return group_share
    labels = source[target]
    overall = labels.value_counts(normalize=True)
    out: dict[Cell, float] = {}
    for cell, share in group_share.items():
        if strategy == "parity" or (strategy == "rebalance" and cell not in observed.index):
            rates = overall
        else:
            rates = labels[groups == cell].value_counts(normalize=True)
        for label, rate in rates.items():
            if rate > 0:
                out[(*cell, label)] = share * float(rate)
    return out


def requested_shares(spec: GroupSpec, source: pd.DataFrame, shares: dict[str, float] | None) -> dict[str, float]:
    labels = spec.labels
    if not shares:
        return {label: 1.0 / len(labels) for label in labels}
    rest = 1.0 - sum(shares.values())
    others = [label for label in labels if label not in shares]
    observed = spec.assign(source).value_counts()
    weights = np.array([float(observed.get(label, 0)) for label in others])
    out = dict(shares)
    if others:
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(others), 1 / len(others))
        out.update({label: rest * float(w) for label, w in zip(others, weights, strict=True)})
    return out


def cell_counts(shares: dict[Cell, float], n: int, groups: int) -> dict[Cell, int]:
    """Whole row counts adding up to ``n``: first per group (the first ``groups`` entries of a cell), then per label
    within each group, each by largest remainder, so every group's count and every label's count within it is
    within one row of its exact share."""
    per_group: dict[Cell, float] = {}
    for cell, share in shares.items():
        per_group[cell[:groups]] = per_group.get(cell[:groups], 0.0) + share
    out: dict[Cell, int] = {}
    for group, rows in _largest_remainder(per_group, n).items():
        within = {cell: share for cell, share in shares.items() if cell[:groups] == group}
        out.update(_largest_remainder(within, rows))
    return {cell: count for cell, count in out.items() if count > 0}


def _largest_remainder(shares: dict[Cell, float], n: int) -> dict[Cell, int]:
    cells = list(shares)
    weights = np.array([shares[c] for c in cells], dtype=float)
    weights = weights / weights.sum()
    exact = weights * n
    counts = np.floor(exact).astype(int)
    short = n - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return {cell: int(k) for cell, k in zip(cells, counts, strict=True)}
