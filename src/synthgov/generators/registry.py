"""The registry of generators by name: the one place where the CLI, the API and later issues find them.

Entries are import paths, so listing generators (``synthgov --help``) imports none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from synthgov.errors import InputError

if TYPE_CHECKING:
    from synthgov.generators.base import Synthesizer

_ENTRIES: dict[str, tuple[str, str]] = {
    "copula": ("synthgov.generators.copula:GaussianCopulaSynthesizer", "Gaussian copula with exact marginals"),
    "bayesnet": (
        "synthgov.generators.bayesnet:BayesianNetworkSynthesizer",
        "PrivBayes-style Bayesian network (degree k)",
    ),
    "autoregressive": (
        "synthgov.generators.neural.autoregressive:AutoregressiveSynthesizer",
        "any-order autoregressive network over column tokens (the flagship)",
    ),
    "ctgan": ("synthgov.generators.neural.ctgan:CTGANSynthesizer", "conditional GAN (CTGAN, Xu et al. 2019)"),
    "tvae": ("synthgov.generators.neural.tvae:TVAESynthesizer", "variational autoencoder (TVAE, Xu et al. 2019)"),
    "ddpm": (
        "synthgov.generators.neural.ddpm:DDPMSynthesizer",
        "diffusion: Gaussian for numbers, masked for categories",
    ),
    "mst": (
        "synthgov.generators.mst:MSTSynthesizer",
        "differentially private MST (epsilon, delta; needs public domains)",
    ),
    "aim": (
        "synthgov.generators.aim:AIMSynthesizer",
        "differentially private AIM: adaptive marginals (epsilon, delta; needs public domains)",
    ),
    "rules": (
        "synthgov.generators.rules.synthesizer:RulesSynthesizer",
        "fully synthetic data from a YAML spec, no real data",
    ),
}
DEFAULT_GENERATOR = "autoregressive"


def register(name: str, target: str | type, summary: str = "") -> None:
    """Add a generator: ``target`` is a class or ``'module:Class'``."""
    if not isinstance(target, str):
        target = f"{target.__module__}:{target.__qualname__}"
    _ENTRIES[name] = (target, summary)


def available() -> dict[str, str]:
    """Generator names and one-line summaries."""
    return {name: summary for name, (_, summary) in _ENTRIES.items()}


def get(name: str) -> type[Synthesizer]:
    if name not in _ENTRIES:
        raise InputError(f"unknown generator '{name}'; available: {', '.join(_ENTRIES)}")
    module, _, attr = _ENTRIES[name][0].partition(":")
    return getattr(importlib.import_module(module), attr)


def synthesizer(name: str = DEFAULT_GENERATOR, **params: object) -> Synthesizer:
    """Create a generator by name: ``synthgov.synthesizer("copula", seed=0)``."""
    cls = get(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise InputError(f"generator '{name}': {exc}") from None
