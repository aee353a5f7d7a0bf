"""The flagship: an any-order autoregressive network over column tokens (the default generator).

Design (compared with mostlyai-engine's TabularARGN in docs/generators.md): every column is a token
(:mod:`.encoding`); one residual MLP reads the tokens of the columns already known (a learned "unknown"
embedding stands for the others) and predicts a categorical distribution for every unknown column. Training
draws, for each row, a column order and a cut: columns before the cut are known, the loss is the cross-entropy
of the others (order-agnostic training, Uria et al. 2014). Half the rows use the canonical column order, the
order of unconditional sampling, so the model is best where it is used most; the other half use random orders,
so that any subset of columns can be fixed: conditional sampling, imputation and rebalancing are exact and
native (the fixed tokens are simply known from the start), never by rejection.

Sampling runs one forward pass per column; a number is drawn inside its token's interval through the
column's exact marginal. After training, a calibration pass over a reference sample finds one offset per token
of each column so that unconditional sampling reproduces the training frequencies (``match_marginals``):
errors of a chain of conditionals add up along the column order, and on Adult they moved a late column such as
``income`` by up to 2 points.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.generators.neural.base import SAMPLE_CHUNK, NeuralSynthesizer
from synthgov.generators.neural.marginal_matching import softmax_rows
from synthgov.generators.neural.torch_utils import adam, sample_categorical, torch_generator
from synthgov.generators.neural.training import TrainingReport
from synthgov.generators.private_mode import PrivateMode
from synthgov.table.io import TableLike
from synthgov.table.schema import Schema

if TYPE_CHECKING:
    import torch


def _network(
    sizes: list[int], priors: list[np.ndarray], embedding_dim: int, hidden: int, dropout: float
) -> torch.nn.Module:
    import torch
    from torch import nn

    class ColumnRegressors(nn.Module):
        """One small regressor per column over the embeddings of the columns known before it.

        ``known`` (B, D, D): ``known[b, j, k]`` says whether column k is known when column j is predicted in row
        b. The D regressors run as one batched product (weights stacked per column), so a row yields all D
        conditionals of its column order in one pass."""

        def __init__(self) -> None:
            super().__init__()
            d = len(sizes)
            slots = torch.tensor(sizes)
            self.register_buffer("offsets", torch.cumsum(slots, 0) - slots, persistent=False)
            self.embed = nn.Embedding(int(slots.sum()), embedding_dim)
            self.w1 = nn.Parameter(torch.empty(d, d * embedding_dim, hidden))
            self.b1 = nn.Parameter(torch.zeros(d, hidden))
            nn.init.uniform_(self.w1, -((d * embedding_dim) ** -0.5), (d * embedding_dim) ** -0.5)
            self.w2 = nn.Parameter(torch.empty(d, hidden, hidden))
            self.b2 = nn.Parameter(torch.zeros(d, hidden))
            nn.init.uniform_(self.w2, -(hidden**-0.5), hidden**-0.5)
            self.heads = nn.ModuleList(nn.Linear(hidden, s) for s in sizes)
            with torch.no_grad():  # start from the marginals (as TabularARGN does)
                for head, prior in zip(self.heads, priors, strict=True):
                    head.bias.copy_(torch.as_tensor(np.log(np.maximum(prior, 1e-6)), dtype=torch.float32))
            self.dropout = dropout

        def embeddings(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.embed(tokens + self.offsets)  # (B, D, e)

        def hidden_state(
            self, emb: torch.Tensor, known: torch.Tensor, j: int | None = None, keep: torch.Tensor | None = None
        ) -> torch.Tensor:
            """Hidden states of every regressor (``j`` None: known is (B, D, D)) or of regressor j (known (B, D)).
            ``keep`` (B, D, D, e) bool, in training: the dropout mask of the regressors' inputs (probability of
            a zero ``dropout``), applied with the known-columns mask in one product."""
            if j is None:
                mask = known.unsqueeze(-1)
                if keep is not None:
                    mask, emb = mask & keep, emb * (1.0 / (1.0 - self.dropout))
                x = (emb.unsqueeze(1) * mask).flatten(2)  # (B, D, D*e)
                h = torch.relu(torch.einsum("bjk,jkh->bjh", x, self.w1) + self.b1)
                return h + torch.relu(torch.einsum("bjk,jkh->bjh", h, self.w2) + self.b2)
            x = (emb * known.unsqueeze(-1)).flatten(1)
            h = torch.relu(x @ self.w1[j] + self.b1[j])
            return h + torch.relu(h @ self.w2[j] + self.b2[j])

        def column_logits(self, tokens: torch.Tensor, known: torch.Tensor, j: int) -> torch.Tensor:
            return self.heads[j](self.hidden_state(self.embeddings(tokens), known, j))

        def forward(self, tokens: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
            """Each row's mean negative log-likelihood per column (B,), without dropout."""
            return self.losses_and_norms(tokens, known, norms=False)[0]

        def losses_and_norms(
            self, tokens: torch.Tensor, known: torch.Tensor, norms: bool = True
        ) -> tuple[torch.Tensor, torch.Tensor | None]:
            """Each row's loss (B,) and, with ``norms``, the squared L2 norm of each row's gradient over every
            parameter (B,), without forming per-row gradients ("ghost" norms, Goodfellow 2015; Li et al. 2022):
            a weight that maps an input vector a to an output whose loss gradient is g gets the row gradient
            outer(a, g), of norm |a| |g|; the regressors' weights are one slice per column, the embedding rows of
            a row are distinct (one per column), so the squares add up. DP-SGD's clipping needs only these norms;
            the clipped sum is then one backward pass of the loss weighted per row. Checked against ``torch.func``
            per-row gradients in tests/test_dp_sgd.py."""
            from torch.nn import functional

            emb = self.embeddings(tokens)
            x = (emb.unsqueeze(1) * known.unsqueeze(-1)).flatten(2)  # (B, D, D*e)
            a1 = torch.einsum("bjk,jkh->bjh", x, self.w1) + self.b1
            h = torch.relu(a1)
            a2 = torch.einsum("bjk,jkh->bjh", h, self.w2) + self.b2
            out = h + torch.relu(a2)
            logits = [head(out[:, j]) for j, head in enumerate(self.heads)]
            losses = torch.stack(
                [functional.cross_entropy(z, tokens[:, j], reduction="none") for j, z in enumerate(logits)], 1
            ).mean(1)
            if not norms:
                return losses, None
            g_emb, g1, g2, *g_logits = torch.autograd.grad(losses.sum(), [emb, a1, a2, *logits], retain_graph=True)

            def sq(t: torch.Tensor) -> torch.Tensor:
                return t.pow(2).sum(-1)

            with torch.no_grad():
                total = sq(g_emb).sum(1)  # embedding rows
                total += (sq(x) * sq(g1)).sum(1) + sq(g1).sum(1)  # w1, b1
                total += (sq(h) * sq(g2)).sum(1) + sq(g2).sum(1)  # w2, b2
                for j, g in enumerate(g_logits):  # heads: weight and bias
                    total += sq(out[:, j]) * sq(g) + sq(g)
            return losses, total

    return ColumnRegressors()


