"""``tvae``: the variational autoencoder of Xu et al. 2019 ("Modeling Tabular Data using Conditional GAN"),
engineered for speed.

Same architecture and loss as the paper (and SDV's TVAE): encoder and decoder MLPs (128, 128), a 128-d
latent, a Gaussian likelihood with a learned standard deviation per numeric column, cross-entropy for each
categorical column, the reconstruction weighted by ``loss_factor`` against the KL term, L2 1e-5, batch 500.
Differences, each measured in docs/generators.md: numbers enter as normal scores of the shared quantile
transform (:mod:`.encoding`) instead of a per-column Bayesian GMM (which is most of SDV's time per epoch);
categories are sampled from the decoder's softmax instead of taken by argmax; and the encoder and decoder
also read a conditional vector over the categorical columns (a CVAE; empty for half of the training rows), so
conditional sampling is native: the given categories are set in the vector and in the output. Training
steps compute their gradients by hand (:mod:`.tvae_step`, checked against autograd on :meth:`_elbo`).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from synthgov.generators.neural.base import NeuralSynthesizer
from synthgov.generators.neural.conditioning import CategoryConditions
from synthgov.generators.neural.encoding import Z_LIMIT
from synthgov.generators.neural.mixed import MixedLayout, codes_linear
from synthgov.generators.neural.torch_utils import adam, torch_generator
from synthgov.generators.neural.training import TrainingReport
from synthgov.generators.neural.tvae_step import ELBOStep

if TYPE_CHECKING:
    import torch


def _mlp(sizes: list[int]) -> torch.nn.Module:
    from torch import nn

    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


def _network(layout: MixedLayout, latent: int, hidden: tuple[int, ...]) -> torch.nn.Module:
    """Encoder over [numbers, one-hot row, conditional vector], decoder over [latent, conditional vector]; the
    one-hot parts enter through :func:`codes_linear` (the same layers as the paper's, as lookups)."""
    import torch
    from torch import nn

    c = layout.n_categories

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder_in = codes_linear(layout.n_numeric, 2 * c, hidden[0])
            self.encoder = _mlp(list(hidden))
            self.mu = nn.Linear(hidden[-1], latent)
            self.logvar = nn.Linear(hidden[-1], latent)
            self.decoder_in = codes_linear(latent, c, hidden[0])
            self.decoder = nn.Sequential(_mlp(list(hidden)), nn.Linear(hidden[-1], layout.width))
            self.sigma = nn.Parameter(torch.full((layout.n_numeric,), 0.1))

        def decode(self, latent: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
            cells = layout.cells(given, padding=c)
            return self.decoder(torch.relu(self.decoder_in(latent, cells)))

        def forward(self, z: torch.Tensor, codes: torch.Tensor, given: torch.Tensor) -> tuple[torch.Tensor, ...]:
            cells = torch.cat([layout.cells(codes), layout.cells(given, base=c, padding=2 * c)], 1)
            h = self.encoder(torch.relu(self.encoder_in(z, cells)))
            mu, logvar = self.mu(h).float(), self.logvar(h).float()  # float32 noise and exp, also under autocast
            return self.decode(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar), given), mu, logvar

    return VAE()


class TVAESynthesizer(NeuralSynthesizer):
    """The TVAE of Xu et al. 2019 (see module docstring).

    Parameters
    ----------
    seed, epochs, batch_size, max_seconds, patience, validation, device, precision:
        As for every neural generator (``epochs`` = 300 and ``batch_size`` = 500 as in SDV).
    latent_dim, hidden:
        Latent size and the hidden layer sizes of encoder and decoder.
    loss_factor:
        Weight of the reconstruction against the KL divergence (2 in the paper).
    learning_rate:
        Adam step (1e-3 in the paper).
    match_marginals:
        Rows sampled with nothing given match the training marginals through maps fixed once after training
        on a reference sample and saved with the model: categories by offsets that tilt the network's
        probabilities, numbers by an increasing map of their normal scores (:mod:`.marginal_matching`); the
        model's dependence is kept, and the maps hold for any number of rows. ``False`` samples as the paper
        does (measured in docs/generators.md).
    """

    name = "tvae"
    rules_replace_whole_rows = True
    bfloat16_pays = True

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
        match_marginals: bool = True,
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
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.loss_factor = loss_factor
        self.learning_rate = learning_rate
        self.match_marginals = match_marginals

    def _build_network(self) -> torch.nn.Module:
        return _network(self._layout(), int(self.latent_dim), tuple(int(h) for h in self.hidden))

    def _elbo(self, z: torch.Tensor, codes: torch.Tensor, given: torch.Tensor):
        import torch

        layout, net = self._layout(), self.network_
        out, mu, logvar = net(z, codes, given)
        out = out.float()  # losses in float32 under autocast
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
        z_t, c_t = torch.as_tensor(z_all, device=device), torch.as_tensor(codes_all, device=device)
        d = codes_all.shape[1]
        val_reveal = torch.as_tensor(CategoryConditions.random_reveal(len(val_rows), d, rng), device=device)
        val_idx = torch.as_tensor(val_rows, device=device)
        train_idx = torch.as_tensor(train_rows, device=device)

        step = ELBOStep(self.network_, self._layout(), self.loss_factor, self.training_precision())  # params in .flat
        optimiser = adam([step.flat], device, lr=self.learning_rate, weight_decay=1e-5)
        latent = int(self.latent_dim)
        noise_source = torch_generator(rng, device)  # its own stream: validate() re-seeds the global one

        def train_batch(rows: torch.Tensor) -> float:
            idx = train_idx[rows.to(device)]
            codes = c_t[idx]
            reveal = torch.as_tensor(CategoryConditions.random_reveal(len(idx), d, rng), device=device)
            noise = torch.randn(len(idx), latent, generator=noise_source, device=device)
            loss = step(z_t[idx], codes, torch.where(reveal, codes, -1), noise)  # sets the gradients
            optimiser.step()
            return float(loss)

        def validate() -> float | None:
            if len(val_rows) == 0:
                return None
            torch.manual_seed(0)  # the same reparameterisation noise every epoch: comparable losses
            codes = c_t[val_idx]
            return float(self._elbo(z_t[val_idx], codes, torch.where(val_reveal, codes, -1)))

        try:
            report = self._run_training(train_batch, validate, len(train_rows), rng, "TVAE")
        finally:
            step.release()
        self._calibrate_mixed(rng)
        return report

    def _sample_uniforms_rows(
        self, n: int, rng: np.random.Generator, intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        return self._sample_by_matching(n, rng, intervals)

    def _raw_rows(self, given: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, torch.Tensor]:
        """Latents from the prior, decoded given the conditional vector; numbers with the learned noise."""
        import torch

        layout, net, device = self._layout(), self.network_, self.device_
        gen = torch_generator(rng, device)
        given_t = torch.as_tensor(given, device=device)
        latent = torch.randn(len(given_t), int(self.latent_dim), generator=gen, device=device)
        out = net.decode(latent, given_t)
        noise = torch.randn(len(given_t), layout.n_numeric, generator=gen, device=device)
        z = out[:, : layout.n_numeric] + noise * net.sigma.clamp(0.01, 1.0)
        return z.clamp(-Z_LIMIT, Z_LIMIT).double().cpu().numpy(), out
