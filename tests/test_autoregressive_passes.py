"""The default generator trains a wide table's batch in several forward passes (its masked input grows with the
square of the columns): the summed gradients are the batch's gradient, so with a linear optimiser (SGD) the trained
network equals the one trained in single passes, up to rounding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from synthgov import synthesizer
from synthgov.generators.neural import autoregressive


def _sgd(params, device, *, decoupled=False, lr=1e-3, weight_decay=0.0, **_):
    import torch

    return torch.optim.SGD(list(params), lr=lr, weight_decay=weight_decay)


def _train(table: pd.DataFrame) -> dict[str, np.ndarray]:
    model = synthesizer("autoregressive", seed=3, epochs=2, batch_size=256, dropout=0.0, patience=None,
                        lr_decay=None, max_seconds=None, learning_rate=0.05).fit(table)  # fmt: skip
    return {name: value.detach().cpu().numpy().copy() for name, value in model.network_.state_dict().items()}


def test_a_batch_in_several_passes_trains_the_same_network(monkeypatch, mixed: pd.DataFrame) -> None:
    monkeypatch.setattr(autoregressive, "adam", _sgd)
    whole = _train(mixed)
    columns = len(whole["b1"])
    monkeypatch.setattr(autoregressive, "PASS_ELEMENTS", 37 * columns * columns * 16)
    assert autoregressive.rows_per_pass(columns, 16) == 37  # 256-row batches now take 7 passes each
    passes = _train(mixed)
    assert whole.keys() == passes.keys()
    moved = 0.0
    for name, value in whole.items():
        np.testing.assert_allclose(passes[name], value, rtol=1e-4, atol=1e-6, err_msg=name)
        moved = max(moved, float(np.abs(value).max()))
    assert moved > 0  # a trained network, not an untouched one


def test_rows_per_pass_bounds_the_masked_input() -> None:
    assert autoregressive.rows_per_pass(15, 16) >= 512  # Adult's batches stay one pass (unchanged training)
    for columns in (40, 200, 5000):
        rows = autoregressive.rows_per_pass(columns, 16)
        assert rows >= 1 and (rows == 1 or rows * columns * columns * 16 <= autoregressive.PASS_ELEMENTS)