#: Elements of the regressors' masked input (rows x D x D x embedding_dim) in one forward pass: it grows with the
#: square of the columns, so a wide table's batch is trained in several passes whose gradients are summed (the same
#: gradient, up to rounding), and validated in chunks of as many rows. 2^26 float32 elements are 256 MiB: a batch
#: of 512 rows is one pass up to 90 columns (embedding 16), and 104 rows a pass at 200 columns, where the fit
#: peaked at 9.3 GiB in single passes and 2.5 GiB in these, in the same time; a 512-row step there takes 4.5 s in
#: one pass, 4.5-4.9 s in passes of 64-256 rows, 6.0 s in passes of 26 (benchmarks/autoregressive_profile.py
#: --passes 200).
PASS_ELEMENTS = 1 << 26


def rows_per_pass(columns: int, embedding_dim: int) -> int:
    """How many rows one forward pass of the regressors takes (at least one)."""
    return max(1, PASS_ELEMENTS // max(1, columns * columns * embedding_dim))


def dropout_masks(
    p: float, embedding_dim: int, rng: np.random.Generator, gen: torch.Generator, device: torch.device
) -> Callable[[int, int], torch.Tensor | None]:
    """``keep(b, d)``: a (b, d, d, embedding_dim) bool mask, each entry False with probability ``p`` (None when
    ``p`` is 0). On a CPU the entries come from numpy's generator as 16-bit integers against
    ``round(p * 65536)``, so ``p`` is honoured to 1/65536 (0.1 -> 0.100006): torch's CPU generator makes one
    float per entry, and ``nn.Dropout`` (``bernoulli_``) took 18 of the 45 ms of a training step on Adult (1.8
    million entries per batch of 512 rows), this mask about 4 ms. Elsewhere (a GPU) ``torch.rand`` on the device."""
    import torch

    if p <= 0:
        return lambda b, d: None
    threshold = round(p * 65536)

    def keep(b: int, d: int) -> torch.Tensor:
        shape = (b, d, d, embedding_dim)
        if device.type != "cpu":
            return torch.rand(shape, generator=gen, device=device) >= p
        return torch.from_numpy(rng.integers(0, 65536, shape, dtype=np.uint16) >= threshold)

    return keep


class AutoregressiveSynthesizer(PrivateMode, NeuralSynthesizer):
    """Any-order autoregressive network over column tokens (the default generator).

    Parameters
    ----------
    seed:
        Seed of every random step (``None``: fresh entropy, recorded in ``seed_``).
    epochs:
        Upper bound on passes over the training rows (early stopping usually ends sooner).
    batch_size:
        Rows per optimisation step.
    max_seconds:
        Time budget of the training step, in seconds (default 600: ten minutes; ``None``: no budget). Training
        stops at the budget with the best weights so far; the progress bar shows it and the time left, and the
        manifest states when the budget (not convergence) ended training. Small tables converge well within it
        (Adult: about a minute on 2 cores).
    patience:
        Epochs without a better validation loss before training stops (``None``: no early stopping).
    validation:
        Share of rows held out for the validation loss.
    bins:
        Tokens per numeric column (a column with at most this many distinct values keeps them all).
    embedding_dim, hidden, dropout, learning_rate:
        Network size and optimiser step.
    lr_decay:
        The learning rate is multiplied by this after 2 epochs without a better validation loss, down to a tenth
        of ``learning_rate`` (as TabularARGN does; ``None``: constant).
    fixed_order_share:
        Share of training rows that use the canonical column order (the rest use random orders).
    match_marginals:
        Rows sampled with nothing given reproduce the training frequency of every token: each column's
        probabilities are tilted by fixed offsets, one per token, found after training on a reference sample
        (:mod:`.marginal_matching`); each row keeps its own conditional preferences, for any number of rows.
        ``False``: the network's probabilities as they are.
    device:
        ``"auto"`` (a GPU when there is one), ``"cpu"``, ``"cuda"``...
    precision:
        ``"auto"`` (float32 here: this model's small batched products gain nothing from bfloat16, measured in
        docs/generators.md), ``"float32"`` or ``"bfloat16"`` (:func:`.torch_utils.resolve_precision`).
    epsilon, delta:
        With ``epsilon``: differentially private, (epsilon, delta)-DP (:mod:`.private_autoregressive`): tokens on
        the schema's public domains grouped by noisy one-way counts (``dp_marginal_share`` of the budget, zCDP),
        the network trained by DP-SGD (the rest; RDP), composed in RDP. Needs a schema with public domains and
        the ``synthgov[dp]`` extra (opacus' accountant).
    dp_epochs, dp_sample_rate, dp_clip, dp_marginal_share:
        DP-SGD's expected passes over the rows, Poisson sampling rate per step (a parameter, never computed from
        the row count), per-row gradient norm bound, and the share of the budget's rho spent on the one-way
        marginals. ``epochs``, ``batch_size``, ``patience``, ``validation``, ``dropout`` and ``lr_decay`` are
        not used in the private mode (nothing may be chosen by a loss on the rows).
    domain_share:
        Private mode: share of the budget's rho spent on estimating the domains of columns the schema does not
        declare public (:mod:`synthgov.privacy.domain_estimation`); ``None``: every domain must be declared.
    """

    name = "autoregressive"

    def __init__(
        self,
        *,
        seed: int | None = None,
        epochs: int = 100,
        batch_size: int = 512,
        max_seconds: float | None = 600.0,
        patience: int | None = 4,
        validation: float = 0.1,
        bins: int = 100,
        embedding_dim: int = 16,
        hidden: int = 64,
        dropout: float = 0.1,
        learning_rate: float = 2e-3,
        lr_decay: float | None = 0.5,
        fixed_order_share: float = 0.5,
        match_marginals: bool = True,
        device: str = "auto",
        precision: str = "auto",
        epsilon: float | None = None,
        delta: float = 1e-5,
        dp_epochs: int = 20,
        dp_sample_rate: float = 0.05,
        dp_clip: float = 1.0,
        dp_marginal_share: float = 0.1,
        domain_share: float | None = None,
    ) -> None:
        super().__init__(
            seed=seed,
            epochs=epochs,
            batch_size=batch_size,
            max_seconds=max_seconds,
            patience=patience,
            validation=validation,
            bins=bins,
            device=device,
            precision=precision,
        )
        self.embedding_dim = embedding_dim
        self.hidden = hidden
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.fixed_order_share = fixed_order_share
        self.match_marginals = match_marginals
        self.epsilon = epsilon
        self.delta = delta
        self.dp_epochs = dp_epochs
        self.dp_sample_rate = dp_sample_rate
        self.dp_clip = dp_clip
        self.dp_marginal_share = dp_marginal_share
        self.domain_share = domain_share

    # -- the private mode (DP-SGD; synthgov.generators.private_mode) ----------------------------------
    def budget_lines(self, columns: int, numeric: int = 0, categorical: int = 0) -> list[dict[str, Any]]:
        """The itemised budget of a private fit on ``columns`` columns (``numeric`` and ``categorical`` of them with
        domains to estimate): a zCDP line for the one-way marginals, an RDP line for DP-SGD (and a line for the
        domains), composing to (epsilon, delta) (:func:`synthgov.privacy.rdp.composed`)."""
        from synthgov.generators.neural import private_autoregressive

        return private_autoregressive.budget_lines(self, numeric, categorical)

    def privacy(self) -> dict[str, Any]:
        from synthgov.generators.neural import private_autoregressive

        self._check_fitted()
        return private_autoregressive.privacy(self)

    def _fit_private(self, table: TableLike, schema: Schema | str | Path | None) -> None:
        from synthgov.generators.neural import private_autoregressive

        private_autoregressive.fit(self, table, schema)

    def _sample_private(self, n: int, seed: int | None, conditions: Any) -> pd.DataFrame:
        from synthgov.generators.neural import private_autoregressive

        return private_autoregressive.sample(self, n, seed, conditions)

    def _check_params(self, rows: int | None = None) -> None:
        if self.is_private:
            from synthgov.generators.neural import private_autoregressive

            private_autoregressive.check_params(self, rows)
        super()._check_params()
        decay = self.lr_decay
        if decay is not None and (isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 < decay < 1):
            raise InputError(f"lr_decay must lie strictly between 0 and 1 (or be None), got {decay!r}")
        p = self.dropout
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise InputError(f"dropout must lie in [0, 1), got {p!r}")

    def _learn_statistics(self, tokens: np.ndarray, uniforms: dict[str, np.ndarray]) -> None:
        self.priors_ = [
            np.bincount(tokens[:, j], minlength=s) / len(tokens) for j, s in enumerate(self.encoding_.sizes)
        ]

    def _token_sizes(self) -> list[int]:
        """Tokens per column: the encoding's, or the private mode's model groups."""
        return [len(p) for p in self.priors_]

    def _build_network(self) -> torch.nn.Module:
        return _network(self._token_sizes(), self.priors_, self.embedding_dim, self.hidden, self.dropout)

    # -- training ---------------------------------------------------------------------------------
    def _known_mask(self, b: int, d: int, gen: torch.Generator) -> torch.Tensor:
        """Per row a column order (the canonical one for a share of rows, else random): ``known[b, j, k]`` is
        True when column k comes before column j."""
        import torch

        device = self.device_
        ranks = torch.rand(b, d, generator=gen, device=device).argsort(1).argsort(1)
        canonical = torch.rand(b, 1, generator=gen, device=device) < self.fixed_order_share
        ranks = torch.where(canonical, torch.arange(d, device=device).expand(b, d), ranks)
        return ranks.unsqueeze(1) < ranks.unsqueeze(2)

    def _loss(self, x: torch.Tensor, known: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        from torch.nn import functional

        net = self.network_
        h = net.hidden_state(net.embeddings(x), known, keep=keep)
        loss = sum(
            functional.cross_entropy(head(h[:, j]), x[:, j], reduction="mean") for j, head in enumerate(net.heads)
        )
        return loss / x.shape[1]  # mean negative log-likelihood per column

    def _train(self, tokens: np.ndarray, uniforms: dict[str, np.ndarray], rng: np.random.Generator) -> TrainingReport:
        import torch

        device = self.device_
        train_rows, val_rows = self.split_rows(len(tokens), rng)
        x_train = torch.as_tensor(tokens[train_rows], device=device)
        x_val = torch.as_tensor(tokens[val_rows], device=device)
        gen = torch_generator(rng, device)
        val_known = self._known_mask(len(val_rows), tokens.shape[1], gen) if len(val_rows) else None
        optimiser = adam(
            self.network_.parameters(), self.device_, decoupled=True, lr=self.learning_rate, weight_decay=1e-5
        )

        keep_mask = dropout_masks(float(self.dropout), int(self.embedding_dim), rng, gen, device)

        per_pass = rows_per_pass(tokens.shape[1], int(self.embedding_dim))

        def train_batch(rows: torch.Tensor) -> float:
            x = x_train[rows.to(device)]
            b, d = x.shape
            known = self._known_mask(b, d, gen)
            optimiser.zero_grad(set_to_none=True)
            total = 0.0
            for start in range(0, b, per_pass):  # a wide table's batch in passes: the gradients add up exactly
                part = slice(start, min(b, start + per_pass))
                rows_here = part.stop - part.start
                loss = self._loss(x[part], known[part], keep_mask(rows_here, d)) * (rows_here / b)
                loss.backward()
                total += float(loss.detach())
            optimiser.step()
            return total

        def validate() -> float | None:
            if val_known is None:
                return None
            step = min(8192, per_pass)
            with torch.no_grad():
                return float(
                    sum(
                        self._loss(x_val[i : i + step], val_known[i : i + step]) * len(x_val[i : i + step])
                        for i in range(0, len(x_val), step)
                    )
                    / len(x_val)
                )

        scheduler = None
        if self.lr_decay is not None:
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimiser, factor=self.lr_decay, patience=2, min_lr=0.1 * self.learning_rate
            )
        report = self._run_training(
            train_batch, validate, len(train_rows), rng, "autoregressive network", scheduler=scheduler
        )
        self.offsets_ = self._calibrate(rng)  # found either way, so match_marginals can be switched after fit
        return report

    # -- sampling ---------------------------------------------------------------------------------
    def _sample_uniforms_rows(
        self, n: int, rng: np.random.Generator, intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        given = self._given_tokens(n, intervals)
        free = (given < 0).all(1) if self.match_marginals else None  # rows with nothing given: calibrated
        tokens, known = np.maximum(given, 0), given >= 0
        for start in range(0, n, SAMPLE_CHUNK):  # rows in chunks: the (rows x tokens) probabilities stay small
            part = slice(start, start + SAMPLE_CHUNK)
            self._complete(tokens[part], known[part], rng, None if free is None else free[part])
        return self._pin(self.encoding_.uniforms_from_tokens(tokens, rng), intervals, rng)

    def _complete(
        self, tokens: np.ndarray, known: np.ndarray, rng: np.random.Generator, calibrated: np.ndarray | None = None
    ) -> np.ndarray:
        """Draw every unknown token, column by column in the canonical order, given the known ones (``tokens``
        and ``known`` are filled in place); the rows selected by ``calibrated`` draw with the calibration offsets
        added to their logits."""
        for j in range(tokens.shape[1]):
            rows = np.flatnonzero(~known[:, j])
            if rows.size == 0:
                continue
            log_probs = self._column_log_probs(tokens, known, rows, j)
            if calibrated is not None:
                log_probs[calibrated[rows]] += self.offsets_[j]
            tokens[rows, j] = sample_categorical(softmax_rows(log_probs), rng)
            known[:, j] = True
        return tokens

    def _column_log_probs(self, tokens: np.ndarray, known: np.ndarray, rows: np.ndarray, j: int) -> np.ndarray:
        """(rows, tokens of column j) log-probabilities of column j given the known tokens of ``rows``."""
        import torch

        net, device = self.network_, self.device_
        net.eval()
        out = np.empty((rows.size, len(self.priors_[j])))
        with torch.no_grad():
            for start in range(0, rows.size, SAMPLE_CHUNK):
                part = rows[start : start + SAMPLE_CHUNK]
                x = torch.as_tensor(tokens[part], device=device)
                k = torch.as_tensor(known[part], device=device)
                out[start : start + part.size] = torch.log_softmax(net.column_logits(x, k, j).double(), 1).cpu().numpy()
        return out

    def _calibrate(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Offsets per column and token such that, sampling unconditionally in the canonical order with the
        offsets of the columns before, the mean tilted probabilities of a reference sample equal the training
        frequencies (raking, :func:`.marginal_matching.tilt_offsets`). Tokens never seen in training get
        ``NEVER`` (never drawn)."""
        from synthgov.generators.neural.marginal_matching import CALIBRATION_ROWS, tilt_offsets

        d = len(self.priors_)
        tokens = np.zeros((CALIBRATION_ROWS, d), dtype=np.int64)
        known = np.zeros_like(tokens, dtype=bool)
        everything = np.arange(CALIBRATION_ROWS)
        offsets = []
        for j in range(d):
            log_probs = self._column_log_probs(tokens, known, everything, j)
            offsets.append(tilt_offsets(log_probs, self.priors_[j]))
            tokens[:, j] = sample_categorical(softmax_rows(log_probs + offsets[-1]), rng)
            known[:, j] = True
        return offsets

    def _no_offsets(self) -> list[np.ndarray]:
        return [np.zeros(s) for s in self._token_sizes()]

    def _private_state(self) -> dict[str, Any]:
        from synthgov.generators.neural import private_autoregressive

        return private_autoregressive.state(self)

    def _set_private_state(self, state: dict[str, Any]) -> None:
        from synthgov.generators.neural import private_autoregressive

        private_autoregressive.set_state(self, state)

    def _architecture_state(self) -> dict[str, Any]:
        return {"priors": self.priors_, "offsets": self.offsets_}

    def _set_architecture_state(self, state: dict[str, Any]) -> None:
        self.priors_ = [np.asarray(p, dtype=np.float64) for p in state["priors"]]
        offsets = state.get("offsets")  # absent in models saved before calibration existed
        self.offsets_ = self._no_offsets() if offsets is None else [np.asarray(o, dtype=np.float64) for o in offsets]
