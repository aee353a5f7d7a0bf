"""The differentially private MST generator: public domains, its noise calibration, the tree model, the estimator
contract, conditions and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dp_contract
import synthgov
from synthgov.errors import InputError
from synthgov.generators.tree_model import Measurement, TreeModel, estimate
from synthgov.privacy.accounting import cdp_epsilon, cdp_rho
from synthgov.privacy.domains import column_domain, declare_domains, numeric_domain
from synthgov.table.infer import infer_schema
from synthgov.table.schema import ColumnSchema, Schema


def dependent_table(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """x in 0..9, y = x + noise (strong dependence), a category driven by y, a flag, some missing prices."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 10, n)
    y = np.clip(x + rng.integers(-1, 2, n), 0, 11)
    group = np.where(y > 6, "high", np.where(y > 3, "mid", "low"))
    price = np.round(rng.gamma(2.0, 50.0, n), 2)
    price[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"x": x, "y": y, "group": group, "flag": rng.random(n) < 0.3, "price": price})


def public_schema(frame: pd.DataFrame) -> Schema:
    schema = declare_domains(infer_schema(frame), frame)
    if "price" in schema:
        schema["price"].min, schema["price"].max = 0.0, 2000.0  # a public bound, wider than the data
    return schema


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return dependent_table()


@pytest.fixture(scope="module")
def fitted(table: pd.DataFrame) -> synthgov.Synthesizer:
    return synthgov.synthesizer("mst", epsilon=1.0, delta=1e-6, seed=3).fit(table, public_schema(table))


# -- public domains -------------------------------------------------------------------------------------------
def test_small_integer_ranges_get_one_cell_per_value() -> None:
    domain = numeric_domain(ColumnSchema("age", "numeric", integer=True, min=17, max=90, public=True))
    assert domain.values == [float(v) for v in range(17, 91)]
    codes = domain.encode(pd.Series([17, 18, 90, 200, -5, None]))
    assert codes.tolist() == [0, 1, 73, 73, 0, 74]  # clipped to the declared range; missing is the last cell


def test_wide_integer_ranges_get_geometric_cells_with_the_minimum_alone() -> None:
    domain = numeric_domain(ColumnSchema("gain", "numeric", integer=True, min=0, max=99_999, public=True))
    edges = domain.edges
    assert edges is not None and edges[0] == 0 and edges[1] == 1 and edges[-1] == 100_000
    assert np.all(np.diff(edges) >= 1) and np.all(edges == np.round(edges))
    rng = np.random.default_rng(0)
    cells = rng.integers(0, domain.size - 1, 5000)
    values = domain.decode(cells, rng)
    assert np.all(values == np.round(values))  # integers stay integers
    assert np.all((values >= edges[cells]) & (values < edges[cells + 1]))  # each value inside its cell
    assert np.array_equal(domain.encode(pd.Series(values)), cells)  # and read back into it


def test_continuous_ranges_keep_the_declared_bounds_and_decimals() -> None:
    domain = numeric_domain(ColumnSchema("p", "numeric", decimals=2, min=-5.0, max=5.0, public=True))
    rng = np.random.default_rng(1)
    values = domain.decode(rng.integers(0, domain.size - 1, 2000), rng)
    assert values.min() >= -5.0 and values.max() <= 5.0
    assert np.allclose(values, np.round(values, 2))


def test_categories_come_from_the_schema_only() -> None:
    col = ColumnSchema("c", "categorical", categories=["a", "b", 3], public=True)
    domain = column_domain(col)
    codes = domain.encode(pd.Series(["b", "a", "3", None, "zzz"]))
    assert codes.tolist() == [1, 0, 2, 3, 3]  # "3" matches the declared 3; unknown values read as missing
    with pytest.raises(InputError, match="never appears among the declared categories"):
        domain.code_of("zzz")


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (ColumnSchema("c", "categorical", categories=["a"]), "no public domain"),
        (ColumnSchema("n", "numeric", min=0, max=1), "no public domain"),
        (ColumnSchema("n", "numeric", public=True), "no min and max"),
        (ColumnSchema("t", "datetime", public=True), "numeric, categorical and boolean"),
        (ColumnSchema("i", "id"), "numeric, categorical and boolean"),
    ],
)
def test_a_column_without_a_public_domain_is_one_clear_error(column: ColumnSchema, message: str) -> None:
    with pytest.raises(InputError, match=message):
        column_domain(column)


