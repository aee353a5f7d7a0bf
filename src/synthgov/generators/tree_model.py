"""A tree-structured graphical model over discrete variables, estimated from noisy marginals (as Private-PGM does,
McKenna, Sheldon & Miklau 2019) and sampled exactly.

The distribution is p(x) proportional to exp(sum_v theta_v(x_v) + sum_(u,v) theta_uv(x_u, x_v)) over the edges of
a tree. On a tree, belief propagation is exact: :meth:`TreeModel.marginals` gives every node's and edge's
marginal in two passes (log domain). :func:`estimate` fits theta so the model's marginals match the noisy
measurements in weighted least squares (the weights are the inverse noise variances, so a cell measured with less
noise counts more): mirror descent on theta with a backtracking (Armijo) step, Private-PGM's algorithm for its
L2 loss. Sampling is ancestral from the calibrated marginals, row by row independent (no rounding across rows).
Evidence (conditions) is a mask of allowed values per node; the same passes then give the conditional model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

logger = logging.getLogger(__name__)


@dataclass
class Measurement:
    """Noisy counts ``y`` of a node (1 variable) or an edge (2 variables, as ``(u, v)``) and the weight
    (inverse variance) of each cell."""

    variables: tuple[int, ...]
    y: np.ndarray
    weight: np.ndarray


@dataclass
class TreeModel:
    """``sizes[v]`` values per variable; ``edges`` as (parent, child) in an order where each parent comes first."""

    sizes: list[int]
    edges: list[tuple[int, int]]
    node_theta: list[np.ndarray] = field(default_factory=list)
    edge_theta: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.node_theta:
            self.node_theta = [np.zeros(k) for k in self.sizes]
        if not self.edge_theta:
            self.edge_theta = [np.zeros((self.sizes[u], self.sizes[v])) for u, v in self.edges]
        self.children: list[list[int]] = [[] for _ in self.sizes]
        self.parent_edge: dict[int, int] = {}
        for index, (u, v) in enumerate(self.edges):
            self.children[u].append(index)
            self.parent_edge[v] = index
        self.roots = [v for v in range(len(self.sizes)) if v not in self.parent_edge]
        self.order = self._topological()

    def _topological(self) -> list[int]:
        order: list[int] = []
        stack = list(reversed(self.roots))
        while stack:
            v = stack.pop()
            order.append(v)
            stack.extend(self.edges[e][1] for e in reversed(self.children[v]))
        if len(order) != len(self.sizes):
            raise ValueError("the edges do not form a forest rooted at parentless nodes")
        return order

    # -- belief propagation ----------------------------------------------------------------------
    def marginals(self, evidence: dict[int, np.ndarray] | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Node and edge marginals (probabilities) of the model, given ``evidence`` {node: bool mask of allowed
        values}. Raises ``ValueError`` when the evidence has probability zero."""
        node = [t.copy() for t in self.node_theta]
        for v, mask in (evidence or {}).items():
            node[v] = np.where(mask, node[v], -np.inf)
        up_msg: dict[int, np.ndarray] = {}  # edge index -> message child -> parent (over the parent's values)
        inside: list[np.ndarray] = [np.empty(0)] * len(self.sizes)  # theta_v + messages from v's children
        for v in reversed(self.order):
            inside[v] = node[v] + sum((up_msg[e] for e in self.children[v]), np.zeros(self.sizes[v]))
            if v in self.parent_edge:
                e = self.parent_edge[v]
                up_msg[e] = logsumexp(self.edge_theta[e] + inside[v][None, :], axis=1)
        outside: list[np.ndarray] = [np.zeros(k) for k in self.sizes]  # messages from above
        full: list[np.ndarray] = [np.empty(0)] * len(self.sizes)
        edge_out: list[np.ndarray] = [np.empty(0)] * len(self.edges)
        for v in self.order:
            full[v] = inside[v] + outside[v]
            for e in self.children[v]:
                child = self.edges[e][1]
                above = full[v] - up_msg[e]  # everything at v except what came from this child
                joint = self.edge_theta[e] + above[:, None] + inside[child][None, :]
                edge_out[e] = joint
                outside[child] = logsumexp(self.edge_theta[e] + above[:, None], axis=0)
        nodes = [_normalise(f) for f in full]
        edges = [_normalise(j) for j in edge_out]
        return nodes, edges

    # -- sampling ---------------------------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator, evidence: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """``n`` i.i.d. rows (n x variables) of codes, drawn root to leaves from the (conditional) marginals."""
        nodes, edges = self.marginals(evidence)
        out = np.empty((n, len(self.sizes)), dtype=np.int64)
        for v in self.order:
            if v not in self.parent_edge:
                out[:, v] = draw_conditional(
                    np.broadcast_to(nodes[v], (1, nodes[v].size)), np.zeros(n, dtype=np.int64), rng
                )
                continue
            e = self.parent_edge[v]
            u = self.edges[e][0]
            conditional = edges[e] / np.maximum(edges[e].sum(axis=1, keepdims=True), 1e-300)
            out[:, v] = draw_conditional(conditional, out[:, u], rng)
        return out


