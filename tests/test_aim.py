"""The differentially private AIM generator and its graphical model: exact inference against brute-force
enumeration, estimation, the budget (itemised and as spent by the rounds), the estimator contract, conditions,
bad input, and what AIM is for: a workload of three-way marginals that a tree (``mst``) cannot hold."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

import dp_contract
import synthgov
from synthgov.cli import run
from synthgov.errors import InputError
from synthgov.generators.aim import ONE_WAY_SHARE, SELECTION_SHARE
from synthgov.generators.graphical_model import GraphicalModel, JunctionTree, estimate, maximal_cliques
from synthgov.generators.tree_model import Measurement
from synthgov.privacy.accounting import cdp_epsilon, cdp_rho
from synthgov.privacy.domains import declare_domains
from synthgov.table.infer import infer_schema

SIZES = [3, 4, 2, 3, 2, 3]
LOOPY = [(0, 1), (1, 2), (2, 3), (0, 3), (3, 4, 5), (1, 5), (0,)]  # cycles: no tree holds these cliques


def random_model(seed: int = 0) -> GraphicalModel:
    rng = np.random.default_rng(seed)
    model = GraphicalModel(SIZES, LOOPY)
    model.theta = [rng.normal(size=[SIZES[v] for v in c]) for c in model.cliques]
    return model


def brute_force(model: GraphicalModel, evidence: dict[int, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every joint configuration and its probability, by enumeration (independent of the junction tree)."""
    grid = np.array(list(itertools.product(*[range(k) for k in SIZES])))
    logp = sum(t[tuple(grid[:, v] for v in c)] for t, c in zip(model.theta, model.cliques, strict=True))
    joint = np.exp(logp - logp.max())
    for v, mask in (evidence or {}).items():
        joint = joint * mask[grid[:, v]]
    return grid, joint / joint.sum()


def enumerated_marginal(grid: np.ndarray, joint: np.ndarray, variables: tuple[int, ...]) -> np.ndarray:
    shape = [SIZES[v] for v in variables]
    flat = np.ravel_multi_index(tuple(grid[:, v] for v in variables), shape)
    return np.bincount(flat, weights=joint, minlength=int(np.prod(shape))).reshape(shape)


# -- the graphical model (independent of AIM) ---------------------------------------------------------------------
def test_the_junction_tree_covers_every_clique_and_has_the_running_intersection_property() -> None:
    tree = JunctionTree.build(SIZES, LOOPY)
    assert all(any(set(c) <= set(m) for m in tree.cliques) for c in LOOPY)
    for v in range(len(SIZES)):  # the cliques holding v are connected in the tree
        holding = {i for i, c in enumerate(tree.cliques) if v in c}
        linked = {i for i in holding if tree.parent[i] in holding}
        assert len(holding) - len(linked) == 1, v
    assert sorted(tree.order) == list(range(len(tree.cliques)))
    assert maximal_cliques([2, 2, 2], [(0, 1), (1, 2), (0, 2)]) == [(0, 1, 2)]  # a triangle is one clique


@pytest.mark.parametrize("evidence", [None, {4: np.array([False, True]), 1: np.array([True, True, False, True])}])
def test_marginals_of_any_set_match_brute_force_enumeration(evidence) -> None:
    model = random_model()
    grid, joint = brute_force(model, evidence)
    beliefs = model.beliefs(evidence)
    for variables in [(0,), (1, 3), (0, 4, 5), (2, 5), (0, 2, 4), (0, 1, 2, 3, 4, 5)]:
        assert np.allclose(model.marginal(beliefs, variables), enumerated_marginal(grid, joint, variables)), variables


def test_samples_follow_the_model_and_respect_the_evidence() -> None:
    model = random_model(1)
    evidence = {4: np.array([False, True])}
    draws = model.sample(200_000, np.random.default_rng(0), evidence)
    assert (draws[:, 4] == 1).all()
    grid, joint = brute_force(model, evidence)
    want = enumerated_marginal(grid, joint, (0, 2, 5)).ravel()
    got = np.bincount(np.ravel_multi_index((draws[:, 0], draws[:, 2], draws[:, 5]), (3, 2, 3)), minlength=18)
    assert np.abs(got / 200_000 - want).max() < 0.005
    with pytest.raises(ValueError, match="probability zero"):
        model.beliefs({4: np.array([False, False])})


