"""A 200,000-distinct-value text column and an id column: memory stays bounded and ids are never copied."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd

import synthgov


def _table(n: int = 200_000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(3000)])
    notes = [f"ticket {i}: " + " ".join(words[rng.integers(0, 3000, 6)]) for i in range(n)]
    return pd.DataFrame(
        {
            "ticket_id": [f"T{i:07d}" for i in range(n)],
            "note": notes,
            "code": [f"c{v}" for v in rng.zipf(1.3, n) % 50_000],
            "amount": rng.lognormal(3, 1, n).round(2),
        }
    )


def test_high_cardinality_memory_and_fresh_ids() -> None:
    frame = _table()
    assert frame["note"].nunique() == len(frame)
    tracemalloc.start()
    model = synthgov.synthesizer("copula", seed=0).fit(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Fit memory grows with rows + distinct values, not their product (one-hot of 200k x 200k would be 40 GB).
    assert peak < 600 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert model.schema_["note"].kind == "text" and model.schema_["ticket_id"].kind == "id"
    out = model.sample(50_000, seed=0)
    assert out["ticket_id"].is_unique and not set(out["ticket_id"]) & set(frame["ticket_id"])
    assert not set(out["note"]) & set(frame["note"])  # no free text copied whole
    assert set(out["code"]) <= set(frame["code"])  # pooled rare categories come from the real set
    assert out["code"].nunique() > 1000


def test_the_mca_axis_without_the_burt_matrix_is_the_dense_one(adult: pd.DataFrame, monkeypatch) -> None:
    # the Lanczos path (used above DENSE_BURT categories and bins) against the dense eigendecomposition, on Adult:
    # each column's category order is the same, or the same reversed (an eigenvector's sign is free)
    from synthgov.generators import copula

    dense = synthgov.synthesizer("copula", seed=0).fit(adult.head(5000))
    monkeypatch.setattr(copula, "DENSE_BURT", 0)
    sparse = synthgov.synthesizer("copula", seed=0).fit(adult.head(5000))
    assert dense.orders_.keys() == sparse.orders_.keys() and len(dense.orders_) >= 5
    directions = set()
    for name, order in dense.orders_.items():
        if np.array_equal(order, sparse.orders_[name]):
            directions.add("same")
        else:
            assert np.array_equal(order, sparse.orders_[name][::-1]), name
            directions.add("reversed")
    assert len(directions) == 1  # one axis: every column flips with it or none does
