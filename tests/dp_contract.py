"""The estimator contract every DP generator's tests check (test_mst, test_dp_sgd): parameters kept, clone refits
the same model, a seed replays the same rows, and a reloaded model samples the same rows and states the same
guarantee."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import synthgov
from synthgov.errors import NotFittedError
from synthgov.table.schema import Schema


def clone_refits_the_same(fitted: synthgov.Synthesizer, table: pd.DataFrame, schema: Schema) -> None:
    from sklearn.base import clone

    params = fitted.get_params()
    copy = clone(fitted)
    assert not copy.is_fitted and copy.get_params() == params
    with pytest.raises(NotFittedError):
        copy.sample(3)
    copy.fit(table, schema)
    pd.testing.assert_frame_equal(copy.sample(200, seed=1), fitted.sample(200, seed=1))


def seeds_and_reloads_replay(fitted: synthgov.Synthesizer, path: Path) -> None:
    a = fitted.sample(500, seed=7)
    assert a.to_csv() == fitted.sample(500, seed=7).to_csv()
    assert not a.equals(fitted.sample(500, seed=8))
    loaded = synthgov.load(fitted.save(path))
    assert type(loaded) is type(fitted) and loaded.get_params() == fitted.get_params()
    assert loaded.sample(500, seed=7).to_csv() == a.to_csv()
    assert loaded.privacy() == fitted.privacy()