# -- the tree model (independent of MST) -------------------------------------------------------------------------
def test_belief_propagation_matches_brute_force_enumeration() -> None:
    rng = np.random.default_rng(5)
    sizes = [3, 4, 2, 3]
    model = TreeModel(sizes, [(0, 1), (0, 2), (2, 3)])
    model.node_theta = [rng.normal(size=k) for k in sizes]
    model.edge_theta = [rng.normal(size=(sizes[u], sizes[v])) for u, v in model.edges]
    grid = np.stack(np.meshgrid(*[np.arange(k) for k in sizes], indexing="ij"), -1).reshape(-1, 4)
    logp = sum(model.node_theta[v][grid[:, v]] for v in range(4))
    logp = logp + sum(t[grid[:, u], grid[:, v]] for t, (u, v) in zip(model.edge_theta, model.edges, strict=True))
    joint = np.exp(logp - logp.max())
    joint /= joint.sum()
    evidence = {3: np.array([True, False, True])}
    for given in (None, evidence):
        weights = joint if given is None else joint * given[3][grid[:, 3]]
        weights = weights / weights.sum()
        nodes, edges = model.marginals(given)
        for v in range(4):
            assert np.allclose(nodes[v], np.bincount(grid[:, v], weights=weights, minlength=sizes[v]))
        for (u, v), table in zip(model.edges, edges, strict=True):
            flat = np.bincount(grid[:, u] * sizes[v] + grid[:, v], weights=weights, minlength=sizes[u] * sizes[v])
            assert np.allclose(table, flat.reshape(sizes[u], sizes[v]))
    draws = model.sample(200_000, np.random.default_rng(0), evidence)
    assert not (draws[:, 3] == 1).any()
    nodes, _ = model.marginals(evidence)
    assert np.abs(np.bincount(draws[:, 0], minlength=3) / 200_000 - nodes[0]).max() < 0.005


def test_estimation_recovers_exact_marginals() -> None:
    """Noise-free measurements of a tree distribution: the estimate reproduces them."""
    rng = np.random.default_rng(2)
    truth = TreeModel([4, 3, 5], [(0, 1), (1, 2)])
    truth.node_theta = [rng.normal(size=k) for k in truth.sizes]
    truth.edge_theta = [2 * rng.normal(size=(truth.sizes[u], truth.sizes[v])) for u, v in truth.edges]
    nodes, edges = truth.marginals()
    total = 10_000.0
    measured = [Measurement((v,), total * nodes[v], np.ones(nodes[v].size)) for v in range(3)]
    measured += [Measurement(e, total * t, np.ones(t.shape)) for e, t in zip(truth.edges, edges, strict=True)]
    model = estimate(truth.sizes, truth.edges, measured, total, iterations=3000)
    got_nodes, got_edges = model.marginals()
    for a, b in zip(got_edges, edges, strict=True):
        assert 0.5 * np.abs(a - b).sum() < 0.005
    for a, b in zip(got_nodes, nodes, strict=True):
        assert 0.5 * np.abs(a - b).sum() < 0.005


# -- the privacy budget ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("epsilon", "delta", "columns"), [(1.0, 1e-5, 15), (0.1, 1e-6, 4), (3.0, 1e-9, 1)])
def test_the_itemised_budget_adds_up_to_the_declared_guarantee(epsilon: float, delta: float, columns: int) -> None:
    lines = synthgov.synthesizer("mst", epsilon=epsilon, delta=delta).budget_lines(columns)
    assert len(lines) == (1 if columns == 1 else 3)
    total = sum(line["rho"] for line in lines)
    assert cdp_epsilon(total, delta) == pytest.approx(epsilon, rel=1e-6)
    assert all(line["rho"] > 0 and line["mechanism"] in ("Gaussian", "exponential") for line in lines)


