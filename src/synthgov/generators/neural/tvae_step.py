"""One TVAE training step with its gradients written out by hand.

Under autograd this step is about 300 small tensor operations (autocast's casts of every weight and
activation and of their gradients, the graph's bookkeeping, one ``copy_`` per cast); at batch 500 on 2 CPU
cores they cost more than the matrix products themselves. The ELBO of a VAE made of two ReLU MLPs has short
closed-form gradients, so :class:`ELBOStep` computes the loss and the gradient of every parameter directly,
with the matrix products in the step's precision (bfloat16 inputs with float32 accumulation, as under
autocast) and the losses, the latent noise and the KL term in float32.

During training the parameters live in one flat float32 buffer (each parameter a view of it), so the step
casts all weights to bfloat16 in one operation, writes every gradient into one flat buffer, and Adam updates
one tensor; the mean and log-variance heads sit side by side in it and run as one product. :meth:`release`
gives the parameters their own storage back (safetensors refuses shared memory).

:meth:`TVAESynthesizer._elbo <synthgov.generators.neural.tvae.TVAESynthesizer._elbo>` stays the definition
of the loss (validation runs it); ``tests/test_neural.py`` checks that this step's loss and gradients equal
autograd's on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthgov.generators.neural.mixed import MixedLayout

if TYPE_CHECKING:
    import torch


class ELBOStep:
    """``step(z, codes, given, noise)``: the loss of :meth:`TVAESynthesizer._elbo` for a batch (a float32
    scalar), with the gradient of every parameter in ``flat.grad`` (each parameter's ``.grad`` a view of it)."""

    def __init__(self, network: torch.nn.Module, layout: MixedLayout, loss_factor: float, precision: str) -> None:
        import torch
        from torch import nn

        self.net, self.layout, self.loss_factor = network, layout, float(loss_factor)
        self.dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
        encoder = [network.encoder_in.linear, *[m for m in network.encoder if isinstance(m, nn.Linear)]]
        decoder = [network.decoder_in.linear, *[m for m in network.decoder[0] if isinstance(m, nn.Linear)]]
        self.layers = {"encoder": encoder, "decoder": decoder, "head": [network.decoder[1]]}  # ReLU after all but head
        heads = [network.mu.weight, network.logvar.weight, network.mu.bias, network.logvar.bias]
        order = [p for m in encoder for p in (m.weight, m.bias)] + heads
        order += [p for m in [*decoder, network.decoder[1]] for p in (m.weight, m.bias)] + [network.sigma]
        if {id(p) for p in order} != {id(p) for p in network.parameters()} or len(order) != len(set(map(id, order))):
            raise AssertionError("ELBOStep does not know this network's parameters")
        self.params = order
        self.flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in order]))
        self.flat.grad = torch.zeros_like(self.flat)
        self.spans: dict[int, tuple[int, int]] = {}
        start = 0
        for p in order:
            self.spans[id(p)] = (start, start + p.numel())
            p.data = self.flat.data[start : start + p.numel()].view(p.shape)
            p.grad = self.flat.grad[start : start + p.numel()].view(p.shape)
            start += p.numel()
        # the two heads as one layer: weights (2 * latent, hidden) and biases (2 * latent,), adjacent in `flat`
        w, b = network.mu.weight, network.mu.bias
        self.heads = (self.spans[id(w)][0], 2 * w.shape[0], w.shape[1], self.spans[id(b)][0])
        low_precision = self.dtype != torch.float32
        self._grads = torch.zeros_like(self.flat, dtype=self.dtype) if low_precision else self.flat.grad

    def release(self) -> None:
        """Every parameter back in its own storage, with no gradient (after training)."""
        for p in self.params:
            p.data = p.data.clone()
            p.grad = None

    # -- views of a flat buffer ---------------------------------------------------------------------------
    def _view(self, buffer: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        start, stop = self.spans[id(p)]
        return buffer[start:stop].view(p.shape)

    def _head_views(self, buffer: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        start, rows, cols, bias = self.heads
        return buffer[start : start + rows * cols].view(rows, cols), buffer[bias : bias + rows]

    def _layer_views(self, buffer: torch.Tensor, name: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(self._view(buffer, m.weight), self._view(buffer, m.bias)) for m in self.layers[name]]

    # -- the parts ----------------------------------------------------------------------------------------
    @staticmethod
    def _one_hot_beside(dense: torch.Tensor, cells: torch.Tensor, n_cells: int, dtype: torch.dtype) -> torch.Tensor:
        """``[dense, one-hot of cells]`` (cell ``n_cells`` = none: a last column that is sliced off)."""
        import torch

        width = dense.shape[1]
        out = torch.zeros(dense.shape[0], width + n_cells + 1, device=dense.device, dtype=dtype)
        out[:, :width] = dense
        out.scatter_(1, cells + width, 1.0)
        return out[:, :-1]

    @staticmethod
    def _forward(x: torch.Tensor, weights: list[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
        """Inputs of every layer of a ReLU MLP, then its output."""
        import torch

        acts = [x]
        for w, b in weights:
            acts.append(torch.relu(torch.addmm(b, acts[-1], w.t())))
        return acts

    @staticmethod
    def _backward(
        grad: torch.Tensor,
        acts: list[torch.Tensor],
        weights: list[tuple[torch.Tensor, torch.Tensor]],
        grads: list[tuple[torch.Tensor, torch.Tensor]],
        input_columns: int,
    ) -> torch.Tensor | None:
        """Back through a ReLU MLP from the gradient of its output, writing the layers' gradients into
        ``grads``; returns the gradient of the first ``input_columns`` columns of its input (None for 0)."""
        import torch

        for i in range(len(weights) - 1, -1, -1):
            grad = torch.ops.aten.threshold_backward(grad, acts[i + 1], 0)
            torch.mm(grad.t(), acts[i], out=grads[i][0])
            torch.sum(grad, 0, out=grads[i][1])
            if i > 0:
                grad = grad @ weights[i][0]
            elif input_columns:
                return grad @ weights[0][0][:, :input_columns]
        return None

    def __call__(self, z: torch.Tensor, codes: torch.Tensor, given: torch.Tensor, noise: torch.Tensor):
        import torch

        with torch.autocast(z.device.type, enabled=False):
            return self._step(z, codes, given, noise)

    def _step(self, z: torch.Tensor, codes: torch.Tensor, given: torch.Tensor, noise: torch.Tensor):
        import torch

        layout, net, dt, lf = self.layout, self.net, self.dtype, self.loss_factor
        n, c, rows, latent_size = layout.n_numeric, layout.n_categories, z.shape[0], noise.shape[1]
        weights = self.flat.detach().to(dt)  # one cast for all weights
        enc_w, dec_w = self._layer_views(weights, "encoder"), self._layer_views(weights, "decoder")
        (head_w, head_b), (w_heads, b_heads) = self._layer_views(weights, "head")[0], self._head_views(weights)
        # forward: encoder over [numbers, one-hot row, one-hot given], the latent, decoder over [latent, given]
        cells = torch.cat([layout.cells(codes), layout.cells(given, base=c, padding=2 * c)], 1)
        enc = self._forward(self._one_hot_beside(z.to(dt), cells, 2 * c, dt), enc_w)
        h = enc[-1]
        heads = torch.addmm(b_heads, h, w_heads.t()).float()
        mu, logvar = heads[:, :latent_size].contiguous(), heads[:, latent_size:].contiguous()  # fast elementwise
        spread = noise * (0.5 * logvar).exp_()  # noise * standard deviation
        latent = mu + spread
        given_cells = layout.cells(given, padding=c)
        dec = self._forward(self._one_hot_beside(latent.to(dt), given_cells, c, dt), dec_w)
        out = torch.addmm(head_b, dec[-1], head_w.t()).float()
        # losses (float32), as in TVAESynthesizer._elbo
        sigma_raw = net.sigma.detach()
        sigma = sigma_raw.clamp(0.01, 1.0)
        residual = z - out[:, :n]
        inv_var = 1.0 / sigma**2
        squares = (residual**2).sum(0)
        numeric = (squares * inv_var).sum() / (2 * rows) + torch.log(sigma).sum()
        variance = logvar.exp()
        kld = -0.5 * (logvar.sum() - (mu * mu).sum() - variance.sum()) / rows - 0.5 * latent_size
        grad_out = torch.empty_like(out)
        grad_out[:, :n] = residual * (-lf / rows * inv_var)
        categorical = out.new_zeros(())
        if layout.sizes:
            log_probs = layout.log_softmax(out[:, n:])
            hot = layout.category_columns(codes)
            categorical = -log_probs.gather(1, hot).sum() / rows
            probs = log_probs.exp_().scatter_add_(1, hot, torch.full(hot.shape, -1.0, device=out.device))
            grad_out[:, n:] = probs.mul_(lf / rows)
        loss = lf * (numeric + categorical) + kld
        inside = (sigma_raw >= 0.01) & (sigma_raw <= 1.0)  # clamp passes the gradient inside its range
        grad_sigma = torch.where(inside, lf * (1.0 / sigma - squares / (rows * sigma**3)), 0.0)
        grads = self._grads
        # backward: decoder, the reparameterisation, the KL term, encoder
        g = grad_out.to(dt)
        (head_gw, head_gb) = self._layer_views(grads, "head")[0]
        torch.mm(g.t(), dec[-1], out=head_gw)
        torch.sum(g, 0, out=head_gb)
        grad_latent = self._backward(g @ head_w, dec, dec_w, self._layer_views(grads, "decoder"), latent_size).float()
        grad_mu = torch.add(grad_latent, mu, alpha=1.0 / rows)
        grad_logvar = torch.addcmul((variance - 1.0).mul_(0.5 / rows), grad_latent, spread, value=0.5)
        gh = torch.cat([grad_mu, grad_logvar], 1).to(dt)
        gw_heads, gb_heads = self._head_views(grads)
        torch.mm(gh.t(), h, out=gw_heads)
        torch.sum(gh, 0, out=gb_heads)
        self._backward(gh @ w_heads, enc, enc_w, self._layer_views(grads, "encoder"), 0)
        if grads is not self.flat.grad:
            self.flat.grad.copy_(grads)
        self._view(self.flat.grad, net.sigma).copy_(grad_sigma)  # float32 in any precision
        return loss
