"""DP-SGD for the default ``autoregressive`` generator (issue 20): the RDP accounting against two independent
accountants, the noise calibration, the per-row clipping against per-row gradients from ``torch.func``, and the
private mode's estimator contract, conditions and release."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import dp_contract
import synthgov
from synthgov.errors import InputError
from synthgov.privacy import dp_sgd, rdp
from synthgov.privacy.accounting import cdp_epsilon, cdp_rho
from test_mst import dependent_table, public_schema

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")


# -- accounting -------------------------------------------------------------------------------------------------
def test_the_rdp_conversion_is_opacus_one() -> None:
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    curve = compute_rdp(q=0.01, noise_multiplier=1.1, steps=3000, orders=list(rdp.ORDERS))
    expected, _ = get_privacy_spent(orders=list(rdp.ORDERS), rdp=curve, delta=1e-5)
    assert rdp.rdp_epsilon(np.asarray(curve), 1e-5) == pytest.approx(expected, rel=1e-12)


def test_zcdp_lines_keep_the_tight_conversion_and_the_grid_only_loosens_it() -> None:
    lines = [{"rho": 0.05}, {"rho": 0.07}]
    assert rdp.composed(lines, 1e-6) == pytest.approx(cdp_epsilon(0.12, 1e-6))
    on_grid = rdp.rdp_epsilon(rdp.curve_of({"rho": 0.12}), 1e-6)
    assert cdp_epsilon(0.12, 1e-6) <= on_grid <= cdp_epsilon(0.12, 1e-6) * 1.02


@pytest.mark.parametrize(("epsilon", "epochs", "rate"), [(3.0, 20, 0.05), (1.0, 10, 0.02), (8.0, 5, 0.1)])
def test_a_second_accountant_recomputes_the_declared_epsilon(epsilon: float, epochs: int, rate: float) -> None:
    """The private mode's lines (a zCDP Gaussian, T Poisson-subsampled Gaussian steps), handed to Google's
    dp-accounting as DP events: its RDP accountant reproduces our epsilon, and its privacy-loss-distribution
    accountant (a different, tighter method) finds no more than the declared epsilon."""
    dp_accounting = pytest.importorskip("dp_accounting")
    from dp_accounting import dp_event
    from dp_accounting.pld import pld_privacy_accountant
    from dp_accounting.rdp import rdp_privacy_accountant

    model = synthgov.synthesizer("autoregressive", epsilon=epsilon, delta=1e-5, dp_epochs=epochs, dp_sample_rate=rate)
    marginals, sgd = model.budget_lines(15)
    event = dp_event.ComposedDpEvent(
        [
            dp_event.GaussianDpEvent(1 / math.sqrt(2 * marginals["rho"])),  # rho-zCDP: multiplier 1/sqrt(2 rho)
            dp_event.SelfComposedDpEvent(
                dp_event.PoissonSampledDpEvent(sgd["sample_rate"], dp_event.GaussianDpEvent(sgd["noise_multiplier"])),
                sgd["steps"],
            ),
        ]
    )
    accountant = rdp_privacy_accountant.RdpAccountant(list(rdp.ORDERS))
    accountant.compose(event)
    theirs = accountant.get_epsilon(1e-5)
    ours = rdp.composed([marginals, sgd], 1e-5)
    assert ours <= epsilon
    assert theirs == pytest.approx(ours, rel=0.01)
    pld = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-3)
    pld.compose(event)
    assert pld.get_epsilon(1e-5) <= epsilon
    assert dp_accounting is not None


def test_the_noise_is_the_smallest_that_keeps_the_budget() -> None:
    fixed = [{"rho": 0.1 * cdp_rho(3.0, 1e-5)}]
    sigma = dp_sgd.calibrate(3.0, 1e-5, fixed, 0.05, 400)

    def epsilon_at(s: float) -> float:
        return rdp.composed([*fixed, {"rdp": list(dp_sgd.sgd_curve(s, 0.05, 400))}], 1e-5)

    assert epsilon_at(sigma) <= 3.0 < epsilon_at(sigma * 0.99)
    with pytest.raises(InputError, match="too small"):
        dp_sgd.calibrate(1e-4, 1e-5, [], 1.0, 10_000)


# -- per-row clipping --------------------------------------------------------------------------------------------
def _small_network() -> torch.nn.Module:
    from synthgov.generators.neural.autoregressive import _network

    sizes = [3, 5, 2, 7]
    torch.manual_seed(0)
    return _network(sizes, [np.full(s, 1.0 / s) for s in sizes], 4, 8, 0.0)


def _rows(b: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.stack([torch.randint(0, s, (b,), generator=gen) for s in (3, 5, 2, 7)], 1)
    return tokens, torch.rand(b, 4, 4, generator=gen) < 0.5


def _per_row_gradients(net: torch.nn.Module, tokens: torch.Tensor, known: torch.Tensor) -> dict:
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in net.named_parameters()}

    def loss(p: dict, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return functional_call(net, p, (x[None], k[None])).sum()

    return vmap(grad(loss), in_dims=(None, 0, 0))(params, tokens, known)


def test_ghost_norms_equal_the_norms_of_per_row_gradients() -> None:
    net = _small_network()
    tokens, known = _rows(32)
    _, norms2 = net.losses_and_norms(tokens, known)
    grads = _per_row_gradients(net, tokens, known)
    expected = sum(g.flatten(1).pow(2).sum(1) for g in grads.values())
    torch.testing.assert_close(norms2, expected, rtol=1e-4, atol=1e-7)


def test_one_step_moves_the_weights_by_the_clipped_sum_of_per_row_gradients() -> None:
    """Without noise and with plain SGD at rate 1, a step moves each weight by minus the sum of the rows'
    gradients, each clipped to norm ``clip``, over the expected batch: checked against per-row gradients."""
    from synthgov.generators.neural.dp_training import train_private

    net = _small_network()
    tokens, known = _rows(40, seed=2)
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    grads = _per_row_gradients(net, tokens, known)
    norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in grads.values()))
    clip = float(norms.median())  # about half the rows are clipped
    factor = (clip / (norms + 1e-6)).clamp(max=1.0)
    train_private(
        network=net,
        tokens=tokens,
        known_mask=lambda b: known,
        optimiser=torch.optim.SGD(net.parameters(), lr=1.0),
        sample_rate=1.0 - 1e-12,  # every row
        steps=1,
        noise_multiplier=0.0,
        clip=clip,
        expected_batch=40.0,
        rng=np.random.default_rng(0),
        generator=torch.Generator().manual_seed(0),
        max_seconds=None,
        description="test",
    )
    assert 0 < float((factor < 1).float().mean()) < 1
    for k, p in net.named_parameters():
        expected = before[k] - torch.einsum("b,b...->...", factor, grads[k]) / 40.0
        torch.testing.assert_close(p.detach(), expected, rtol=1e-4, atol=1e-6)


def test_chunks_of_a_batch_give_the_same_step_as_the_whole_batch() -> None:
    """Wide tables go through the network in small chunks (memory); the clipped sum, and so the step, is the same."""
    from synthgov.generators.neural.dp_training import chunk_rows, train_private

    tokens, known = _rows(40, seed=4)
    same = known[:1].expand(40, 4, 4).clone()  # one column order for every row, so any chunk's masks match
    moved = []
    for chunk in (7, 4096):
        net = _small_network()
        train_private(
            network=net,
            tokens=tokens,
            known_mask=lambda b: same[:b],
            optimiser=torch.optim.SGD(net.parameters(), lr=1.0),
            sample_rate=1.0 - 1e-12,
            steps=1,
            noise_multiplier=0.0,
            clip=0.05,
            expected_batch=40.0,
            rng=np.random.default_rng(0),
            generator=torch.Generator().manual_seed(0),
            max_seconds=None,
            description="test",
            chunk=chunk,
        )
        moved.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    torch.testing.assert_close(moved[0], moved[1], rtol=1e-5, atol=1e-7)
    assert chunk_rows(200 * 200 * 16) == 104 and chunk_rows(15 * 15 * 16) == 4096


def test_the_noise_has_the_calibrated_scale() -> None:
    """With no row in any batch, a step is the noise alone: sd noise_multiplier * clip / expected batch."""
    from synthgov.generators.neural.dp_training import train_private

    net = _small_network()
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    tokens, known = _rows(10)
    train_private(
        network=net,
        tokens=tokens,
        known_mask=lambda b: known[:b],
        optimiser=torch.optim.SGD(net.parameters(), lr=1.0),
        sample_rate=1e-12,
        steps=1,
        noise_multiplier=2.0,
        clip=3.0,
        expected_batch=10.0,
        rng=np.random.default_rng(0),
        generator=torch.Generator().manual_seed(0),
        max_seconds=None,
        description="test",
    )
    moves = torch.cat([(before[k] - p.detach()).flatten() for k, p in net.named_parameters()])
    assert moves.numel() > 1000
    assert float(moves.std()) == pytest.approx(2.0 * 3.0 / 10.0, rel=0.05)
    assert abs(float(moves.mean())) < 4 * 0.6 / math.sqrt(moves.numel())


# -- the private mode ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return dependent_table(n=5000)


@pytest.fixture(scope="module")
def fitted(table: pd.DataFrame) -> synthgov.Synthesizer:
    return synthgov.synthesizer("autoregressive", epsilon=8.0, delta=1e-6, seed=3).fit(table, public_schema(table))


def test_parameters_are_kept_and_clone_refits_the_same(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    params = fitted.get_params()
    assert params["epsilon"] == 8.0 and params["dp_epochs"] == 20 and params["dp_sample_rate"] == 0.05
    dp_contract.clone_refits_the_same(fitted, table, public_schema(table))


def test_same_seed_same_rows_and_a_reload_samples_the_same(fitted: synthgov.Synthesizer, tmp_path) -> None:
    dp_contract.seeds_and_reloads_replay(fitted, tmp_path / "dp.synthgov")


def test_the_model_file_holds_no_statistic_of_the_rows_outside_the_budget(fitted: synthgov.Synthesizer) -> None:
    """No losses (they are statistics of the rows), no row count, no exact marginal: the training report has
    only the steps run and the time."""
    training = fitted.training_.to_state()
    assert training["train_loss"] == [] and training["validation_loss"] == []
    assert training["epochs_run"] == fitted.budget_lines_[1]["steps"]
    assert not hasattr(fitted, "n_training_rows_") and not hasattr(fitted, "transformer_")


def test_types_ranges_and_the_dependence_survive_the_noise(table: pd.DataFrame, fitted: synthgov.Synthesizer) -> None:
    out = fitted.sample(5000, seed=0)
    assert list(out.columns) == list(table.columns)
    for col in table.columns:
        assert out[col].dtype == table[col].dtype, col
    assert set(out["group"]) <= {"low", "mid", "high"}
    assert out["x"].between(0, 9).all() and out["price"].dropna().between(0, 2000).all()
    assert abs(out["flag"].mean() - table["flag"].mean()) < 0.03
    assert np.corrcoef(out["x"], out["y"])[0, 1] > 0.8  # 0.99 in the data; 0 for independent columns


def test_conditions_hold_exactly_and_move_the_other_columns(fitted: synthgov.Synthesizer) -> None:
    high = fitted.sample(1000, seed=4, conditions={"x": 9, "flag": True})
    assert (high["x"] == 9).all() and high["flag"].all()
    low = fitted.sample(1000, seed=4, conditions={"x": 0})
    assert (low["x"] == 0).all()
    assert high["y"].mean() - low["y"].mean() > 5  # 9 in the data
    rows = pd.DataFrame({"group": ["low", "high"] * 50})
    out = fitted.sample(100, seed=5, conditions=rows)
    assert out["group"].tolist() == rows["group"].tolist()


def test_the_statement_names_the_accountant_and_what_was_run(fitted: synthgov.Synthesizer) -> None:
    statement = fitted.privacy()
    assert statement["epsilon"] == 8.0 and statement["delta"] == 1e-6
    assert statement["accounted_epsilon"] <= 8.0
    assert "opacus" in statement["accountant"] and "RDP" in statement["accountant"]
    parts = [line["part"] for line in statement["lines"]]
    assert parts == ["one-way marginals", "training (DP-SGD)"]
    assert statement["training"]["steps_run"] == statement["training"]["steps_planned"] == 400
    json.dumps(statement)  # the manifest's section is plain JSON


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"epsilon": 0.0}, "epsilon must be greater than 0"),
        ({"epsilon": 1.0, "delta": 0.01}, "delta must be below 1/n"),
        ({"epsilon": 1.0, "dp_sample_rate": 1.5}, "dp_sample_rate must lie strictly between 0 and 1"),
        ({"epsilon": 1.0, "dp_epochs": 0}, "dp_epochs must be a positive integer"),
        ({"epsilon": 1.0, "dp_clip": -1.0}, "dp_clip must be a positive number"),
    ],
)
def test_bad_parameters_are_clear_errors(table: pd.DataFrame, params: dict, message: str) -> None:
    model = synthgov.synthesizer("autoregressive", **params)
    with pytest.raises(InputError, match=message):
        model.fit(table, public_schema(table))
    assert not model.is_fitted


def test_a_schema_without_public_domains_is_refused(table: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="needs a schema whose domains are declared public"):
        synthgov.synthesizer("autoregressive", epsilon=1.0, delta=1e-6).fit(table)
    with pytest.raises(InputError, match="rebalance is not available"):
        synthgov.synthesizer("autoregressive", epsilon=8.0, delta=1e-6, dp_epochs=1, seed=0).fit(
            table, public_schema(table)
        ).sample(10, rebalance={"group": {"low": 0.5, "mid": 0.25, "high": 0.25}})