def test_one_way_noise_has_the_papers_scale() -> None:
    """MST measures the d one-way marginals with sigma = sqrt(3 d / (2 rho)) (rho/3 for this step). The clipped
    noisy counts of a categorical column are what its values are drawn by: over 24 fits, their deviations from the
    true counts must have that standard deviation (chi-square bounds at 4 sd), and a mean near 0."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"c": rng.choice(list("abcdefghij"), 30_000), "d": rng.choice(["u", "v"], 30_000)})
    schema = public_schema(frame)
    true = frame["c"].value_counts().reindex(schema["c"].categories).to_numpy(dtype=float)
    epsilon, delta = 0.5, 1e-6
    sigma = np.sqrt(3 * 2 / (2 * cdp_rho(epsilon, delta)))
    deviations = []
    for seed in range(24):
        model = synthgov.synthesizer("mst", epsilon=epsilon, delta=delta, seed=seed).fit(frame, schema)
        deviations.append(model.within_[0][:10] - true)
    dev = np.concatenate(deviations)
    spread = 4 * np.sqrt(2 / dev.size)
    assert abs(dev.std(ddof=0) / sigma - 1) < spread
    assert abs(dev.mean()) < 4 * sigma / np.sqrt(dev.size)


# -- the estimator contract ---------------------------------------------------------------------------------------
def test_parameters_are_kept_and_clone_refits_the_same(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    params = fitted.get_params()
    assert params == {"seed": 3, "epsilon": 1.0, "delta": 1e-6, "bins": 16, "iterations": 3000, "domain_share": None}
    dp_contract.clone_refits_the_same(fitted, table, public_schema(table))


def test_same_seed_same_rows_and_a_reload_samples_the_same(fitted: synthgov.Synthesizer, tmp_path) -> None:
    dp_contract.seeds_and_reloads_replay(fitted, tmp_path / "mst.synthgov")


def test_types_ranges_and_missing_values(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    out = fitted.sample(20_000, seed=0)
    assert list(out.columns) == list(table.columns)
    for col in table.columns:
        assert out[col].dtype == table[col].dtype, col
    assert set(out["group"]) <= {"low", "mid", "high"}
    assert out["x"].between(0, 9).all() and out["price"].dropna().between(0, 2000).all()
    assert abs(out["price"].isna().mean() - table["price"].isna().mean()) < 0.02
    assert abs(out["flag"].mean() - table["flag"].mean()) < 0.02


def test_the_dependence_survives_the_noise(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    """y = x + {-1, 0, 1}: at epsilon 1 on 20,000 rows the tree keeps y's dependence on x (a correlation of 0.99
    in the data; an independent model would give 0)."""
    out = fitted.sample(20_000, seed=2)
    assert np.corrcoef(out["x"], out["y"])[0, 1] > 0.9
    real = pd.crosstab(table["group"], table["y"] > 6, normalize="index")
    synthetic = pd.crosstab(out["group"], out["y"] > 6, normalize="index")
    assert np.abs(real - synthetic).to_numpy().max() < 0.1


def test_conditions_hold_exactly_and_move_the_other_columns(fitted: synthgov.Synthesizer) -> None:
    high = fitted.sample(2000, seed=4, conditions={"x": 9, "flag": True})
    assert (high["x"] == 9).all() and high["flag"].all()
    typed = fitted.sample(50, seed=4, conditions={"x": "9", "flag": "true", "group": "high"})  # as a CLI gives them
    assert (typed["x"] == 9).all() and typed["flag"].all() and (typed["group"] == "high").all()
    low = fitted.sample(2000, seed=4, conditions={"x": 0})
    assert high["y"].mean() - low["y"].mean() > 6  # 9 in the data
    rows = pd.DataFrame({"group": ["low", "high"] * 50})
    out = fitted.sample(100, seed=5, conditions=rows)
    assert out["group"].tolist() == rows["group"].tolist()
    assert out.loc[out["group"] == "high", "y"].min() > out.loc[out["group"] == "low", "y"].max() - 3


def test_bad_conditions_and_parameters_are_clear_errors(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    with pytest.raises(InputError, match="unknown column"):
        fitted.sample(5, conditions={"nope": 1})
    with pytest.raises(InputError, match="never appears"):
        fitted.sample(5, conditions={"group": "zzz"})
    with pytest.raises(InputError, match="outside the range"):
        fitted.sample(5, conditions={"x": 50})
    with pytest.raises(InputError, match="positive integer"):
        fitted.sample(0)
    schema = public_schema(table)
    for params, message in [
        ({"epsilon": 0}, "epsilon must be greater than 0"),
        ({"epsilon": -1}, "epsilon must be greater than 0"),
        ({"delta": 1e-3}, "delta must be below 1/n"),
        ({"bins": 0}, "bins must be a positive integer"),
    ]:
        model = synthgov.synthesizer("mst", **params)
        with pytest.raises(InputError, match=message):
            model.fit(table, schema)
        assert not model.is_fitted
    with pytest.raises(InputError, match="needs a schema whose domains are declared public"):
        synthgov.synthesizer("mst").fit(table)
    with pytest.raises(InputError, match="no public domain"):
        synthgov.synthesizer("mst").fit(table, infer_schema(table))


def test_rare_categories_are_compressed_not_revealed() -> None:
    """A category with 3 rows among 20,000, below three noise sds: MST's compression pools it with the other rare
    cells, so the model cannot tell it from a declared category that never occurs: over many rows both appear at
    rates of the same order (their noisy counts), neither at its true share."""
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"c": rng.choice(["a", "b"], 20_000), "x": rng.integers(0, 5, 20_000)})
    frame.loc[:2, "c"] = "rare"
    schema = public_schema(frame)
    schema["c"].categories = ["a", "b", "rare", "never"]
    model = synthgov.synthesizer("mst", epsilon=1.0, delta=1e-6, seed=0).fit(frame, schema)
    assert model.groups_[0][2] == model.groups_[0][3]  # "rare" and "never" share one model group
    assert model.tree_.sizes[0] == 3  # a, b, and the pooled rare cells


def test_the_statement_says_what_the_noise_cost(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    """The noise sd per count follows from epsilon and the number of columns alone (computed here from the paper's
    formulas); the merged cells are read from the model's groups."""
    loss = fitted.privacy()["loss"]
    rho = cdp_rho(1.0, 1e-6)
    assert loss["noise_sd_rows"]["one-way marginals"] == pytest.approx(np.sqrt(3 * 5 / (2 * rho)))
    assert loss["noise_sd_rows"]["two-way marginals"] == pytest.approx(np.sqrt(3 * 4 / (2 * rho)))
    assert loss["columns"]["group"] == {"cells": 3, "model_groups": 3, "cells_merged": 0}  # 3 well-filled categories
    assert loss["columns"]["x"]["cells"] == 10  # integers 0..9 declared
    coarse = synthgov.synthesizer("mst", epsilon=0.05, delta=1e-6, seed=0, iterations=50)
    coarse.fit(table, public_schema(table))
    assert sum(c["cells_merged"] for c in coarse.privacy()["loss"]["columns"].values()) > sum(
        c["cells_merged"] for c in loss["columns"].values()
    )
