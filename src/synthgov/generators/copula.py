"""Gaussian copula with exact marginals and exact conditional sampling.

Fit: every modelled column goes to the uniform scale by a randomised PIT (see :mod:`marginals`), then to normal
scores ``z = Phi^-1(u)``; the copula is the latent correlation matrix of ``z``: the correlations of discrete
columns corrected for the attenuation the randomised PIT causes (:func:`_latent_correlation`). The order in
which a categorical column's categories are laid out on the uniform scale decides how much of its association
with other columns a single latent dimension can carry; we order them by their first-dimension scores in a multiple
correspondence analysis (MCA) of all columns (numbers binned by deciles), the 1-D scaling that maximises the
average squared correlation between columns (homogeneity analysis, Gifi 1990).

Sample: ``z ~ N(0, R)``, mapped back through each marginal. Conditions (any columns, categorical or numeric)
are intervals of the uniform scale; conditioned normal scores are drawn sequentially from their truncated
conditional normals (the GHK simulator) with importance weights, resampled, and the other columns follow
their exact Gaussian conditional. No rejection: a category of 0.1% costs what a category of 50% does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from synthgov import progress
from synthgov.generators.base import Intervals, TabularSynthesizer
from synthgov.generators.marginals import CategoricalMarginal

_EPS = 1e-9
ROW_CANDIDATES = 4  # a row conditioned alone weighs ROW_CANDIDATES x oversample candidates (GHK importance weights)
GROUP_ROWS = 64  # rows sharing one condition drawn together (pooled importance resampling) from this many up


def _ndtri(u: np.ndarray) -> np.ndarray:
    return special.ndtri(np.clip(u, _EPS, 1 - _EPS))


MAX_LATENT = 0.97  # a corrected correlation is capped here (the first-order correction overshoots near 1)


def _latent_correlation(z: np.ndarray, z_again: np.ndarray) -> np.ndarray:
    """The latent correlation matrix from two independent randomised-PIT draws of the same rows.

    A randomised PIT of a discrete column (a category, a point mass, a missing value) puts a fresh draw within
    the cell's interval, so its normal score is ``E[z | cell] + noise`` and every correlation with it shrinks
    by the column's reliability ``a = Var(E[z | cell])`` (Stein's lemma: ``Cov(g_i(z_i), g_j(z_j)) ~ rho a_i a_j``
    to first order in rho). ``a`` is the correlation of the two draws (1 for a continuous column); the latent
    correlation is ``r_ij / (a_i a_j)``, capped at 0.97 and projected to the nearest correlation matrix.
    Without it the copula fitted to its own samples loses association at every refit (Adult, trends 0.874 ->
    0.850 in 5 generations even when real rows are kept, see docs/collapse.md); with it, 0.906 -> 0.902."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant columns or a single row
        corr = np.atleast_2d(np.corrcoef(z, rowvar=False))
        a = np.array([np.corrcoef(z[:, j], z_again[:, j])[0, 1] for j in range(z.shape[1])])
    a = np.clip(np.nan_to_num(a, nan=1.0), 0.05, 1.0)
    corr = np.clip(np.nan_to_num(corr, nan=0.0) / np.outer(a, a), -MAX_LATENT, MAX_LATENT)
    np.fill_diagonal(corr, 1.0)
    return _nearest_correlation(corr)


