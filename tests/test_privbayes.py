"""``bayesnet`` with ``epsilon``: PrivBayes, differentially private (issue 20). Its budget, its statement, the
estimator contract, conditions, the dependence it keeps, and its releases charged to the ledger like MST's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.cli import run
from synthgov.errors import InputError
from synthgov.privacy import budget
from synthgov.privacy.accounting import cdp_epsilon
from test_mst import dependent_table, public_schema


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return dependent_table()


@pytest.fixture(scope="module")
def fitted(table: pd.DataFrame) -> synthgov.Synthesizer:
    return synthgov.synthesizer("bayesnet", epsilon=1.0, delta=1e-6, seed=3).fit(table, public_schema(table))


def test_the_budget_and_the_statement(fitted: synthgov.Synthesizer) -> None:
    statement = fitted.privacy()
    assert [line["part"] for line in statement["lines"]] == [
        "one-way marginals", "network selection", "conditional tables"
    ]  # fmt: skip
    assert cdp_epsilon(statement["rho"], 1e-6) == pytest.approx(1.0, rel=1e-6)
    assert "PrivBayes" in statement["mechanism"] and set(statement["domains"]) == {"x", "y", "group", "flag", "price"}
    with pytest.raises(InputError, match="only with epsilon"):
        synthgov.synthesizer("bayesnet").budget_lines(5)


def test_the_network_has_every_column_once_and_parents_before_children(fitted: synthgov.Synthesizer) -> None:
    network = fitted.private_.network
    assert sorted(child for child, _ in network) == list(range(5))
    placed: set[int] = set()
    for child, parents in network:
        assert set(parents) <= placed and len(parents) <= 2
        placed.add(child)
    for (child, parents), table in zip(network, fitted.private_.conditionals, strict=True):
        assert np.allclose(table.sum(axis=1), 1.0) and (table >= 0).all()
        assert table.shape == (int(np.prod([fitted.private_.sizes[p] for p in parents])), fitted.private_.sizes[child])


def test_contract_seed_reload_and_clone(table: pd.DataFrame, fitted: synthgov.Synthesizer, tmp_path) -> None:
    from sklearn.base import clone

    a = fitted.sample(400, seed=7)
    assert a.to_csv() == fitted.sample(400, seed=7).to_csv() and not a.equals(fitted.sample(400, seed=8))
    loaded = synthgov.load(fitted.save(tmp_path / "pb.synthgov"))
    assert loaded.sample(400, seed=7).to_csv() == a.to_csv() and loaded.privacy() == fitted.privacy()
    copy = clone(fitted)
    assert not copy.is_fitted and copy.get_params() == fitted.get_params()
    copy.fit(table, public_schema(table))
    pd.testing.assert_frame_equal(copy.sample(100, seed=1), fitted.sample(100, seed=1))
    for col in table.columns:
        assert a[col].dtype == table[col].dtype, col


def test_dependence_and_conditions(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    out = fitted.sample(20_000, seed=2)
    assert np.corrcoef(out["x"], out["y"])[0, 1] > 0.8  # 0.99 in the data; independent columns would give 0
    high = fitted.sample(2000, seed=4, conditions={"x": 9, "flag": "true"})
    low = fitted.sample(2000, seed=4, conditions={"x": 0})
    assert (high["x"] == 9).all() and high["flag"].all() and (low["x"] == 0).all()
    assert high["y"].mean() - low["y"].mean() > 5
    with pytest.raises(InputError, match="never appears"):
        fitted.sample(5, conditions={"group": "zzz"})
    with pytest.raises(InputError, match="not available in the private mode"):
        fitted.sample(5, rebalance={"group": {"low": 0.5}})


def test_bad_private_parameters_are_clear_errors(table: pd.DataFrame) -> None:
    schema = public_schema(table)
    for params, message in [
        ({"epsilon": 0}, "epsilon must be greater than 0"),
        ({"epsilon": 1, "delta": 0.01}, "delta must be below 1/n"),
        ({"epsilon": 1, "degree": -1}, "degree must be a non-negative integer"),
    ]:
        model = synthgov.synthesizer("bayesnet", **params)
        with pytest.raises(InputError, match=message):
            model.fit(table, schema)
        assert not model.is_fitted
    with pytest.raises(InputError, match="needs a schema"):
        synthgov.synthesizer("bayesnet", epsilon=1).fit(table)


def test_a_privbayes_release_is_charged_and_a_plain_one_is_not(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "home"))
    frame = dependent_table(3000, seed=1)
    data = tmp_path / "t.csv"
    frame.to_csv(data, index=False)
    schema = public_schema(frame).save(tmp_path / "s.yaml")
    assert run(["generate", str(data), "-g", "bayesnet", "--out", str(tmp_path / "plain")]) == 0
    assert budget.sources() == []
    folder = tmp_path / "private"
    assert run(["generate", str(data), "-g", "bayesnet", "--epsilon", "0.5", "--schema", str(schema), "--out",
                str(folder)]) == 0  # fmt: skip
    predicate = json.loads((folder / "manifest.json").read_text())["statement"]["predicate"]
    assert predicate["privacy"]["epsilon"] == 0.5 and "PrivBayes" in predicate["privacy"]["mechanism"]
    [charge] = budget.charges(budget.source_key(pd.read_csv(data)))
    assert charge.status == "committed" and [line["part"] for line in charge.lines][1] == "network selection"
