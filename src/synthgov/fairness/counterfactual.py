"""Counterfactual pairs: each drawn row followed by its counterpart, the same row with the sensitive attribute
changed to another group (uniformly among the others) and its declared descendants drawn again from the model
conditioned on everything else. Rows 2k and 2k+1 form pair k; an odd row count leaves the last row unpaired.

Which columns a sensitive attribute causes is a causal claim the data cannot settle, so it is declared
(``descendants``; by default the target only) and stated in the manifest, never guessed."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.fairness.groups import GroupSpec
from synthgov.fairness.sampling import Draw

logger = logging.getLogger(__name__)


def counterfactual_pairs(
    draw: Draw, n: int, spec: GroupSpec, descendants: list[str], kept: list[str], rng: np.random.Generator
) -> pd.DataFrame:
    """``n`` rows as pairs. ``kept``: the columns a counterpart takes from its row (every modelled column that is
    neither the sensitive one nor a descendant); columns generated fresh (identifiers) are fresh in both rows."""
    pairs, single = divmod(n, 2)
    with progress.step(f"fair: {pairs:,} counterfactual pairs", total=n) as advance:
        rows = draw(pairs + single, int(rng.integers(2**63)), None).reset_index(drop=True)
        advance(pairs + single)
        if not pairs:
            return rows
        first = rows.iloc[:pairs]
        swapped = _other_groups(first[spec.column], spec, rng)
        conditions = first[kept].copy()
        conditions[spec.column] = swapped
        twins = draw(pairs, int(rng.integers(2**63)), conditions.reset_index(drop=True)).reset_index(drop=True)
        for column in [*kept, spec.column]:
            _check_kept(twins[column], conditions[column].reset_index(drop=True), column)
            twins[column] = conditions[column].to_numpy()
        advance(pairs)
    order = np.empty(2 * pairs, dtype=int)
    order[0::2] = np.arange(pairs)
    order[1::2] = np.arange(pairs) + pairs
    paired = pd.concat([first, twins], ignore_index=True).iloc[order]
    return pd.concat([paired, rows.iloc[pairs:]], ignore_index=True)


def _other_groups(values: pd.Series, spec: GroupSpec, rng: np.random.Generator) -> np.ndarray:
    """For each row, another category of ``spec``, drawn uniformly among the others."""
    categories = list(spec.categories)
    text = [str(c) for c in categories]
    current = np.array([text.index(str(v)) for v in values])
    shift = rng.integers(1, len(categories), size=len(values))
    chosen = (current + shift) % len(categories)
    return np.array(categories, dtype=object)[chosen]


def _check_kept(drawn: pd.Series, wanted: pd.Series, column: str) -> None:
    """A conditioned value comes back as asked from every generator; if one ever did not, the row is still given
    the asked value (the pair must differ only where declared) and the difference is logged."""
    same = (drawn.astype(object) == wanted.astype(object)) | (drawn.isna() & wanted.isna())
    if not bool(same.all()):
        logger.warning("fair: %d counterparts came back with another '%s' than conditioned on; set to the asked value",
                       int((~same).sum()), column)  # fmt: skip


def differing_columns(first: pd.DataFrame, second: pd.DataFrame) -> dict[str, int]:
    """Per column, in how many pairs the two rows differ (missing equals missing)."""
    out: dict[str, Any] = {}
    for column in first.columns:
        a, b = first[column].reset_index(drop=True), second[column].reset_index(drop=True)
        same = (a.astype(object) == b.astype(object)) | (a.isna() & b.isna())
        out[column] = int((~same).sum())
    return out