class GaussianCopulaSynthesizer(TabularSynthesizer):
    """Gaussian copula over exact marginals.

    Parameters
    ----------
    seed:
        Seed of every random step (``None``: fresh entropy, recorded in ``seed_``).
    category_order:
        ``"mca"`` (default) lays categories out by their MCA score; ``"frequency"`` by decreasing frequency.
    oversample:
        Candidate draws per requested row when several columns are conditioned on (importance resampling).
    """

    name = "copula"

    def __init__(self, *, seed: int | None = None, category_order: str = "mca", oversample: int = 4) -> None:
        super().__init__(seed=seed)
        self.category_order = category_order
        self.oversample = oversample

    # -- fit -------------------------------------------------------------------------------------
    def _fit_model(self, frame: pd.DataFrame, rng: np.random.Generator) -> None:
        if self.category_order not in ("mca", "frequency"):
            from synthgov.errors import InputError

            raise InputError(f"category_order must be 'mca' or 'frequency', got {self.category_order!r}")
        t = self.transformer_
        with progress.step("train: copula correlation"):
            columns = self.model_columns_
            base = t.to_uniforms(frame, rng, columns=columns)
            self.orders_ = mca_orders(t, frame, base) if self.category_order == "mca" else {}
            uniforms = t.to_uniforms(frame, rng, self.orders_, columns) if self.orders_ else base
            self.columns_ = list(uniforms)
            if self.columns_:
                # a second randomised PIT of the same rows measures each column's reliability
                again = (
                    t.to_uniforms(frame, rng, self.orders_, columns)
                    if self.orders_
                    else t.to_uniforms(frame, rng, columns=columns)
                )
                z = np.column_stack([_ndtri(uniforms[c]) for c in self.columns_])
                z_again = np.column_stack([_ndtri(again[c]) for c in self.columns_])
                self.correlation_ = _latent_correlation(z, z_again)
            else:
                self.correlation_ = np.zeros((0, 0))

    def _category_orders(self) -> dict[str, np.ndarray]:
        return self.orders_

    # -- sample ----------------------------------------------------------------------------------
    def _sample_uniforms(self, n: int, rng: np.random.Generator, fixed: Intervals) -> dict[str, np.ndarray]:
        cols = self.columns_
        if not cols:
            return {}
        corr = self.correlation_
        if not fixed:
            z = rng.standard_normal((n, len(cols))) @ np.linalg.cholesky(corr).T
            return {c: special.ndtr(z[:, i]) for i, c in enumerate(cols)}
        idx_c = [cols.index(c) for c in fixed]
        pool = n if len(idx_c) == 1 else n * max(int(self.oversample), 1)
        z_c, log_w = self._draw_conditioned(pool, rng, [fixed[c] for c in fixed], corr[np.ix_(idx_c, idx_c)])
        if len(idx_c) > 1:
            w = np.exp(log_w - log_w.max())
            z_c = z_c[rng.choice(pool, size=n, p=w / w.sum())]
        return self._complete(z_c, idx_c, rng, fixed)

    def _complete(
        self, z_c: np.ndarray, idx_c: list[int], rng: np.random.Generator, bounds: dict[str, tuple[Any, Any]]
    ) -> dict[str, np.ndarray]:
        """The conditioned columns' scores ``z_c`` (one row each), the other columns drawn from the Gaussian
        conditional (one gain for all rows: the conditioned columns are the same), as uniforms within ``bounds``."""
        cols, corr = self.columns_, self.correlation_
        n = len(z_c)
        idx_r = [i for i in range(len(cols)) if i not in idx_c]
        z = np.empty((n, len(cols)))
        z[:, idx_c] = z_c
        if idx_r:
            s_cc = corr[np.ix_(idx_c, idx_c)]
            s_rc = corr[np.ix_(idx_r, idx_c)]
            gain = np.linalg.solve(s_cc + 1e-10 * np.eye(len(idx_c)), s_rc.T).T
            cov = corr[np.ix_(idx_r, idx_r)] - gain @ s_rc.T
            chol = np.linalg.cholesky(_nearest_correlation(cov, keep_scale=True))
            z[:, idx_r] = z_c @ gain.T + rng.standard_normal((n, len(idx_r))) @ chol.T
        out = {c: special.ndtr(z[:, i]) for i, c in enumerate(cols)}
        for c, (lo, hi) in bounds.items():
            out[c] = np.clip(out[c], lo, hi)
        return out

    def _sample_uniforms_rows(
        self, n: int, rng: np.random.Generator, intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """Rows whose intervals repeat at least ``GROUP_ROWS`` times are drawn per group (importance resampling
        over the group's pooled candidates); the others (e.g. rows drawn again under one donor's values each) in
        one vectorised pass with ``oversample`` candidates per row, instead of one call per row."""
        cols = self.columns_
        conditioned = [c for c in intervals if c in cols]
        if not cols or not conditioned:
            return super()._sample_uniforms_rows(n, rng, intervals)
        keys = pd.DataFrame({f"{c}\x00{e}": intervals[c][e] for c in conditioned for e in (0, 1)})
        groups = keys.groupby(list(keys.columns), sort=False, dropna=False).indices
        single = [rows for rows in groups.values() if rows.size < GROUP_ROWS]
        uniforms: dict[str, np.ndarray] = {name: np.empty(n) for name in self.model_columns_}
        for rows in groups.values():
            if rows.size >= GROUP_ROWS:
                first = int(rows[0])
                fixed = {c: (float(intervals[c][0][first]), float(intervals[c][1][first])) for c in conditioned}
                for name, values in self._sample_uniforms(rows.size, rng, fixed).items():
                    uniforms[name][rows] = values
        if single:
            rows = np.sort(np.concatenate(single))
            bounds = {c: (intervals[c][0][rows], intervals[c][1][rows]) for c in conditioned}
            part = self._sample_rows(rows.size, rng, bounds)
            for name, values in part.items():
                uniforms[name][rows] = values
        return uniforms

    def _sample_rows(
        self, n: int, rng: np.random.Generator, bounds: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """Row ``i`` conditioned on ``bounds[c][0][i] <= u_c <= bounds[c][1][i]``: GHK with ``oversample``
        candidates per row, one chosen by its importance weight (Gumbel-max), then the other columns from the
        Gaussian conditional."""
        cols, corr = self.columns_, self.correlation_
        fixed = list(bounds)
        idx_c = [cols.index(c) for c in fixed]
        m = 1 if len(idx_c) == 1 else ROW_CANDIDATES * max(int(self.oversample), 1)
        repeated = [(np.repeat(bounds[c][0], m), np.repeat(bounds[c][1], m)) for c in fixed]
        scores = [(np.repeat(_ndtri(bounds[c][0]), m), np.repeat(_ndtri(bounds[c][1]), m)) for c in fixed]
        z_c, log_w = self._draw_conditioned(n * m, rng, repeated, corr[np.ix_(idx_c, idx_c)], scores)
        if m > 1:
            pick = np.argmax(log_w.reshape(n, m) + rng.gumbel(size=(n, m)), axis=1)
            z_c = z_c.reshape(n, m, len(idx_c))[np.arange(n), pick]
        return self._complete(z_c, idx_c, rng, bounds)

    @staticmethod
    def _draw_conditioned(
        n: int,
        rng: np.random.Generator,
        bounds: list[tuple[Any, Any]],
        s_cc: np.ndarray,
        scores: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """GHK: conditioned scores one by one from truncated conditional normals, with log importance weights.
        ``scores``: the bounds' normal scores when the caller has them (computed once per row, not per candidate)."""
        k = len(bounds)
        chol = np.linalg.cholesky(s_cc + 1e-10 * np.eye(k))
        eta = np.zeros((n, k))
        z = np.zeros((n, k))
        log_w = np.zeros(n)
        for j, (lo, hi) in enumerate(bounds):
            mean = eta[:, :j] @ chol[j, :j]
            sd = chol[j, j]
            z_lo, z_hi = scores[j] if scores is not None else (_ndtri(np.asarray(lo)), _ndtri(np.asarray(hi)))
            a = (z_lo - mean) / sd
            b = (z_hi - mean) / sd
            pinned = np.asarray(hi) - np.asarray(lo) <= 1e-12  # a pinned value: density weight
            if np.all(pinned):
                z[:, j] = z_lo
                eta[:, j] = a
                log_w += -0.5 * a**2 - np.log(sd)
                continue
            pa, pb = special.ndtr(a), special.ndtr(b)
            mass = np.maximum(pb - pa, 1e-300)
            e = special.ndtri(np.clip(pa + rng.random(n) * (pb - pa), _EPS, 1 - _EPS))
            if np.any(pinned):  # rows differ (one interval per row): pinned rows as above, the others truncated
                eta[:, j] = np.where(pinned, a, e)
                z[:, j] = np.where(pinned, z_lo, mean + sd * e)
                log_w += np.where(pinned, -0.5 * a**2 - np.log(sd), np.log(mass))
                continue
            eta[:, j] = e
            z[:, j] = mean + sd * e
            log_w += np.log(mass)
        return z, log_w

    # -- state -----------------------------------------------------------------------------------
    def _model_state(self) -> dict[str, Any]:
        return {"columns": self.columns_, "correlation": self.correlation_, "orders": self.orders_}

    def _set_model_state(self, state: dict[str, Any]) -> None:
        self.columns_ = list(state["columns"])
        self.correlation_ = np.asarray(state["correlation"], dtype=np.float64).reshape(len(self.columns_), -1)
        self.orders_ = {k: np.asarray(v, dtype=np.int64) for k, v in state["orders"].items()}


def _nearest_correlation(corr: np.ndarray, keep_scale: bool = False) -> np.ndarray:
    """Clip negative eigenvalues so Cholesky succeeds (and, unless ``keep_scale``, rescale to unit diagonal)."""
    if corr.size == 0:
        return corr
    vals, vecs = np.linalg.eigh((corr + corr.T) / 2)
    fixed = (vecs * np.maximum(vals, 1e-8)) @ vecs.T
    if keep_scale:
        return fixed
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


def mca_orders(t: Any, frame: pd.DataFrame, uniforms: dict[str, np.ndarray], bins: int = 10) -> dict[str, np.ndarray]:
    """Order each categorical column's categories by their first MCA dimension score.

    Indicator matrix: one block per column (category codes; numbers as decile bins of their PIT). The first
    non-trivial singular vector of the standardised Burt matrix gives category scores.
    """
    blocks: list[tuple[str, np.ndarray, int]] = []
    for name in uniforms:
        marginal = t.marginals[name]
        if isinstance(marginal, CategoricalMarginal):
            blocks.append((name, marginal.encode(frame[name]), marginal.size))
        else:
            blocks.append((name, np.minimum((uniforms[name] * bins).astype(np.int64), bins - 1), bins))
    cats = [b for b in blocks if b[0] in t.marginals and isinstance(t.marginals[b[0]], CategoricalMarginal)]
    if not cats or len(blocks) < 2:
        return {}
    offsets = np.cumsum([0] + [size for _, _, size in blocks])
    n, q, total = len(frame), len(blocks), int(offsets[-1])
    if total > DENSE_BURT:
        return _orders_from(blocks, offsets, t, _first_axis_sparse(blocks, offsets, n))
    burt = np.zeros((total, total))
    for i, (_, ci, si) in enumerate(blocks):
        for j in range(i, q):
            _, cj, sj = blocks[j]
            table = np.bincount(ci * sj + cj, minlength=si * sj).reshape(si, sj)
            burt[offsets[i] : offsets[i] + si, offsets[j] : offsets[j] + sj] = table
            burt[offsets[j] : offsets[j] + sj, offsets[i] : offsets[i] + si] = table.T
    mass = np.diag(burt) / (n * q)
    keep = mass > 0
    p = burt / (n * q * q)
    std = np.zeros_like(p)
    sm = np.sqrt(mass[keep])
    std[np.ix_(keep, keep)] = (p[np.ix_(keep, keep)] - np.outer(mass[keep], mass[keep])) / np.outer(sm, sm)
    _vals, vecs = np.linalg.eigh(std)
    first = vecs[:, -1]
    scores = np.zeros(total)
    scores[keep] = first[keep] / np.sqrt(mass[keep])
    return _orders_from(blocks, offsets, t, scores)


DENSE_BURT = 1500  # above this many categories and bins in all, the Burt matrix is never formed (_first_axis_sparse)


def _orders_from(blocks: list, offsets: np.ndarray, t: Any, scores: np.ndarray) -> dict[str, np.ndarray]:
    orders = {}
    for idx, (name, _, size) in enumerate(blocks):
        if isinstance(t.marginals[name], CategoricalMarginal):
            block = scores[offsets[idx] : offsets[idx] + size]
            orders[name] = np.argsort(block, kind="stable")
    return orders


def _first_axis_sparse(blocks: list, offsets: np.ndarray, n: int) -> np.ndarray:
    """The category scores of the first MCA axis without the Burt matrix: the standardised Burt matrix
    ``D^-1/2 (Z'Z / (n q^2) - m m') D^-1/2`` (``Z`` the n x total indicator matrix, ``m`` the masses) applied to a
    vector through ``Z`` (q lookups and q bincounts), its largest eigenvector by ARPACK (Lanczos) from a seeded
    start. O(n q) memory and work per product where the dense path needs total^2 memory and total^3 work: a table
    with high-cardinality columns (10,000 categories in all) took minutes and gigabytes. The sign is fixed (the
    largest component positive)."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    q, total = len(blocks), int(offsets[-1])
    codes = np.concatenate([offsets[i] + c for i, (_, c, _) in enumerate(blocks)])
    mass = np.bincount(codes, minlength=total) / (n * q)
    keep = np.flatnonzero(mass > 0)
    root = np.sqrt(mass[keep])

    def product(v: np.ndarray) -> np.ndarray:
        w = np.zeros(total)
        w[keep] = np.ravel(v) / root
        rows = w[codes].reshape(q, n).sum(axis=0)  # Z w
        burt = np.bincount(codes, weights=np.tile(rows, q), minlength=total) / (n * q * q)  # Z'Z w / (n q^2)
        return (burt[keep] - mass[keep] * float(mass[keep] @ w[keep])) / root

    size = len(keep)
    operator = LinearOperator((size, size), matvec=product, dtype=np.float64)
    start = np.random.default_rng(0).standard_normal(size)
    _, vectors = eigsh(operator, k=1, which="LA", v0=start, tol=1e-10)
    first = vectors[:, 0]
    first = first if first[np.argmax(np.abs(first))] > 0 else -first
    scores = np.zeros(total)
    scores[keep] = first / root
    return scores
