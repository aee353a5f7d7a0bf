"""Discretisation of modelled columns on their uniform scale, shared by the Bayesian network and the neural
generators.

A column becomes tokens: a category is its own token; a number either keeps every distinct value as a token
(when it has at most ``bins`` of them, e.g. ``age`` or ``capital-gain``) or is cut into at most ``bins`` bins of
about equal frequency that never split a value (a point mass such as ``capital-gain = 0`` is one bin); missing
values get their own first token. Each token owns an interval ``[edges[k], edges[k+1])`` of the uniform scale,
so a generator that draws a token then ``u`` uniformly in its interval reproduces the column's marginal exactly
within every token.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgov.generators.marginals import CategoricalMarginal, NumericMarginal
from synthgov.generators.transformer import TableTransformer, category_intervals


def category_edges(marginal: CategoricalMarginal) -> np.ndarray:
    """Token edges of a categorical column (code order)."""
    _, hi = category_intervals(marginal.probs, None)
    return np.concatenate([[0.0], hi])


def numeric_tokens(
    series: pd.Series, transformer: TableTransformer, name: str, bins: int, exact: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Tokens of a numeric or datetime column and their edges on the uniform scale (see module docstring).
    ``exact``: a column with at most ``bins`` distinct values keeps one token per value."""
    assert transformer.schema is not None
    marginal = transformer.marginals[name]
    assert isinstance(marginal, NumericMarginal)
    numbers = transformer.numbers(series, transformer.schema[name])
    lo, hi = marginal.cdf_interval(numbers)
    missing = ~np.isfinite(numbers)
    if exact and marginal.discrete and marginal.points.size <= bins:
        values = np.where(missing, marginal.points[0], numbers)
        raw = np.where(missing, -1, np.searchsorted(marginal.points, values, side="left"))
    else:
        p = marginal.p_missing
        inner_mid = ((lo + hi) / 2 - p) / max(1 - p, 1e-300)
        raw = np.where(missing, -1, np.minimum((inner_mid * bins).astype(np.int64), bins - 1))
    labels, codes = np.unique(raw, return_inverse=True)
    starts = _label_min(lo, codes, labels.size)  # the lowest u of each token
    starts[0] = 0.0
    return codes.astype(np.int64), np.append(starts, 1.0)


def _label_min(values: np.ndarray, codes: np.ndarray, size: int) -> np.ndarray:
    out = np.full(size, np.inf)
    np.minimum.at(out, codes, values)
    return out


def token_of(edges: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The token whose interval holds ``u``."""
    return np.clip(np.searchsorted(edges, u, side="right") - 1, 0, edges.size - 2)


def uniform_in_token(edges: np.ndarray, tokens: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return edges[tokens] + rng.random(tokens.size) * (edges[tokens + 1] - edges[tokens])
