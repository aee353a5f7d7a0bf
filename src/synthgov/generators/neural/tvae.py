"""``tvae``: the variational autoencoder of Xu et al. 2019 ("Modeling Tabular Data using Conditional GAN"),
engineered for speed.

Same architecture and loss as the paper (and SDV's TVAE): encoder and decoder MLPs (128, 128), a 128-d
latent, a Gaussian likelihood with a learned standard deviation per numeric column, cross-entropy for each
categorical column, the reconstruction weighted by ``loss_factor`` against the KL term, L2 1e-5, batch 500.
Differences, each measured in docs/generators.md: numbers enter as normal scores of the shared quantile
transform (:mod:`.encoding`) instead of a per-column Bayesian GMM (which is most of SDV's time per epoch);
categories are sampled from the decoder's softmax instead of taken by argmax; and the encoder and decoder
also read a conditional vector over the categorical columns (a CVAE; empty for half of the training rows), so
conditional sampling is native: the given categories are set in the vector and in the output.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from synthgov.generators.neural.base import NeuralSynthesizer
from synthgov.generators.neural.conditioning import CategoryConditions, condition_vectors
from synthgov.generators.neural.encoding import Z_LIMIT
from synthgov.generators.neural.mixed import MixedLayout
from synthgov.generators.neural.torch_utils import torch_generator
from synthgov.generators.neural.training import TrainingReport

if TYPE_CHECKING:
    import torch


def _mlp(sizes: list[int]) -> torch.nn.Module:
    from torch import nn

    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


def _network(layout: MixedLayout, cond_width: int, latent: int, hidden: tuple[int, ...]) -> torch.nn.Module:
    import torch
    from torch import nn

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = _mlp([layout.width + cond_width, *hidden])
            self.mu = nn.Linear(hidden[-1], latent)
            self.logvar = nn.Linear(hidden[-1], latent)
            self.decoder = nn.Sequential(_mlp([latent + cond_width, *hidden]), nn.Linear(hidden[-1], layout.width))
            self.sigma = nn.Parameter(torch.full((layout.n_numeric,), 0.1))

        def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, ...]:
            h = self.encoder(torch.cat([x, cond], 1))
            mu, logvar = self.mu(h), self.logvar(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return self.decoder(torch.cat([z, cond], 1)), mu, logvar

    return VAE()


class TVAESynthesizer(NeuralSynthesizer):
    """The TVAE of Xu et al. 2019 (see module docstring).

    Parameters
    ----------
    seed, epochs, batch_size, max_seconds, patience, validation, device:
        As for every neural generator (``epochs`` = 300 and ``batch_size`` = 500 as in SDV).
    latent_dim, hidden:
        Latent size and the hidden layer sizes of encoder and decoder.
    loss_factor:
        Weight of the reconstruction against the KL divergence (2 in the paper).
    learning_rate:
        Adam step (1e-3 in the paper).
    """

    name = "tvae"

    def __init__(
        self,
        *,
        seed: int | None = None,
        epochs: int = 300,
        batch_size: int = 500,
        max_seconds: float | None = None,
        patience: int | None = 20,
        validation: float = 0.1,
        latent_dim: int = 128,
        hidden: tuple[int, ...] = (128, 128),
        loss_factor: float = 2.0,
        learning_rate: float = 1e-3,
        device: str = "auto",
    ) -> None:
        super().__init__(
            seed=seed,
            epochs=epochs,
            batch_size=batch_size,
            max_seconds=max_seconds,
            patience=patience,
            validation=validation,
            device=device,
        )
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.loss_factor = loss_factor
        self.learning_rate = learning_rate

    def _build_network(self) -> torch.nn.Module:
        self.hidden = tuple(int(h) for h in self.hidden)
        layout = self._layout()
        return _network(layout, int(sum(layout.sizes)), int(self.latent_dim), self.hidden)

    def _elbo(self, z: torch.Tensor, codes: torch.Tensor, given: torch.Tensor, conditions: CategoryConditions):
        import torch

        layout, net = self._layout(), self.network_
        cond = conditions.vectors(given)
        out, mu, logvar = net(layout.vectors(z, codes), cond)
        sigma = net.sigma.clamp(0.01, 1.0)
        n = layout.n_numeric
        numeric = (((z - out[:, :n]) ** 2) / (2 * sigma**2)).sum(1).mean() + torch.log(sigma).sum()
        recon = numeric + layout.categorical_loss(out, codes)
        kld = -0.5 * torch.mean(torch.sum(1 + logvar - mu**2 - logvar.exp(), 1))
        return self.loss_factor * recon + kld

    def _train(self, tokens: np.ndarray, uniforms: dict[str, np.ndarray], rng: np.random.Generator) -> TrainingReport:
        import torch

        device = self.device_
        z_all, codes_all = self.encoding_.mixed(uniforms, tokens)
        train_rows, val_rows = self.split_rows(len(tokens), rng)
        conditions = CategoryConditions(codes_all[train_rows], self._layout().sizes)
        z_t, c_t = torch.as_tensor(z_all, device=device), torch.as_tensor(codes_all, device=device)
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate, weight_decay=1e-5)
        d = codes_all.shape[1]
        val_reveal = torch.as_tensor(CategoryConditions.random_reveal(len(val_rows), d, rng), device=device)
        val_idx = torch.as_tensor(val_rows, device=device)
        train_idx = torch.as_tensor(train_rows, device=device)

        def train_batch(rows: torch.Tensor) -> float:
            idx = train_idx[rows.to(device)]
            codes = c_t[idx]
            reveal = torch.as_tensor(CategoryConditions.random_reveal(len(idx), d, rng), device=device)
            loss = self._elbo(z_t[idx], codes, torch.where(reveal, codes, -1), conditions)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            return float(loss.detach())

        def validate() -> float | None:
            if len(val_rows) == 0:
                return None
            torch.manual_seed(0)  # the same reparameterisation noise every epoch: comparable losses
            codes = c_t[val_idx]
            return float(self._elbo(z_t[val_idx], codes, torch.where(val_reveal, codes, -1), conditions))

        return self._run_training(train_batch, validate, len(train_rows), rng, "TVAE")

    def _sample_uniforms_rows(
        self, n: int, rng: np.random.Generator, intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        return self._sample_by_matching(n, rng, intervals)

    def _sample_mixed(self, given: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        import torch

        layout, net, device = self._layout(), self.network_, self.device_
        n = len(given)
        z_out = np.empty((n, layout.n_numeric), dtype=np.float64)
        codes = np.empty((n, len(layout.sizes)), dtype=np.int64)
        gen = torch_generator(rng, device)
        net.eval()
        with torch.no_grad():
            for start in range(0, n, 65_536):
                part = slice(start, min(n, start + 65_536))
                cond = condition_vectors(torch.as_tensor(given[part], device=device), layout.sizes)
                latent = torch.randn(cond.shape[0], int(self.latent_dim), generator=gen, device=device)
                out = net.decoder(torch.cat([latent, cond], 1))
                sigma = net.sigma.clamp(0.01, 1.0)
                noise = torch.randn(cond.shape[0], layout.n_numeric, generator=gen, device=device)
                z_out[part] = (out[:, : layout.n_numeric] + noise * sigma).clamp(-Z_LIMIT, Z_LIMIT).cpu().numpy()
                codes[part] = layout.draw_categories(out, rng)
        return z_out, codes
