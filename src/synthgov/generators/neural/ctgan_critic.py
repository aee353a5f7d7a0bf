"""The CTGAN critic's training step (WGAN loss plus gradient penalty) with its gradients written out by hand.

Under autograd the penalty needs a double backward: the graph of the input gradient is built and then
differentiated, about 200 small tensor operations per step with autocast's casts, at 50 packed rows per batch
(500 rows, ``pac`` 10) far more than the dozen matrix products the step needs. The PacGAN critic is an MLP with
LeakyReLU and dropout, piecewise linear in its input, so its input gradient is a product of the weights and
of each row's local slopes, ``g = ((s2 * w3) W2 * s1) W1`` (slopes 1 or 0.2 times the dropout mask), and the
slopes do not move with the weights (almost everywhere, as for autograd). The penalty's gradient with respect
to each weight is then a few more products. :class:`CriticStep` computes the loss of
:meth:`CTGANSynthesizer._critic_loss <synthgov.generators.neural.ctgan.CTGANSynthesizer._critic_loss>` (which
stays the definition) and writes every gradient of the critic into its parameters' ``.grad``, drawing its
random numbers (interpolation weights, then the dropout masks) in the same order and dtypes, so that with the
same torch seed it gives the same masks: ``tests/test_neural.py`` checks the loss and every gradient against
autograd's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class CriticStep:
    """``step(real, fake)``: the WGAN-GP critic loss (a float32 scalar) of ``real`` and ``fake`` rows (each
    (n, width), ``n`` a multiple of ``pac``), with the gradient of every critic parameter in its ``.grad``."""

    def __init__(self, discriminator: torch.nn.Module, pac: int, precision: str, weight: float = 10.0) -> None:
        import torch
        from torch import nn

        modules = list(discriminator.body)
        self.linears = [m for m in modules if isinstance(m, nn.Linear)]
        slopes = [m.negative_slope for m in modules if isinstance(m, nn.LeakyReLU)]
        drops = [m.p for m in modules if type(m).__name__ == "Dropout"]
        if len(slopes) != len(self.linears) - 1 or len(drops) != len(slopes) or len({*slopes}) > 1 or len({*drops}) > 1:
            raise AssertionError("CriticStep expects (Linear, LeakyReLU, Dropout) layers and a last Linear")
        self.slope = float(slopes[0]) if slopes else 0.0
        self.drop = float(drops[0]) if drops else 0.0
        self.pac, self.weight = pac, float(weight)
        self.dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32

    def __call__(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        import torch

        with torch.autocast(real.device.type, enabled=False), torch.no_grad():
            return self._step(real, fake)

    def _hidden(self, x: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor]):
        """Outputs ``a`` of the hidden layers (after LeakyReLU and dropout) and their local slopes ``s``
        (``a = s * (x W' + b)``: 1 or ``slope``, times the dropout mask over the keep rate)."""
        import torch

        acts, slopes = [x], []
        scale = 1.0 / (1.0 - self.drop)
        for w, b in zip(weights[:-1], biases[:-1], strict=True):
            h = torch.addmm(b, acts[-1], w.t())
            keep = torch.rand_like(h) >= self.drop  # as the Dropout module: a uniform of the activation's dtype
            s = torch.where(h > 0, scale, self.slope * scale).to(h.dtype) * keep
            acts.append(h * s)
            slopes.append(s)
        return acts, slopes

    def _step(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        import torch

        pac, n, width, dt = self.pac, real.shape[0], real.shape[1], self.dtype
        rows = n // pac
        alpha = torch.rand(rows, 1, 1, device=real.device).expand(rows, pac, width).reshape(n, width)
        mixed = alpha * real + (1 - alpha) * fake
        weights = [m.weight.detach().to(dt) for m in self.linears]
        biases = [m.bias.detach().to(dt) for m in self.linears]
        # each hidden layer's weight gradient has a WGAN part and a penalty part, sum_r left[r]' right[r] over
        # the rows of both; stacking their rows makes it one product per layer (the first layer's (256, pac x
        # width) result is the step's largest, written once)
        left: list[list[torch.Tensor]] = [[] for _ in weights[:-1]]
        right: list[list[torch.Tensor]] = [[] for _ in weights[:-1]]

        # the WGAN part: real and fake rows through the critic in one pass, then back
        x = torch.cat([real, fake], 0).to(dt).reshape(2 * rows, pac * width)
        acts, slopes = self._hidden(x, weights, biases)
        out = torch.addmm(biases[-1], acts[-1], weights[-1].t()).float()
        loss = out[rows:].mean() - out[:rows].mean()
        g = torch.full((2 * rows, 1), 1.0 / rows, device=real.device, dtype=dt)
        g[:rows] = -1.0 / rows
        grad_b = [g.sum(0)]
        grad_last = (g.t() @ acts[-1]).float()
        for i in range(len(slopes) - 1, -1, -1):
            g = (g @ weights[i + 1]) * slopes[i]
            left[i].append(g)
            right[i].append(acts[i])
            grad_b.insert(0, g.sum(0))

        # the penalty: the input gradient of each interpolated pack and its gradient with respect to the weights
        acts, slopes = self._hidden(mixed.to(dt).reshape(rows, pac * width), weights, biases)
        v = weights[-1].expand(rows, -1)  # gradient of the output w.r.t. the last hidden output
        pre = []  # gradients of the output w.r.t. each hidden layer's pre-activation
        for i in range(len(slopes) - 1, -1, -1):
            pre.insert(0, v * slopes[i])
            v = pre[0] @ weights[i]
        grad_in = v.float()
        norms = grad_in.norm(2, dim=1)
        loss = loss + self.weight * ((norms - 1) ** 2).mean()
        g = (grad_in * (2 * self.weight / rows * (norms - 1) / norms.clamp_min(1e-12)).unsqueeze(1)).to(dt)
        for i in range(len(slopes)):  # back up the chain: g is the penalty's gradient w.r.t. what pre[i] made
            left[i].append(pre[i])
            right[i].append(g)
            g = (g @ weights[i].t()) * slopes[i]
        grad_last += g.sum(0, keepdim=True).float()
        grad_w = [(torch.cat(a, 0).t() @ torch.cat(b, 0)).float() for a, b in zip(left, right, strict=True)]
        grad_w.append(grad_last)

        for m, gw, gb in zip(self.linears, grad_w, grad_b, strict=True):
            m.weight.grad = gw
            m.bias.grad = gb.to(m.bias.dtype)
        return loss