def test_estimation_recovers_exact_marginals_of_a_loopy_model() -> None:
    """Noise-free measurements of a distribution with cycles: the estimate reproduces every measured marginal."""
    truth = random_model(2)
    beliefs = truth.beliefs()
    total = 10_000.0
    measured = [
        Measurement(c, total * truth.marginal(beliefs, c), np.ones([SIZES[v] for v in c])) for c in truth.cliques
    ]
    fitted = estimate(GraphicalModel(SIZES, LOOPY), measured, total, iterations=3000)
    got = fitted.beliefs()
    for c in truth.cliques:
        assert 0.5 * np.abs(fitted.marginal(got, c) - truth.marginal(beliefs, c)).sum() < 0.001, c


# -- the budget --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("epsilon", "delta", "columns"), [(1.0, 1e-5, 15), (0.1, 1e-6, 4), (3.0, 1e-9, 1)])
def test_the_itemised_budget_adds_up_to_the_declared_guarantee(epsilon: float, delta: float, columns: int) -> None:
    lines = synthgov.synthesizer("aim", epsilon=epsilon, delta=delta).budget_lines(columns)
    rho = cdp_rho(epsilon, delta)
    assert sum(line["rho"] for line in lines) == pytest.approx(rho, rel=1e-12)
    assert cdp_epsilon(sum(line["rho"] for line in lines), delta) == pytest.approx(epsilon, rel=1e-6)
    if columns > 1:
        assert [line["part"] for line in lines] == ["one-way marginals", "marginal selection", "selected marginals"]
        assert lines[0]["rho"] == pytest.approx(0.1 * rho)  # the documented shares
        assert lines[1]["rho"] == pytest.approx(0.1 * 0.9 * rho)


