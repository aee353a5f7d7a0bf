"""PyTorch helpers: device auto-selection, seeded generators and weights as safetensors (never pickle)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthgov.errors import InputError, ModelFileError

if TYPE_CHECKING:
    import torch


def resolve_device(device: str) -> torch.device:
    """``"auto"``: CUDA when a GPU is visible, else Apple's MPS, else the CPU; or any name torch accepts."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA GPU is visible")
    return chosen


PRECISIONS = ("auto", "float32", "bfloat16")


def resolve_precision(precision: str, device: torch.device, *, bfloat16_pays: bool = True) -> str:
    """The arithmetic of the training steps: ``"float32"`` throughout, or ``"bfloat16"`` (mixed precision: the
    matrix products run in bfloat16 under autocast with float32 accumulation, while weights, optimiser state and
    losses stay float32; only ``ddpm`` also samples under it). ``"auto"`` picks bfloat16 for a model whose time
    is in large matrix products (``bfloat16_pays``) where the hardware multiplies bfloat16 natively (a CUDA GPU
    with bfloat16 support; a CPU with AVX512-BF16 or AMX), and float32 elsewhere (emulated bfloat16 is slower)."""
    import torch

    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision != "auto":
        return precision
    if not bfloat16_pays:
        return "float32"
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        native = any(
            getattr(cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        )
        return "bfloat16" if native else "float32"
    return "float32"


def autocast(device: torch.device, precision: str):
    """The autocast context of a training step (a no-op for float32)."""
    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")


def adam(params, device: torch.device, *, decoupled: bool = False, **options) -> torch.optim.Optimizer:
    """Adam (or AdamW when ``decoupled``) with the fused kernel where this torch has one for ``device``: one
    kernel for all parameters instead of a dozen small operations per tensor (about 10% of a small model's
    step on a CPU); the update is the same."""
    import torch

    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    params = list(params)
    try:
        return cls(params, fused=device.type in ("cpu", "cuda"), **options)
    except (RuntimeError, TypeError, ValueError):  # an older torch or a device without the fused kernel
        return cls(params, **options)


def torch_seed(rng: np.random.Generator) -> int:
    """A torch seed drawn from a numpy generator (so one seed drives both libraries)."""
    return int(rng.integers(0, 2**62))


def torch_generator(rng: np.random.Generator, device: torch.device) -> torch.Generator:
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(torch_seed(rng))
    return gen


def weights_to_bytes(module: torch.nn.Module) -> bytes:
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()})


def load_weights(module: torch.nn.Module, data: bytes) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        state = load(data)
        module.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"damaged network weights ({exc})") from None


def sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of a (rows x categories) probability matrix, by inverse CDF with numpy's generator."""
    cum = np.cumsum(probs, axis=1)
    draws = rng.random(probs.shape[0])[:, None] * cum[:, -1:]
    return np.minimum((draws >= cum).sum(axis=1), probs.shape[1] - 1)