def _normalise(log_values: np.ndarray) -> np.ndarray:
    top = np.max(log_values)
    if not np.isfinite(top):
        raise ValueError("the evidence has probability zero under the model")
    p = np.exp(log_values - top)
    return p / p.sum()


def draw_conditional(tables: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each i, a value drawn from the distribution ``tables[rows[i]]`` (inverse CDF, vectorised)."""
    cdf = np.cumsum(tables, axis=1)
    cdf /= np.maximum(cdf[:, -1:], 1e-300)
    u = rng.random(rows.size)
    out = np.empty(rows.size, dtype=np.int64)
    for parent in np.unique(rows):
        at = np.flatnonzero(rows == parent)
        out[at] = np.minimum(np.searchsorted(cdf[parent], u[at], side="right"), tables.shape[1] - 1)
    return out


# -- estimation -------------------------------------------------------------------------------------
Marginals = tuple[list[np.ndarray], list[np.ndarray]]


def _loss(
    model: TreeModel, total: float, measurements: list[Measurement], edge_index: dict[tuple[int, int], int]
) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """Weighted squared error of the model's marginals (as counts) against each measurement, its gradient with
    respect to each measured marginal, and those marginals (probabilities)."""
    nodes, edges = model.marginals()
    loss, grads, current = 0.0, [], []
    for m in measurements:
        p = nodes[m.variables[0]] if len(m.variables) == 1 else edges[edge_index[m.variables]]  # type: ignore[index]
        diff = total * p - m.y
        loss += 0.5 * float(np.sum(m.weight * diff * diff))
        grads.append(m.weight * diff)
        current.append(p)
    return loss, grads, current


def estimate(
    sizes: list[int],
    edges: list[tuple[int, int]],
    measurements: list[Measurement],
    total: float,
    *,
    iterations: int = 3000,
    start: list[np.ndarray] | None = None,
    tolerance: float = 1e-9,
) -> TreeModel:
    """The tree model whose marginals best fit ``measurements`` (weighted least squares on counts scaled to
    ``total`` rows), by mirror descent with backtracking line search; stops after ``iterations`` steps or when a
    step improves the loss by less than ``tolerance`` of it."""
    model = TreeModel(sizes, edges)
    if start is not None:
        model.node_theta = [s.copy() for s in start]
    edge_index = {pair: i for i, pair in enumerate(edges)}

    def moved(grads: list[np.ndarray], scale: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
        nodes = [t.copy() for t in model.node_theta]
        pairs = [t.copy() for t in model.edge_theta]
        for m, g in zip(measurements, grads, strict=True):
            if len(m.variables) == 1:
                nodes[m.variables[0]] -= scale * g
            else:
                pairs[edge_index[m.variables]] -= scale * g  # type: ignore[index]
        return nodes, pairs

    loss, grads, current = _loss(model, total, measurements, edge_index)
    alpha = 1.0 / total
    steps = 0
    for steps in range(1, iterations + 1):  # noqa: B007 (steps is logged)
        alpha *= 2.0
        accepted = False
        for _ in range(30):
            old = model.node_theta, model.edge_theta
            model.node_theta, model.edge_theta = moved(grads, alpha)
            new_loss, new_grads, new_current = _loss(model, total, measurements, edge_index)
            # Armijo's condition for the mirror step: the loss falls by at least half the linear prediction
            changes = zip(grads, current, new_current, strict=True)
            predicted = total * sum(float(np.sum(g * (a - b))) for g, a, b in changes)
            if loss - new_loss >= 0.5 * predicted:
                accepted = True
                break
            model.node_theta, model.edge_theta = old
            alpha *= 0.5
        if not accepted:
            break
        converged = loss - new_loss <= tolerance * max(loss, 1.0)
        loss, grads, current = new_loss, new_grads, new_current
        if converged:
            break
    logger.debug("tree estimation: %d steps, final weighted loss %.4g", steps, loss)
    return model
