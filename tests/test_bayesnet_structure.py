"""The Bayesian network's greedy structure search keeps, per child, its best parent set so far and scores only
the sets that contain the column placed last (O(d^3) scores instead of O(d^4)): it must choose exactly what the
full enumeration of the greedy step chooses (PrivBayes' non-private greedy: every remaining child, every set of
at most ``degree`` placed columns, ties to the first met), on real data and on a table made of ties."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.generators.bayesnet import BayesianNetworkSynthesizer


def full_greedy(model, codes: dict, n: int) -> list[tuple[str, list[str]]]:
    """The greedy step as first written: every (child, parent set) scored again at every step."""
    cols = list(codes)
    total = {c: sum(model._score(codes, c, [o], n, penalty=False) for o in cols if o != c) for c in cols}
    max_cells = min(model.max_table_cells, 2 * n)
    root = max(cols, key=lambda c: (total[c], -cols.index(c)))
    network, placed, remaining = [(root, [])], [root], [c for c in cols if c != root]
    while remaining:
        best = None
        for child in remaining:
            for k in range(min(model.degree, len(placed)), -1, -1):
                for parents in combinations(placed, k):
                    cells = model.sizes_[child] * int(np.prod([model.sizes_[p] for p in parents]))
                    if cells > max_cells and k > 0:
                        continue
                    score = model._score(codes, child, list(parents), n)
                    if best is None or score > best[0]:
                        best = (score, child, list(parents))
        network.append((best[1], best[2]))
        placed.append(best[1])
        remaining.remove(best[1])
    return network


def fitted_with_codes(frame: pd.DataFrame, monkeypatch, **params) -> tuple:
    seen = {}
    original = BayesianNetworkSynthesizer._structure

    def spy(self, codes, n, advance):
        seen["codes"], seen["n"] = codes, n
        return original(self, codes, n, advance)

    monkeypatch.setattr(BayesianNetworkSynthesizer, "_structure", spy)
    model = synthgov.synthesizer("bayesnet", seed=0, **params).fit(frame)
    return model, seen["codes"], seen["n"]


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_the_incremental_search_chooses_what_the_full_enumeration_chooses(adult, monkeypatch, degree) -> None:
    frame = adult.sample(3000, random_state=degree)
    model, codes, n = fitted_with_codes(frame, monkeypatch, degree=degree)
    assert model.network_ == full_greedy(model, codes, n)
    assert max(len(parents) for _, parents in model.network_) == min(degree, 2)  # 3 parents: tables too large


def test_ties_are_broken_as_the_full_enumeration_breaks_them(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 2000)
    frame = pd.DataFrame(
        {
            "a": a.astype(str),
            "a_again": a.astype(str),  # the same column twice: equal scores everywhere
            "b": rng.integers(0, 4, 2000).astype(str),
            "b_copy": None,
            "constant": "x",  # scores 0 with every parent set
            "c": rng.integers(0, 2, 2000).astype(str),
        }
    )
    frame["b_copy"] = frame["b"]
    model, codes, n = fitted_with_codes(frame, monkeypatch, degree=2)
    assert model.network_ == full_greedy(model, codes, n)


def test_a_wide_table_is_searched_in_cubic_time(adult, monkeypatch) -> None:
    """Counted, not timed: the number of scores grows as d^3 (the full enumeration's d^4 would be 4x more at
    d = 24 than the bound checked here)."""
    frame = adult.sample(1000, random_state=0)
    wide = pd.concat([frame.add_suffix(f"_{i}") for i in range(2)], axis=1).iloc[:, :24]
    calls = {"n": 0}
    original = BayesianNetworkSynthesizer._score

    def counting(self, *args, **kwargs):
        calls["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BayesianNetworkSynthesizer, "_score", counting)
    model = synthgov.synthesizer("bayesnet", seed=0, degree=2).fit(wide)
    d = len(model.model_columns_)
    full = sum((d - s) * sum(len(list(combinations(range(s), k))) for k in (1, 2)) for s in range(1, d))
    assert calls["n"] < full / 4 + d * d  # the root's pairwise scores (d^2) plus the incremental search
