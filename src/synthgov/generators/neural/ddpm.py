"""``ddpm``: a diffusion model for mixed-type tables.

Design (the choice is argued with measurements in docs/generators.md): Gaussian diffusion for the numeric
columns' normal scores (cosine schedule, the network predicts the noise, as in TabDDPM) and **masked**
(absorbing-state) diffusion for the categorical columns (a token is hidden with probability t, the network
predicts the hidden tokens; as in TabDiff / MDLM) instead of TabDDPM's multinomial diffusion, which needs a
KL over the whole vocabulary at each step. One residual MLP with a time embedding denoises both parts in
continuous time, so sampling may use few steps (``sampling_steps``, ancestral updates).

Conditional sampling is native inpainting: given categories are never hidden, given numbers are re-noised to
the current time at every step (RePaint-style) and set exactly at the end.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from synthgov.generators.neural.base import NeuralSynthesizer
from synthgov.generators.neural.encoding import Z_LIMIT
from synthgov.generators.neural.torch_utils import adam, autocast, sample_categorical, torch_generator
from synthgov.generators.neural.training import TrainingReport

if TYPE_CHECKING:
    import torch


def _alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """Cosine schedule (Nichol & Dhariwal 2021): signal share of the noisy value at time t in [0, 1]."""
    import torch

    s = 0.008
    return (torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2).clamp(1e-5, 1.0)


def _network(n_numeric: int, sizes: list[int], embedding_dim: int, hidden: int, layers: int) -> torch.nn.Module:
    import torch
    from torch import nn

    class Denoiser(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            slots = torch.tensor([s + 1 for s in sizes], dtype=torch.long)  # tokens + the "hidden" token
            self.register_buffer("offsets", torch.cumsum(slots, 0) - slots, persistent=False)
            self.register_buffer("hidden_token", torch.tensor(sizes, dtype=torch.long), persistent=False)
            self.embed = nn.Embedding(max(1, int(slots.sum())), embedding_dim)
            self.time = nn.Sequential(nn.Linear(64, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            self.inp = nn.Linear(n_numeric + len(sizes) * embedding_dim, hidden)
            self.blocks = nn.ModuleList(
                nn.Sequential(
                    nn.LayerNorm(hidden), nn.Linear(hidden, 2 * hidden), nn.SiLU(), nn.Linear(2 * hidden, hidden)
                )
                for _ in range(layers)
            )
            self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, n_numeric + int(sum(sizes))))

        def forward(self, x: torch.Tensor, tokens: torch.Tensor, hidden_mask: torch.Tensor, t: torch.Tensor):
            freqs = torch.exp(-math.log(1000.0) * torch.arange(32, device=t.device) / 32)
            angles = t[:, None] * 1000.0 * freqs[None]
            temb = self.time(torch.cat([torch.sin(angles), torch.cos(angles)], 1))
            parts = [x]
            if sizes:
                idx = torch.where(hidden_mask, self.hidden_token, tokens) + self.offsets
                parts.append(self.embed(idx).flatten(1))
            h = self.inp(torch.cat(parts, 1)) + temb
            for block in self.blocks:
                h = h + block(h + temb)
            return self.out(h)

    return Denoiser()


class DDPMSynthesizer(NeuralSynthesizer):
    """Mixed-type diffusion: Gaussian for numbers, masked for categories (see module docstring).

    Parameters
    ----------
    seed, epochs, batch_size, max_seconds, patience, validation, device, precision:
        As for every neural generator.
    hidden, layers, embedding_dim:
        Width and depth of the residual MLP denoiser; size of the category embeddings.
    sampling_steps:
        Denoising steps when sampling.
    learning_rate:
        AdamW step.
    """

    name = "ddpm"
    rules_replace_whole_rows = True
    bfloat16_pays = True

    def __init__(
        self,
        *,
        seed: int | None = None,
        epochs: int = 200,
        batch_size: int = 1024,
        max_seconds: float | None = None,
        patience: int | None = 20,
        validation: float = 0.1,
        hidden: int = 256,
        layers: int = 3,
        embedding_dim: int = 16,
        sampling_steps: int = 100,
        learning_rate: float = 2e-3,
        device: str = "auto",
        precision: str = "auto",
    ) -> None:
        super().__init__(
            seed=seed,
            epochs=epochs,
            batch_size=batch_size,
            max_seconds=max_seconds,
            patience=patience,
            validation=validation,
            device=device,
            precision=precision,
        )
        self.hidden = hidden
        self.layers = layers
        self.embedding_dim = embedding_dim
        self.sampling_steps = sampling_steps
        self.learning_rate = learning_rate

    def _build_network(self) -> torch.nn.Module:
        layout = self._layout()
        return _network(layout.n_numeric, layout.sizes, int(self.embedding_dim), int(self.hidden), int(self.layers))

    def _loss(self, x0: torch.Tensor, codes: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        import torch

        layout, device = self._layout(), x0.device
        b = x0.shape[0]
        t = torch.rand(b, generator=gen, device=device).clamp(1e-3, 1.0)
        ab = _alpha_bar(t)[:, None]
        eps = torch.randn(x0.shape, generator=gen, device=device)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        hidden = torch.rand(codes.shape, generator=gen, device=device) < t[:, None]
        out = self.network_(xt, codes, hidden, t).float()  # losses in float32 under autocast
        n = layout.n_numeric
        loss = ((out[:, :n] - eps) ** 2).mean() if n else out.new_zeros(())
        if layout.sizes:
            loss = loss + layout.categorical_loss(out, codes, hidden.float()) / len(layout.sizes)
        return loss

    def _train(self, tokens: np.ndarray, uniforms: dict[str, np.ndarray], rng: np.random.Generator) -> TrainingReport:
        import torch

        device = self.device_
        z_all, codes_all = self.encoding_.mixed(uniforms, tokens)
        train_rows, val_rows = self.split_rows(len(tokens), rng)
        z_t, c_t = torch.as_tensor(z_all, device=device), torch.as_tensor(codes_all, device=device)
        train_idx, val_idx = torch.as_tensor(train_rows, device=device), torch.as_tensor(val_rows, device=device)
        optimiser = adam(
            self.network_.parameters(), self.device_, decoupled=True, lr=self.learning_rate, weight_decay=1e-5
        )
        gen = torch_generator(rng, device)

        def train_batch(rows: torch.Tensor) -> float:
            idx = train_idx[rows.to(device)]
            loss = self._loss(z_t[idx], c_t[idx], gen)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            return float(loss.detach())

        def validate() -> float | None:
            if len(val_rows) == 0:
                return None
            fixed = torch.Generator(device=device).manual_seed(0)  # the same noise every epoch
            return float(self._loss(z_t[val_idx], c_t[val_idx], fixed))

        return self._run_training(train_batch, validate, len(train_rows), rng, "diffusion")

    # -- sampling ---------------------------------------------------------------------------------
    def _sample_uniforms_rows(
        self, n: int, rng: np.random.Generator, intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        enc = self.encoding_
        given = self._given_mixed(n, intervals)
        pinned = np.full((n, len(enc.numeric_index)), np.nan)
        for k, j in enumerate(enc.numeric_index):
            name = enc.columns[j]
            if name in intervals:
                lo, hi = intervals[name]
                pinned[:, k] = enc.place_scores(j, (lo + hi) / 2)
        z = np.empty((n, len(enc.numeric_index)))
        codes = np.empty((n, given.shape[1]), dtype=np.int64)
        for start in range(0, n, 65_536):
            part = slice(start, min(n, start + 65_536))
            z[part], codes[part] = self._denoise(given[part], pinned[part], rng)
        return self._pin(enc.uniforms_from_mixed(z, codes, rng), intervals, rng)

    def _denoise(self, given: np.ndarray, pinned: np.ndarray, rng: np.random.Generator):
        import torch

        layout, net, device = self._layout(), self.network_, self.device_
        n, steps = len(given), int(self.sampling_steps)
        precision = self.training_.precision  # the network runs in the arithmetic it was trained in
        gen = torch_generator(rng, device)
        x = torch.randn(n, layout.n_numeric, generator=gen, device=device)
        known = torch.as_tensor(~np.isnan(pinned), device=device)
        target = torch.as_tensor(np.nan_to_num(pinned), dtype=torch.float32, device=device)
        codes = np.maximum(given, 0)
        hidden = given < 0
        times = torch.linspace(1.0, 0.0, steps + 1, device=device)
        net.eval()
        with torch.no_grad():
            for i in range(steps):
                t, s = times[i], times[i + 1]
                ab_t, ab_s = _alpha_bar(t), _alpha_bar(s) if s > 0 else torch.tensor(1.0, device=device)
                x = torch.where(known, ab_t.sqrt() * target + (1 - ab_t).sqrt() * torch.randn_like(x), x)
                with autocast(device, precision):
                    out = net(
                        x,
                        torch.as_tensor(codes, device=device),
                        torch.as_tensor(hidden, device=device),
                        t.expand(n),
                    ).float()
                eps = out[:, : layout.n_numeric]
                x0 = ((x - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()).clamp(-Z_LIMIT, Z_LIMIT)
                if s > 0:
                    var = (1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)
                    dir_ = (1 - ab_s - var).clamp(min=0).sqrt() * eps
                    x = ab_s.sqrt() * x0 + dir_ + var.sqrt() * torch.randn(x.shape, generator=gen, device=device)
                else:
                    x = x0
                if hidden.any():
                    reveal = hidden & (rng.random(hidden.shape) < float((t - s) / t))
                    for k, sl in enumerate(layout.slices):
                        rows = np.flatnonzero(reveal[:, k])
                        if rows.size:
                            probs = torch.softmax(out[rows][:, sl].double(), 1).cpu().numpy()
                            codes[rows, k] = sample_categorical(probs, rng)
                    hidden = hidden & ~reveal
        x = torch.where(known, target, x)
        return x.cpu().numpy().astype(np.float64), codes
