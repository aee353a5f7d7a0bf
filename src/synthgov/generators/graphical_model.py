"""A discrete graphical model over arbitrary cliques of variables, estimated from noisy marginals (as Private-PGM
does, McKenna, Sheldon & Miklau 2019) and sampled exactly: the engine of ``aim``. (``mst`` needs only a tree:
:mod:`synthgov.generators.tree_model`.)

The distribution is p(x) proportional to exp(sum_r theta_r(x_r)) over the measured cliques r (each theta_r an
array over r's variables, in increasing variable order). Inference is exact on a junction tree: the graph whose
edges join the variables of each clique is triangulated by greedy elimination (each step eliminates the variable
whose elimination clique has the fewest cells), its maximal cliques are joined by a maximum spanning tree on
separator sizes (which has the running-intersection property for a chordal graph), and two passes of sum-product
in the log domain give every maximal clique's marginal. The marginal of a set of variables that no maximal clique
holds (AIM's candidates) comes from the calibrated tree by variable elimination on the smallest subtree that
covers the set, so it never builds the full joint. :func:`estimate` fits theta so the model's marginals match the
noisy measurements in weighted least squares (weights: inverse noise variances), by mirror descent with a
backtracking (Armijo) step, Private-PGM's algorithm for its L2 loss; a fit continues from the current theta, so
adding a measurement warm-starts the next fit. Sampling is ancestral over the junction tree, rows independent.
Evidence (conditions) is a mask of allowed values per variable.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from synthgov.generators.tree_model import Measurement, draw_conditional

logger = logging.getLogger(__name__)

Clique = tuple[int, ...]


# -- factors: arrays whose axes are variables in increasing order ------------------------------------------------
def _expand(values: np.ndarray, variables: Clique, target: Clique) -> np.ndarray:
    """``values`` over ``variables`` (a subset of ``target``, both sorted) shaped to broadcast over ``target``."""
    shape = [values.shape[variables.index(v)] if v in variables else 1 for v in target]
    return np.reshape(values, shape)


def _sum_to(values: np.ndarray, variables: Clique, keep: Clique, *, log: bool = False) -> np.ndarray:
    """``values`` summed (log: log-sum-exp) over the variables not in ``keep``."""
    axes = tuple(i for i, v in enumerate(variables) if v not in keep)
    if not axes:
        return values
    return _logsumexp(values, axes) if log else values.sum(axis=axes)


def _logsumexp(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """log(sum(exp(values))) over ``axes``, stable (as scipy's, without its per-call overhead); -inf where every
    summed value is -inf."""
    top = values.max(axis=axes, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(values - top).sum(axis=axes)) + np.squeeze(top, axis=axes)


def _contract(operands: list[tuple[Clique, np.ndarray]], out: Clique) -> np.ndarray:
    """The product of the factors ``operands`` summed to ``out``, by one ``einsum`` (no full product array)."""
    labels = {v: k for k, v in enumerate(sorted(set(out).union(*(set(s) for s, _ in operands))))}
    args: list[object] = []
    for scope, values in operands:
        args += [values, [labels[v] for v in scope]]
    return np.einsum(*args, [labels[v] for v in out], optimize="greedy")


# -- the junction tree ---------------------------------------------------------------------------------------------
def maximal_cliques(sizes: list[int], cliques: list[Clique]) -> list[Clique]:
    """The maximal cliques of the triangulated graph of ``cliques`` (every variable in at least one)."""
    neighbours: dict[int, set[int]] = {v: set() for v in range(len(sizes))}
    for clique in cliques:
        for v in clique:
            neighbours[v] |= set(clique) - {v}
    log_sizes = [math.log(max(k, 1)) for k in sizes]
    formed: list[Clique] = []
    remaining = set(neighbours)
    while remaining:
        v = min(sorted(remaining), key=lambda u: sum(log_sizes[w] for w in neighbours[u]) + log_sizes[u])
        formed.append(tuple(sorted(neighbours[v] | {v})))
        for u in neighbours[v]:
            neighbours[u] |= neighbours[v] - {u}
            neighbours[u].discard(v)
        remaining.discard(v)
        del neighbours[v]
    sets = [set(c) for c in formed]
    return [c for c, s in zip(formed, sets, strict=True) if not any(s < other for other in sets)]


def model_cells(sizes: list[int], cliques: list[Clique]) -> int:
    """The number of cells of the junction tree of ``cliques`` (AIM's model size)."""
    return sum(math.prod(sizes[v] for v in c) for c in maximal_cliques(sizes, cliques))


@dataclass
class JunctionTree:
    """Maximal cliques joined in one tree: ``parent[i]`` (-1 at the root), ``separator[i]`` (shared with the
    parent), ``order`` with parents first, ``children[i]``."""

    cliques: list[Clique]
    parent: list[int]
    separator: list[Clique]
    order: list[int]
    children: list[list[int]] = field(default_factory=list)

    @classmethod
    def build(cls, sizes: list[int], cliques: list[Clique]) -> JunctionTree:
        nodes = maximal_cliques(sizes, cliques)
        pairs = sorted(
            ((len(set(a) & set(b)), i, j) for i, a in enumerate(nodes) for j, b in enumerate(nodes) if i < j),
            key=lambda t: (-t[0], t[1], t[2]),
        )
        component = list(range(len(nodes)))
        adjacent: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
        for _, i, j in pairs:  # Kruskal: the maximum spanning tree (empty separators join disconnected parts)
            if component[i] != component[j]:
                old = component[j]
                component = [component[i] if c == old else c for c in component]
                adjacent[i].append(j)
                adjacent[j].append(i)
        parent, order, queue = [-1] * len(nodes), [0], [0]
        while queue:
            i = queue.pop(0)
            for j in sorted(adjacent[i]):
                if j != parent[i]:
                    parent[j] = i
                    order.append(j)
                    queue.append(j)
        separator = [
            tuple(sorted(set(c) & set(nodes[parent[i]]))) if parent[i] >= 0 else () for i, c in enumerate(nodes)
        ]
        children: list[list[int]] = [[] for _ in nodes]
        for i in order[1:]:
            children[parent[i]].append(i)
        return cls(nodes, parent, separator, order, children)


# -- the model -----------------------------------------------------------------------------------------------------
class GraphicalModel:
    """p(x) proportional to exp(sum_r theta[r](x_r)) over ``cliques`` (sorted variable tuples)."""

    def __init__(self, sizes: list[int], cliques: list[Clique], theta: list[np.ndarray] | None = None) -> None:
        self.sizes = [int(k) for k in sizes]
        self.cliques = [tuple(sorted(int(v) for v in c)) for c in cliques]
        self.theta = theta if theta is not None else [np.zeros([self.sizes[v] for v in c]) for c in self.cliques]
        self.tree = JunctionTree.build(self.sizes, self.cliques)
        self.home = [self._holder(c) for c in self.cliques]  # the maximal clique each theta lives in
        self.variable_home = [self._holder((v,)) for v in range(len(self.sizes))]

    def _holder(self, variables: Clique) -> int:
        wanted = set(variables)
        return next(i for i, c in enumerate(self.tree.cliques) if wanted <= set(c))

    def with_clique(self, clique: Clique) -> GraphicalModel:
        """This model with ``clique`` added (theta 0 on it, so the distribution is unchanged): a warm start."""
        clique = tuple(sorted(clique))
        if clique in self.cliques:
            return self
        return GraphicalModel(
            self.sizes, [*self.cliques, clique], [*self.theta, np.zeros([self.sizes[v] for v in clique])]
        )

    @property
    def cells(self) -> int:
        return sum(math.prod(self.sizes[v] for v in c) for c in self.tree.cliques)

    # -- inference -------------------------------------------------------------------------------------------
    def beliefs(self, evidence: dict[int, np.ndarray] | None = None) -> list[np.ndarray]:
        """Every maximal clique's marginal (probabilities), given ``evidence`` {variable: bool mask of allowed
        values}. Raises ``ValueError`` when the evidence has probability zero under the model."""
        tree = self.tree
        potential = [np.zeros([self.sizes[v] for v in c]) for c in tree.cliques]
        for r, home in enumerate(self.home):
            potential[home] = potential[home] + _expand(self.theta[r], self.cliques[r], tree.cliques[home])
        for v, mask in (evidence or {}).items():
            home = self.variable_home[v]
            log_mask = np.where(np.asarray(mask, dtype=bool), 0.0, -np.inf)
            potential[home] = potential[home] + _expand(log_mask, (v,), tree.cliques[home])
        up: list[np.ndarray] = [np.empty(0)] * len(tree.cliques)
        for i in reversed(tree.order):
            inside = potential[i]
            for c in tree.children[i]:
                inside = inside + _expand(up[c], tree.separator[c], tree.cliques[i])
            if tree.parent[i] >= 0:
                up[i] = _sum_to(inside, tree.cliques[i], tree.separator[i], log=True)
        down: list[np.ndarray | None] = [None] * len(tree.cliques)
        beliefs: list[np.ndarray] = [np.empty(0)] * len(tree.cliques)
        for i in tree.order:
            base = potential[i]
            if down[i] is not None:
                base = base + _expand(down[i], tree.separator[i], tree.cliques[i])  # type: ignore[arg-type]
            belief = base
            for c in tree.children[i]:
                belief = belief + _expand(up[c], tree.separator[c], tree.cliques[i])
            for c in tree.children[i]:  # the message to c: everything at i but what came from c
                others = base
                for o in tree.children[i]:
                    if o != c:
                        others = others + _expand(up[o], tree.separator[o], tree.cliques[i])
                down[c] = _sum_to(others, tree.cliques[i], tree.separator[c], log=True)
            beliefs[i] = _normalise(belief)
        return beliefs

    def marginal(self, beliefs: list[np.ndarray], variables: Clique) -> np.ndarray:
        """The model's marginal over ``variables`` (sorted) from calibrated ``beliefs``."""
        variables = tuple(variables)
        wanted = set(variables)
        for i, c in enumerate(self.tree.cliques):
            if wanted <= set(c):
                return _sum_to(beliefs[i], c, variables)
        return self._eliminate(beliefs, variables)

    def _eliminate(self, beliefs: list[np.ndarray], variables: Clique) -> np.ndarray:
        """Variable elimination on the smallest subtree covering ``variables``: p = prod b_C / prod b_separator."""
        tree = self.tree
        chosen = {self.variable_home[v] for v in variables}
        depth = {tree.order[0]: 0}
        for i in tree.order[1:]:
            depth[i] = depth[tree.parent[i]] + 1

        def path_up(i: int) -> list[int]:
            out = [i]
            while tree.parent[out[-1]] >= 0:
                out.append(tree.parent[out[-1]])
            return out

        common = set.intersection(*(set(path_up(i)) for i in chosen))
        top = max(common, key=lambda i: depth[i])
        nodes: set[int] = set()
        for i in chosen:
            for j in path_up(i):
                nodes.add(j)
                if j == top:
                    break
        keep = set(variables)
        messages: dict[int, list[tuple[Clique, np.ndarray]]] = {i: [] for i in nodes}
        for i in sorted(nodes, key=lambda j: -depth[j]):
            scope = tree.cliques[i]
            operands = [(scope, beliefs[i]), *messages[i]]
            if i == top:
                return _contract(operands, variables)
            sep = tree.separator[i]
            sep_marginal = _sum_to(beliefs[i], scope, sep)
            inverse = np.divide(1.0, sep_marginal, out=np.zeros(sep_marginal.shape), where=sep_marginal > 0)
            held = set().union(*(set(s) for s, _ in operands))
            out = tuple(sorted(set(sep) | (keep & held)))
            messages[tree.parent[i]].append((out, _contract([*operands, (sep, inverse)], out)))
        raise AssertionError("the subtree has no top")  # unreachable: the top is the shallowest node

    # -- sampling ---------------------------------------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator, evidence: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """``n`` i.i.d. rows (n x variables) of codes, drawn clique by clique from the (conditional) model."""
        beliefs = self.beliefs(evidence)
        tree = self.tree
        out = np.zeros((n, len(self.sizes)), dtype=np.int64)
        for i in tree.order:
            scope, sep = tree.cliques[i], tree.separator[i]
            new = tuple(v for v in scope if v not in sep)
            table = np.transpose(beliefs[i], [scope.index(v) for v in sep + new])
            table = table.reshape(math.prod(self.sizes[v] for v in sep), -1)
            rows = (
                np.ravel_multi_index(tuple(out[:, v] for v in sep), [self.sizes[v] for v in sep])
                if sep
                else np.zeros(n, dtype=np.int64)
            )
            drawn = draw_conditional(table, np.asarray(rows, dtype=np.int64), rng)
            for v, codes in zip(new, np.unravel_index(drawn, [self.sizes[v] for v in new]), strict=True):
                out[:, v] = codes
        return out


def _normalise(log_values: np.ndarray) -> np.ndarray:
    top = np.max(log_values)
    if not np.isfinite(top):
        raise ValueError("the evidence has probability zero under the model")
    p = np.exp(log_values - top)
    return p / p.sum()


# -- estimation ----------------------------------------------------------------------------------------------------
def _loss(
    model: GraphicalModel, total: float, measurements: list[Measurement], index: dict[Clique, int]
) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """Weighted squared error of the model's marginals (as counts) against the measurements, its gradient with
    respect to each clique's marginal, and those marginals."""
    beliefs = model.beliefs()
    current = [_sum_to(beliefs[h], model.tree.cliques[h], c) for c, h in zip(model.cliques, model.home, strict=True)]
    grads = [np.zeros(t.shape) for t in model.theta]
    loss = 0.0
    for m in measurements:
        r = index[m.variables]
        diff = total * current[r] - m.y
        loss += 0.5 * float(np.sum(m.weight * diff * diff))
        grads[r] += m.weight * diff
    return loss, grads, current


def estimate(
    model: GraphicalModel,
    measurements: list[Measurement],
    total: float,
    *,
    iterations: int,
    tolerance: float = 1e-9,
) -> GraphicalModel:
    """``model`` refitted (from its current theta) so its marginals best fit ``measurements`` (weighted least
    squares on counts scaled to ``total`` rows), by mirror descent with backtracking line search; stops after
    ``iterations`` steps or when a step improves the loss by less than ``tolerance`` of it. Every measured clique
    must be one of the model's."""
    index = {c: r for r, c in enumerate(model.cliques)}
    loss, grads, current = _loss(model, total, measurements, index)
    alpha = 1.0 / total
    steps = 0
    for steps in range(1, iterations + 1):  # noqa: B007 (steps is logged)
        alpha *= 2.0
        accepted = False
        old = model.theta
        for _ in range(30):
            model.theta = [t - alpha * g for t, g in zip(old, grads, strict=True)]
            new_loss, new_grads, new_current = _loss(model, total, measurements, index)
            # Armijo's condition for the mirror step: the loss falls by at least half the linear prediction
            changes = zip(grads, current, new_current, strict=True)
            predicted = total * sum(float(np.sum(g * (a - b))) for g, a, b in changes)
            if loss - new_loss >= 0.5 * predicted:
                accepted = True
                break
            alpha *= 0.5
        if not accepted:
            model.theta = old
            break
        converged = loss - new_loss <= tolerance * max(loss, 1.0)
        loss, grads, current = new_loss, new_grads, new_current
        if converged:
            break
    logger.debug("graphical model estimation: %d steps, final weighted loss %.4g", steps, loss)
    return model
