"""``ctgan``: the conditional GAN of Xu et al. 2019, engineered for speed.

The paper's method: a conditional vector with training-by-sampling (:mod:`.conditioning`, vectorised and
extended to several given columns), a residual generator (256, 256) with Gumbel-softmax outputs for
categories, a PacGAN discriminator (``pac`` rows judged together; 256, 256, LeakyReLU 0.2, dropout 0.5),
the WGAN-GP loss (gradient penalty 10), the generator's cross-entropy on the given categories, Adam 2e-4
(betas 0.5, 0.9), batch 500, 300 epochs by default. Numbers enter as normal scores of the shared quantile
transform (:mod:`.encoding`) instead of mode-specific normalisation; the generator emits them linearly.

Conditional sampling on categorical values is native: the given categories are set in the conditional vector
(and the output keeps them exactly); unconditional sampling draws the vector as the paper does (one column,
a category by its frequency). Early stopping watches the distance between the token histograms of generated
rows and of the validation rows (a GAN has no validation likelihood).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from synthgov.errors import InputError
from synthgov.generators.neural.base import NeuralSynthesizer
from synthgov.generators.neural.conditioning import CategoryConditions, condition_vectors, draw_given_by_frequency
from synthgov.generators.neural.ctgan_critic import CriticStep
from synthgov.generators.neural.encoding import Z_LIMIT
from synthgov.generators.neural.mixed import MixedLayout, codes_linear
from synthgov.generators.neural.torch_utils import adam, torch_generator
from synthgov.generators.neural.training import TrainingReport

if TYPE_CHECKING:
    import torch

#: weight of the newest epoch in the smoothed early-stopping distance (see ``validate`` in ``_train``)
VALIDATION_SMOOTHING = 0.2


def _networks(layout: MixedLayout, noise: int, gen_dims, dis_dims, pac: int):
    """The paper's generator (residual layers over [noise, conditional vector]; the conditional vector enters
    every layer through :func:`codes_linear`, the same layers as lookups) and PacGAN discriminator."""
    import torch
    from torch import nn

    c = layout.n_categories

    class Residual(nn.Module):
        def __init__(self, a: int, b: int) -> None:
            super().__init__()
            self.fc, self.bn = codes_linear(a, c, b), nn.BatchNorm1d(b)

        def forward(self, x: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
            return torch.cat([torch.relu(self.bn(self.fc(x, cells))), x], 1)

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            dim, layers = noise, []
            for h in gen_dims:
                layers.append(Residual(dim, h))
                dim += h
            self.layers = nn.ModuleList(layers)
            self.out = codes_linear(dim, c, layout.width)

        def forward(self, x: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
            cells = layout.cells(given, padding=c)
            for layer in self.layers:
                x = layer(x, cells)
            return self.out(x, cells)

    class Dropout(nn.Module):
        """Dropout with the mask from ``rand`` (3x faster than ``bernoulli_`` on a CPU; same distribution)."""

        def __init__(self, p: float) -> None:
            super().__init__()
            self.p = p

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training:
                return x
            return x * (torch.rand_like(x) >= self.p) * (1.0 / (1.0 - self.p))

    class Discriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            dim, layers = (layout.width + c) * pac, []
            for h in dis_dims:
                layers += [nn.Linear(dim, h), nn.LeakyReLU(0.2), Dropout(0.5)]
                dim = h
            self.body = nn.Sequential(*layers, nn.Linear(dim, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x.reshape(-1, x.shape[1] * pac)).float()

    class GAN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.generator, self.discriminator = Generator(), Discriminator()

    return GAN()


class CTGANSynthesizer(NeuralSynthesizer):
    """Conditional tabular GAN (see module docstring).

    Parameters
    ----------
    seed, epochs, batch_size, max_seconds, patience, validation, device, precision:
        As for every neural generator (``epochs`` = 300 and ``batch_size`` = 500 as in SDV).
    noise_dim, generator_dims, discriminator_dims, pac:
        Sizes as in the paper; ``batch_size`` must be a multiple of ``pac``.
    learning_rate:
        Adam step of both networks.
    match_marginals:
        Rows sampled with nothing given match the training marginals through maps fixed once after training
        on a reference sample and saved with the model: categories by offsets that tilt the network's
        probabilities, numbers by an increasing map of their normal scores (:mod:`.marginal_matching`); the
        model's dependence is kept, and the maps hold for any number of rows. ``False`` samples as the paper
        does (measured in docs/generators.md).
    """

    name = "ctgan"
    rules_replace_whole_rows = True
    bfloat16_pays = True

    def __init__(
        self,
        *,
        seed: int | None = None,
        epochs: int = 300,
        batch_size: int = 500,
        max_seconds: float | None = None,
        patience: int | None = 30,
        validation: float = 0.1,
        noise_dim: int = 128,
        generator_dims: tuple[int, ...] = (256, 256),
        discriminator_dims: tuple[int, ...] = (256, 256),
        pac: int = 10,
        learning_rate: float = 2e-4,
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
        self.noise_dim = noise_dim
        self.generator_dims = generator_dims
        self.discriminator_dims = discriminator_dims
        self.pac = pac
        self.learning_rate = learning_rate
        self.match_marginals = match_marginals

    def _learn_statistics(self, tokens: np.ndarray, uniforms: dict[str, np.ndarray]) -> None:
        _, codes = self.encoding_.mixed(uniforms, tokens)
        self.frequencies_ = [
            np.bincount(codes[:, k], minlength=s) / len(codes) for k, s in enumerate(self._layout().sizes)
        ]

    def _architecture_state(self) -> dict[str, Any]:
        return {"frequencies": self.frequencies_}

    def _set_architecture_state(self, state: dict[str, Any]) -> None:
        self.frequencies_ = [np.asarray(f, dtype=np.float64) for f in state["frequencies"]]

    def _build_network(self) -> torch.nn.Module:
        if not (isinstance(self.pac, int) and self.pac >= 1 and self.batch_size % self.pac == 0):
            raise InputError(f"batch_size ({self.batch_size}) must be a multiple of pac ({self.pac})")
        layout = self._layout()
        return _networks(
            layout,
            int(self.noise_dim),
            [int(h) for h in self.generator_dims],
            [int(h) for h in self.discriminator_dims],
            self.pac,
        )

    def _activate(self, raw: torch.Tensor) -> torch.Tensor:
        import torch

        layout = self._layout()
        if not layout.sizes:
            return raw
        return torch.cat([raw[:, : layout.n_numeric], layout.gumbel_softmax(raw, tau=0.2)], 1)

    def _generate(self, given: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """Raw generator output for (B, K) given codes (-1 = not given)."""
        import torch

        noise = torch.randn(given.shape[0], int(self.noise_dim), generator=gen, device=given.device)
        return self.network_.generator(noise, given).float()  # float32 under autocast too

    def _train(self, tokens: np.ndarray, uniforms: dict[str, np.ndarray], rng: np.random.Generator) -> TrainingReport:
        import torch

        device, layout = self.device_, self._layout()
        z_all, codes_all = self.encoding_.mixed(uniforms, tokens)
        train_rows, val_rows = self.split_rows(len(tokens), rng)
        z_tr, c_tr = z_all[train_rows], codes_all[train_rows]
        conditions = CategoryConditions(c_tr, layout.sizes)
        z_t, c_t = torch.as_tensor(z_tr, device=device), torch.as_tensor(c_tr, device=device)
        gan = self.network_
        opt_g = adam(gan.generator.parameters(), device, lr=self.learning_rate, betas=(0.5, 0.9), weight_decay=1e-6)
        opt_d = adam(gan.discriminator.parameters(), device, lr=self.learning_rate, betas=(0.5, 0.9), weight_decay=1e-6)
        pac, d = self.pac, codes_all.shape[1]
        batch = max(pac, self.batch_rows(len(train_rows)) // pac * pac)
        critic = CriticStep(gan.discriminator, pac, self.training_precision())

        def given_for(rows: np.ndarray, cols: np.ndarray, cats: np.ndarray) -> torch.Tensor:
            reveal = CategoryConditions.random_reveal(len(rows), d, rng)
            given = np.where(reveal, c_tr[rows], -1)
            given[np.arange(len(rows)), cols] = cats
            return torch.as_tensor(given, device=device)

        def train_batch(_: torch.Tensor) -> float:
            if d:
                rows, cols, cats = conditions.training_by_sampling(batch, rng)
                given = given_for(rows, cols, cats)
            else:
                rows, given = rng.integers(0, len(train_rows), batch), torch.zeros(batch, 0, device=device).long()
            cond = condition_vectors(given, layout.sizes)
            rows_t = torch.as_tensor(rows, device=device)
            real = torch.cat([layout.vectors(z_t[rows_t], c_t[rows_t]), cond], 1)
            with torch.no_grad():  # the discriminator's step needs no gradient through the generator
                fake = torch.cat([self._activate(self._generate(given)), cond], 1)
            critic(real, fake)  # the loss of _critic_loss, its gradients written by hand
            opt_d.step()
            if d:
                rows, cols, cats = conditions.training_by_sampling(batch, rng)
                given = given_for(rows, cols, cats)
            cond = condition_vectors(given, layout.sizes)
            raw = self._generate(given)
            gan.discriminator.requires_grad_(False)  # the generator's step needs no critic weight gradients
            loss_g = -gan.discriminator(torch.cat([self._activate(raw), cond], 1)).mean()
            if d:
                loss_g = loss_g + layout.categorical_loss(raw, given.clamp(min=0), (given >= 0).float())
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            gan.discriminator.requires_grad_(True)
            opt_g.step()
            return float(loss_g.detach())

        val_tokens = tokens[val_rows]
        smoothed: list[float] = []

        def validate() -> float | None:
            """Mean total-variation distance of the token histograms, as an exponential moving average over
            epochs: the raw distance moves +-0.01 from epoch to epoch as the GAN oscillates, and a lucky low
            one stopped training at epoch 64 of a run whose distance was still falling (Adult, seed 0)."""
            if len(val_rows) == 0:
                return None
            sample = self._sample_tokens(min(len(val_rows), 5000), np.random.default_rng(0))
            distance = float(
                np.mean(
                    [
                        0.5
                        * np.abs(
                            np.bincount(sample[:, j], minlength=s) / len(sample)
                            - np.bincount(val_tokens[:, j], minlength=s) / len(val_tokens)
                        ).sum()
                        for j, s in enumerate(self.encoding_.sizes)
                    ]
                )
            )
            smoothed.append(
                distance
                if not smoothed
                else (1 - VALIDATION_SMOOTHING) * smoothed[-1] + VALIDATION_SMOOTHING * distance
            )
            return smoothed[-1]

        report = self._run_training(train_batch, validate, len(train_rows), rng, "CTGAN", batch_size=batch)
        self._calibrate_mixed(rng)
        return report

    def _critic_loss(self, real: torch.Tensor, fake: torch.Tensor, weight: float = 10.0) -> torch.Tensor:
        """WGAN-GP critic loss: -(D(real) - D(fake)) + gradient penalty on random interpolations (one weight
        per pac group). Real and fake rows go through the discriminator in one call (its rows are independent: no
        batch norm), the interpolations in a second. The definition of the loss: training runs
        :class:`.ctgan_critic.CriticStep`, which computes it and its gradients by hand (tested equal)."""
        import torch

        pac, n, width = self.pac, real.shape[0], real.shape[1]
        alpha = torch.rand(n // pac, 1, 1, device=real.device).expand(n // pac, pac, width).reshape(n, width)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        out_real, out_fake = self.network_.discriminator(torch.cat([real, fake], 0)).split(n // pac)
        out_mixed = self.network_.discriminator(mixed)
        grads = torch.autograd.grad(out_mixed.sum(), mixed, create_graph=True)[0]
        norms = grads.reshape(-1, pac * width).norm(2, dim=1)
        return -(out_real.mean() - out_fake.mean()) + ((norms - 1) ** 2).mean() * weight

    # -- sampling ---------------------------------------------------------------------------------
    def _raw_rows(self, given: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, torch.Tensor]:
        """Rows with nothing given get the paper's conditional vector (one column, a category by its training
        frequency); the generator's output gives the normal scores and the categories' logits."""
        import torch

        layout, device = self._layout(), self.device_
        free = (given < 0).all(1)
        if layout.sizes and free.any():
            given = given.copy()
            given[free] = draw_given_by_frequency(self.frequencies_, int(free.sum()), rng)
        raw = self._generate(torch.as_tensor(given, device=device), torch_generator(rng, device))
        return raw[:, : layout.n_numeric].clamp(-Z_LIMIT, Z_LIMIT).double().cpu().numpy(), raw

    def _sample_tokens(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Tokens of ``n`` unconditional rows as the network draws them (the scores of a column with gaps are
        places among its present values: decoded with the missing-value flags, not read on the full scale)."""
        enc = self.encoding_
        given = np.full((n, len(self._layout().sizes)), -1, dtype=np.int64)
        z, codes = self._sample_mixed(given, rng, match=False)
        return enc.tokens_of(enc.uniforms_from_mixed(z, codes, rng))

    def _sample_uniforms_rows(
        self, n: int, rng: np.random.Generator, intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        return self._sample_by_matching(n, rng, intervals)
