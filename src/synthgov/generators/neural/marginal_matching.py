"""Marginal matching at sampling time, for the models that sample a row as one vector (``tvae``, ``ctgan``).

A VAE decodes latents drawn from its prior, which is not exactly the distribution of the encoded training rows
(the "prior hole"), and a GAN's generator drifts from the data's frequencies: both sample marginals that are a few
points off (TVAE on Adult: ``income`` 6 points of total variation off, Column Shapes 0.966). After training, two
fixed corrections are found on a reference sample of unconditional rows (``CALIBRATION_ROWS``); they keep the
model's dependence:

- **categories**: each categorical block's probabilities are tilted by one offset per category, found by
  iterative proportional fitting (raking) on the reference sample, so that their mean over its rows equals the
  training frequencies; each row then draws from its tilted probabilities (rows keep their own preferences, so
  associations between columns stay);
- **numbers**: each normal score goes through the reference sample's distribution function (its quantiles,
  interpolated) and back through the normal quantile function, so the column follows the training marginal
  through the shared quantile transform; the map is increasing, so rank correlations are the model's.

Both are fixed maps, so they hold for any number of rows (a correction found on the batch being sampled would
make a lone row follow the marginals column by column, independently). They apply only to rows with nothing
given: conditioned rows must follow the conditional distributions, which differ from the marginals.
"""

from __future__ import annotations

import numpy as np
from scipy import special

_EPS = 1e-6  # as the shared encoding's normal scores
#: rows of the reference sample on which the corrections are found (about Adult's size; a second or two)
CALIBRATION_ROWS = 32_768
#: quantiles kept per numeric column
LEVELS = 513
#: offset of a category the training data never shows (finite: model files are JSON)
NEVER = -1e4


def tilt_offsets(log_probs: np.ndarray, target: np.ndarray, iterations: int = 100, tol: float = 1e-9) -> np.ndarray:
    """Offsets ``b`` (one per category) with ``mean_rows softmax(log_probs + b) = target``.

    ``log_probs``: (rows, categories) log-probabilities (or logits); ``target``: the frequencies to match
    (normalised here). Categories the target gives no mass get offset ``NEVER`` (never drawn). Raking converges
    for any target whose support the rows' probabilities cover; it stops at ``tol`` (largest absolute gap).
    """
    target = np.asarray(target, dtype=np.float64)
    target = target / target.sum()
    logits = log_probs - log_probs.max(axis=1, keepdims=True)
    offsets = np.where(target > 0, 0.0, -np.inf)
    for _ in range(iterations):
        probs = softmax_rows(logits + offsets)
        mean = probs.mean(axis=0)
        if np.max(np.abs(mean - target)) < tol:
            break
        with np.errstate(divide="ignore"):
            step = np.log(target) - np.log(np.maximum(mean, 1e-300))
        offsets = np.where(target > 0, offsets + step, -np.inf)
        offsets -= offsets[target > 0].max()  # keep them bounded (a common shift changes nothing)
    return np.maximum(offsets, NEVER)


def score_quantiles(z: np.ndarray) -> np.ndarray:
    """``LEVELS`` quantiles of a sample of normal scores, made strictly increasing (ties would leave the map
    undefined)."""
    levels = np.linspace(0.0, 1.0, LEVELS)
    if z.size == 0:
        return special.ndtri(np.clip(levels, _EPS, 1 - _EPS))
    q = np.maximum.accumulate(np.quantile(np.asarray(z, dtype=np.float64), levels))
    return q + np.arange(LEVELS) * 1e-9


def map_scores(z: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Normal scores through the distribution function of ``quantiles`` (linear between them), then back
    through the normal quantile function: a sample distributed as the reference comes out standard normal."""
    u = np.interp(np.asarray(z, dtype=np.float64), quantiles, np.linspace(0.0, 1.0, len(quantiles)))
    return special.ndtri(np.clip(u, _EPS, 1 - _EPS))


def softmax_rows(x: np.ndarray) -> np.ndarray:
    """Softmax of each row of log-probabilities or logits (entries of -inf get probability 0)."""
    e = np.exp(x - np.max(np.where(np.isfinite(x), x, -np.inf), axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
