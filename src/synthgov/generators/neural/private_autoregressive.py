"""The differentially private mode of the ``autoregressive`` generator (``synthgov.synthesizer("autoregressive",
epsilon=3)``): the same network, on tokens that read nothing outside the budget, trained by DP-SGD.

The budget: ``cdp_rho(epsilon, delta)`` times ``dp_marginal_share`` goes to the one-way marginals (Gaussian noise
on every column's public cells, zCDP: :func:`synthgov.privacy.cells.measure_one_way`, as ``mst``); the noise
multiplier of DP-SGD is then calibrated so that both lines compose in RDP to (epsilon, delta)
(:mod:`synthgov.privacy.dp_sgd`). The noisy one-way counts give everything the non-private mode reads from the
rows: the tokens (model groups of public cells; rare categories compressed without revealing that they exist),
the heads' starting biases, the calibration targets of ``match_marginals``, the values drawn inside a token, and
the number of rows that normalises the gradients. The network then learns the dependencies by DP-SGD
(:mod:`.dp_training`). Sampling, conditions included, is that of ``mst`` (:func:`synthgov.privacy.sampling.
sample_frame`), with the network drawing the tokens given the conditioned ones.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError
from synthgov.generators.base import check_rows, new_seed
from synthgov.generators.neural.training import TrainingReport
from synthgov.privacy import domain_estimation as estimation
from synthgov.privacy import dp_sgd, rdp
from synthgov.privacy.accounting import cdp_rho, check_epsilon_delta
from synthgov.privacy.cells import dp_schema, loss_summary, measure_one_way
from synthgov.privacy.domains import table_domains
from synthgov.privacy.mechanisms import sigma_for
from synthgov.privacy.sampling import sample_frame
from synthgov.table.io import TableLike, read_table
from synthgov.table.schema import Schema

if TYPE_CHECKING:
    from synthgov.generators.neural.autoregressive import AutoregressiveSynthesizer

logger = logging.getLogger(__name__)

MECHANISM = (
    "autoregressive network by DP-SGD (Abadi et al. 2016) on tokens from Gaussian one-way marginals "
    "(zCDP), composed in RDP"
)


def check_params(model: AutoregressiveSynthesizer, rows: int | None) -> None:
    _, delta = check_epsilon_delta(model.epsilon, model.delta)
    if rows is not None and rows > 0 and delta >= 1.0 / rows:
        raise InputError(f"delta must be below 1/n = {1.0 / rows:.3g} for a table of {rows:,} rows, got {delta:g}")
    epochs = model.dp_epochs
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise InputError(f"dp_epochs must be a positive integer, got {epochs!r}")
    for name, upper in (("dp_sample_rate", 1.0), ("dp_marginal_share", 1.0)):
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < upper:
            raise InputError(f"{name} must lie strictly between 0 and {upper:g}, got {value!r}")
    clip = model.dp_clip
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip > 0:
        raise InputError(f"dp_clip must be a positive number, got {clip!r}")
    estimation.check_share(model.domain_share)


def budget_lines(model: AutoregressiveSynthesizer, numeric: int = 0, categorical: int = 0) -> list[dict[str, Any]]:
    """The one-way marginals' zCDP line, DP-SGD's RDP line and, when ``numeric`` and ``categorical`` columns need
    their domains estimated, a line for them (``domain_share`` of rho), from the parameters and the schema alone."""
    check_params(model, None)
    epsilon, delta = float(model.epsilon), float(model.delta)  # type: ignore[arg-type]
    rho = cdp_rho(epsilon, estimation.other_lines_delta(delta, categorical))
    marginals = {"part": "one-way marginals", "mechanism": "Gaussian", "rho": float(model.dp_marginal_share) * rho}
    extra: list[dict[str, Any]] = []
    if numeric + categorical:
        share = estimation.check_share(model.domain_share)
        if share is None or share + float(model.dp_marginal_share) >= 1:
            raise InputError("domain_share plus dp_marginal_share must be below 1 (the rest trains the network)")
        extra = estimation.with_domain_line([{"rho": rho}], share, numeric, categorical, delta)[-1:]
    steps = dp_sgd.steps_for(int(model.dp_epochs), float(model.dp_sample_rate))
    sigma = dp_sgd.calibrate(epsilon, delta, [marginals, *extra], float(model.dp_sample_rate), steps)
    return [marginals, dp_sgd.sgd_line(sigma, float(model.dp_sample_rate), steps, float(model.dp_clip)), *extra]


def fit(model: AutoregressiveSynthesizer, table: TableLike, schema: Schema | str | Path | None) -> None:
    import torch

    from synthgov.generators.neural.dp_training import chunk_rows, train_private
    from synthgov.generators.neural.torch_utils import adam, resolve_device, torch_generator, torch_seed

    started = time.perf_counter()
    frame = read_table(table)
    schema_ = dp_schema(frame, schema)
    model._check_params(len(frame))
    numeric, categorical = estimation.check_schema(schema_, estimation.check_share(model.domain_share))
    with progress.step("account: calibrate DP-SGD's noise (RDP)"):
        lines = budget_lines(model, len(numeric), len(categorical))
    model.seed_ = model.seed if model.seed is not None else new_seed()
    rng = np.random.default_rng([model.seed_, 0])
    schema_ = estimation.estimate(frame, schema_, numeric, categorical, lines[-1], rng)
    with progress.step("measure: one-way marginals (Gaussian noise)"):
        one = measure_one_way(frame, table_domains(schema_), lines[0]["rho"], int(model.bins), rng)
    tokens = np.stack(one.codes, axis=1).astype(np.int64)
    model.priors_ = [_shares(counts) for counts in one.counts]
    model.device_ = resolve_device(model.device)
    sgd = lines[1]
    with torch.random.fork_rng(devices=[model.device_] if model.device_.type == "cuda" else []):
        torch.manual_seed(torch_seed(rng))
        model.network_ = model._build_network().to(model.device_)
        gen = torch_generator(rng, model.device_)
        optimiser = adam(model.network_.parameters(), model.device_, lr=model.learning_rate)
        d = tokens.shape[1]
        model.training_ = train_private(
            network=model.network_,
            tokens=torch.as_tensor(tokens, device=model.device_),
            known_mask=lambda b: model._known_mask(b, d, gen),
            optimiser=optimiser,
            sample_rate=sgd["sample_rate"],
            steps=sgd["steps"],
            noise_multiplier=sgd["noise_multiplier"],
            clip=sgd["clip"],
            expected_batch=max(1.0, sgd["sample_rate"] * one.total),
            rng=rng,
            generator=gen,
            max_seconds=model.max_seconds,
            description=f"autoregressive network by DP-SGD ({sgd['steps']:,} steps)",
            chunk=chunk_rows(d * d * int(model.embedding_dim)),
        )
        model.offsets_ = model._calibrate(rng)  # targets: the noisy one-way shares (post-processing)
    model.schema_ = schema_
    model.estimated_domains_ = numeric + categorical
    model.domains_ = one.domains
    model.private_ = {"groups": one.groups, "within": one.within}
    model.total_ = float(one.total)
    model.budget_lines_ = lines
    model._unseeded_calls = 0
    model.fit_seconds_ = time.perf_counter() - started


def _shares(counts: np.ndarray) -> np.ndarray:
    clipped = np.maximum(np.asarray(counts, dtype=np.float64), 0.0)
    return clipped / clipped.sum() if clipped.sum() > 0 else np.full(clipped.size, 1.0 / clipped.size)


def sample(model: AutoregressiveSynthesizer, n: int, seed: int | None, conditions: Any) -> pd.DataFrame:
    n = check_rows(n, len(model.schema_.names))
    rng = model._sample_rng(seed)
    d = len(model.priors_)

    def draw_groups(rows: int, generator: np.random.Generator, evidence: dict[int, int]) -> np.ndarray:
        tokens = np.zeros((rows, d), dtype=np.int64)
        known = np.zeros((rows, d), dtype=bool)
        for j, group in evidence.items():
            tokens[:, j], known[:, j] = group, True
        calibrated = np.full(rows, not evidence and bool(model.match_marginals))
        for start in range(0, rows, 65_536):
            part = slice(start, start + 65_536)
            model._complete(tokens[part], known[part], generator, calibrated[part])
        return tokens

    with progress.step(f"generate: {n:,} rows", total=n) as advance:
        frame = sample_frame(
            n,
            rng,
            conditions,
            model.schema_,
            model.domains_,
            model.private_["groups"],
            model.private_["within"],
            draw_groups,
        )
        advance(n)
    return frame


def privacy(model: AutoregressiveSynthesizer) -> dict[str, Any]:
    if not hasattr(model, "private_"):
        return {"mechanism": "none", "epsilon": None, "delta": None}
    lines = model.budget_lines_
    sgd = lines[1]
    return {
        "epsilon": float(model.epsilon),  # type: ignore[arg-type]
        "delta": float(model.delta),
        "accounted_epsilon": rdp.composed(lines, float(model.delta)),
        "rho": None,
        "accountant": rdp.ACCOUNTANT + "; DP-SGD's curve by opacus' RDP accountant",
        "mechanism": MECHANISM,
        "lines": [
            {k: v for k, v in line.items() if k != "rdp"} | {"rdp_orders": "synthgov.privacy.rdp.ORDERS"}
            if line.get("rdp") is not None
            else line
            for line in lines
        ],
        "training": {
            "steps_planned": int(sgd["steps"]),
            "steps_run": int(model.training_.epochs_run),
            "stopped": model.training_.stopped,
            "note": "the ledger is charged for every planned step; a run stopped early spent less",
        },
        "domains": estimation.domain_sources(model.domains_, model.estimated_domains_, lines),
        "neighbours": "add or remove one row",
        "loss": loss_summary(
            model.domains_,
            model.private_["groups"],
            {"one-way marginals": sigma_for(len(model.domains_), lines[0]["rho"])},
        ),
    }


def state(model: AutoregressiveSynthesizer) -> dict[str, Any]:
    return {
        "seed_": model.seed_,
        "fit_seconds_": model.fit_seconds_,
        "total_": model.total_,
        "schema": model.schema_.to_dict(),
        "budget_lines": model.budget_lines_,
        "estimated_domains": list(model.estimated_domains_),
        "training": model.training_.to_state(),
        "private": {
            "groups": list(model.private_["groups"]),
            "within": list(model.private_["within"]),
            "priors": list(model.priors_),
            "offsets": list(model.offsets_),
        },
    }


def set_state(model: AutoregressiveSynthesizer, state: dict[str, Any]) -> None:
    private = state["private"]
    model.schema_ = Schema.from_dict(state["schema"])
    model.domains_ = table_domains(model.schema_)
    model.private_ = {
        "groups": [np.asarray(g, dtype=np.int64) for g in private["groups"]],
        "within": [np.asarray(w, dtype=np.float64) for w in private["within"]],
    }
    model.priors_ = [np.asarray(p, dtype=np.float64) for p in private["priors"]]
    model.offsets_ = [np.asarray(o, dtype=np.float64) for o in private["offsets"]]
    model.budget_lines_ = [dict(line) for line in state["budget_lines"]]
    model.estimated_domains_ = [str(name) for name in state.get("estimated_domains", [])]
    model.training_ = TrainingReport(**state["training"])
    model.total_ = float(state["total_"])
    model.fit_seconds_ = float(state["fit_seconds_"])
    model.seed_ = int(state["seed_"])
    model._unseeded_calls = 0