def xor_table(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """z = x XOR y (90% of rows): every pair is independent, the triple is not; a tree of pairs cannot hold it."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 2, n), rng.integers(0, 2, n)
    z = np.where(rng.random(n) < 0.9, x ^ y, rng.integers(0, 2, n))
    return pd.DataFrame({"x": x, "y": y, "z": z, "w": rng.choice(["a", "b", "c"], n), "v": rng.integers(0, 30, n)})


def public_schema(frame: pd.DataFrame):
    return declare_domains(infer_schema(frame), frame)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return xor_table()


@pytest.fixture(scope="module")
def fitted(table: pd.DataFrame) -> synthgov.Synthesizer:
    return synthgov.synthesizer("aim", epsilon=1.0, delta=1e-6, seed=3).fit(table, public_schema(table))


def test_the_rounds_spend_exactly_the_declared_lines(fitted: synthgov.Synthesizer) -> None:
    """Recomputed from the published noise of each round (the paper's costs: 1 / (2 sigma^2) for a measurement and
    a ninth of it for its selection): the rounds spend their two lines, no more and no less."""
    statement = fitted.privacy()
    lines = {line["part"]: line["rho"] for line in statement["lines"]}
    measured = sum(1.0 / (2.0 * r["noise_sd_rows"] ** 2) for r in statement["rounds"])
    assert measured == pytest.approx(lines["selected marginals"], rel=1e-9)
    assert measured * SELECTION_SHARE / (1 - SELECTION_SHARE) == pytest.approx(lines["marginal selection"], rel=1e-9)
    assert lines["one-way marginals"] == pytest.approx(ONE_WAY_SHARE * statement["rho"])
    sds = [r["noise_sd_rows"] for r in statement["rounds"]]
    assert all(
        b <= a for a, b in itertools.pairwise(sds[:-1])
    )  # annealing only lowers the noise (the last spends the rest)
    assert json.loads(json.dumps(statement)) == statement


def test_a_three_way_dependence_that_a_tree_cannot_hold(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    """AIM measures the triple (x, y, z) and keeps z = x XOR y; MST at the same budget cannot (its tree holds
    pairs, and every pair is independent here): the share of rows with z == x XOR y is 0.95 in the data."""
    assert any(set(r["columns"]) == {"x", "y", "z"} for r in fitted.privacy()["rounds"])

    def xor_share(frame: pd.DataFrame) -> float:
        return float((frame["z"] == (frame["x"] ^ frame["y"])).mean())

    assert xor_share(table) == pytest.approx(0.95, abs=0.01)
    assert xor_share(fitted.sample(20_000, seed=0)) > 0.9
    mst = synthgov.synthesizer("mst", epsilon=1.0, delta=1e-6, seed=3).fit(table, public_schema(table))
    assert xor_share(mst.sample(20_000, seed=0)) < 0.6


# -- the estimator contract, conditions, bad input ---------------------------------------------------------------
def test_parameters_are_kept_and_clone_refits_the_same(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    assert fitted.get_params() == {
        "seed": 3, "epsilon": 1.0, "delta": 1e-6, "degree": 3, "max_cells": 250_000, "bins": 16,
        "iterations": 1000, "domain_share": None,
    }  # fmt: skip
    dp_contract.clone_refits_the_same(fitted, table, public_schema(table))


def test_same_seed_same_rows_and_a_reload_samples_the_same(fitted: synthgov.Synthesizer, tmp_path) -> None:
    dp_contract.seeds_and_reloads_replay(fitted, tmp_path / "aim.synthgov")


def test_conditions_hold_exactly_and_move_the_other_columns(fitted: synthgov.Synthesizer) -> None:
    rows = fitted.sample(2000, seed=4, conditions={"x": 1, "y": 0})
    assert (rows["x"] == 1).all() and (rows["y"] == 0).all()
    assert rows["z"].mean() > 0.85  # z = 1 XOR 0
    per_row = pd.DataFrame({"w": ["a", "c"] * 50})
    assert fitted.sample(100, seed=5, conditions=per_row)["w"].tolist() == per_row["w"].tolist()


def test_bad_parameters_are_clear_errors(table: pd.DataFrame) -> None:
    schema = public_schema(table)
    for params, message in [
        ({"epsilon": 0}, "epsilon must be greater than 0"),
        ({"delta": 1e-3}, "delta must be below 1/n"),
        ({"degree": 4}, "degree must be 1, 2 or 3"),
        ({"max_cells": 0}, "max_cells must be a positive integer"),
        ({"iterations": 1.5}, "iterations must be a positive integer"),
    ]:
        model = synthgov.synthesizer("aim", **params)
        with pytest.raises(InputError, match=message):
            model.fit(table, schema)
        assert not model.is_fitted
    with pytest.raises(InputError, match="no public domain"):
        synthgov.synthesizer("aim").fit(table, infer_schema(table))


def test_the_command_line_makes_a_charged_dp_release(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "home"))
    frame = xor_table(3000, seed=1)
    data, schema = tmp_path / "data.csv", tmp_path / "schema.yaml"
    frame.to_csv(data, index=False)
    public_schema(frame).save(schema)
    folder = tmp_path / "release"
    args = ["generate", str(data), "-g", "aim", "--epsilon", "1", "--delta", "1e-6", "--schema", str(schema)]
    assert run([*args, "--rows", "500", "--seed", "1", "--out", str(folder)]) == 0, capsys.readouterr().err
    manifest = json.loads((folder / "manifest.json").read_text())
    privacy = manifest["statement"]["predicate"]["privacy"]
    assert privacy["epsilon"] == 1.0 and "AIM" in privacy["mechanism"]
    assert sum(line["rho"] for line in privacy["lines"]) == pytest.approx(cdp_rho(1.0, 1e-6))
    rounds = len(privacy["rounds"])
    assert f"{rounds} adaptively selected marginals at" in (folder / "datasheet.md").read_text()
    assert run(["verify", str(folder)]) == 0
    assert run(["budget", str(data)]) == 0
    assert "aim" in capsys.readouterr().out
