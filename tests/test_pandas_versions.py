"""What broke on a fresh install with pandas 3 (issue 25), checked on whatever pandas is installed: missing values
in categorical columns, lookups of plain Python values, the default string dtype, and the demo's generators on
Adult's gappy columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.generators.dependencies import Derived
from synthgov.generators.marginals import CategoricalMarginal
from synthgov.table.plain import PANDAS_MAJOR, positions


def _by_dict(keys: list, values: list) -> list[int]:
    """An independent lookup: a plain dict, with every kind of missing value as None."""
    table = {k: i for i, k in enumerate(keys)}
    return [table.get(None if pd.isna(v) else v, -1) for v in values]


@pytest.mark.parametrize(
    "keys",
    [["a", None, "b"], [None, "a"], ["a", "b"], [1.5, None, 2.0], [3, 1, None], [None]],
)
def test_positions_match_a_dict_lookup(keys: list) -> None:
    values = [*keys, None, float("nan"), pd.NA, "zz", 99]
    assert positions(keys, np.array(values, dtype=object)).tolist() == _by_dict(keys, values)


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_categorical_gaps_get_the_missing_category_code(dtype: object) -> None:
    # pandas 3 gave every gap the code -1 here ("never seen"), which crashed np.bincount in every generator
    series = pd.Series(["a", None, "b", "b", None, "c"], dtype=dtype)
    marginal = CategoricalMarginal.fit(series)
    codes = marginal.encode(series)
    assert (codes >= 0).all()
    decoded = [marginal.categories[c] for c in codes]
    assert decoded == ["a", None, "b", "b", None, "c"]
    assert marginal.encode(pd.Series(["never seen"], dtype=dtype)).tolist() == [-1]


def test_dependency_lookup_maps_a_missing_source() -> None:
    dependency = Derived(target="t", source="s", keys=["x", None], values=[1, 2])
    out = dependency.apply(pd.Series(["x", None, "y"], dtype="str" if PANDAS_MAJOR >= 3 else object))
    assert out.tolist() == [1, 2, None]


@pytest.mark.parametrize("name", ["copula", "bayesnet", "autoregressive"])
def test_generators_fit_gappy_adult_columns(name: str, adult: pd.DataFrame) -> None:
    # The README's demo crashed here on pandas 3 (autoregressive; copula and bayesnet the same way)
    real = adult.sample(3000, random_state=0).reset_index(drop=True)
    real.loc[real.sample(frac=0.1, random_state=1).index, "workclass"] = None
    params = {"epochs": 3} if name == "autoregressive" else {}
    synthetic = synthgov.synthesizer(name, seed=0, **params).fit(real).sample(3000, seed=1)
    assert synthetic["workclass"].isna().mean() == pytest.approx(real["workclass"].isna().mean(), abs=0.03)
    assert set(synthetic["workclass"].dropna()) <= set(real["workclass"].dropna())


def test_string_columns_come_back_without_the_text_none() -> None:
    real = pd.DataFrame({"c": pd.Series(["a", None, "b"] * 40, dtype="str" if PANDAS_MAJOR >= 3 else object)})
    synthetic = synthgov.synthesizer("copula", seed=0).fit(real).sample(300, seed=1)
    assert "None" not in set(synthetic["c"].dropna())
    assert synthetic["c"].isna().mean() == pytest.approx(1 / 3, abs=0.1)
