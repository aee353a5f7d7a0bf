"""The synthesizer contract (scikit-learn style) shared by every generator.

* parameters are set in ``__init__`` and only stored there (``get_params`` / ``set_params``);
* ``fit(table, schema=None)`` learns and returns ``self``; learned state lives in attributes ending in ``_``;
* ``sample(n, seed=None, conditions=None)`` returns a DataFrame with the training table's columns;
* ``save(path)`` / ``Synthesizer.load(path)`` use JSON + npz (no pickle).

:class:`TabularSynthesizer` adds the shared pipeline of data-driven generators (read -> schema -> transformer
-> model -> decode). A subclass implements ``_fit_model``, ``_sample_uniforms`` and its state methods.
"""

from __future__ import annotations

import inspect
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError, ModelFileError, NotFittedError
from synthgov.generators import persistence
from synthgov.generators.dependencies import Derived, find_derived
from synthgov.generators.marginals import CategoricalMarginal, NumericMarginal
from synthgov.generators.side_columns import TextColumn
from synthgov.generators.transformer import TableTransformer, _restore_like
from synthgov.table.infer import infer_schema
from synthgov.table.io import TableLike, read_table
from synthgov.table.schema import Schema

Intervals = dict[str, tuple[float, float]]


def new_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2**63))


def check_rows(n: Any, columns: int | None = None) -> int:
    """``n`` as an int when it is a positive integer (and, given ``columns``, fits this machine's memory)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"the number of rows must be a positive integer, got {n!r}")
    if columns is not None:
        from synthgov.capacity import check_rows_fit

        check_rows_fit(int(n), columns)
    return int(n)


class Synthesizer(ABC):
    """Base of every generator; see the module docstring for the contract."""

    name: ClassVar[str] = ""
    # True where conditioning row by row on many columns at once is an approximation (a conditional vector or
    # candidates matched to the given values: ctgan, tvae, ddpm) or slow (one inference per distinct condition:
    # bayesnet, mst, aim): value rules then replace a breaking row by a whole rule-satisfying row of one more draw
    rules_replace_whole_rows: ClassVar[bool] = False

    def __init__(self, *, seed: int | None = None) -> None:
        self.seed = seed

    # -- parameters (scikit-learn style) -------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters as given (``deep`` is scikit-learn's; no parameter is an estimator)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        for key, value in params.items():
            if key not in self._param_names():
                raise InputError(f"{type(self).__name__} has no parameter '{key}'")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "seed_")

    def _forget_fit(self) -> None:
        """Drop every fitted attribute (name ending in ``_``): a fit that fails leaves the model unfitted, so
        ``sample`` raises :class:`NotFittedError` instead of using half-learned or earlier state."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)
        self.__dict__.pop("_unseeded_calls", None)

    def _fit_or_forget(self, fit: Any, *args: Any) -> Self:
        """Run ``fit(*args)`` from a clean slate; if it fails, leave the model unfitted (no half-learned state)."""
        self._forget_fit()
        try:
            with progress.timings() as steps:
                fit(*args)
        except BaseException:
            self._forget_fit()
            raise
        # where the fit's time went, by named step (analyze, encode, train, ...), as the progress bars showed it
        self.fit_steps_ = {kind: round(seconds, 3) for kind, seconds in steps.items()}
        return self

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit() first")

    def _sample_rng(self, seed: int | None) -> np.random.Generator:
        """``seed`` given: that stream. Otherwise the k-th call without a seed uses stream (seed_, k), so repeated
        calls differ yet a fitted (or reloaded) model replays the same sequence."""
        if seed is not None:
            return np.random.default_rng(seed)
        calls = getattr(self, "_unseeded_calls", 0)
        self._unseeded_calls = calls + 1
        return np.random.default_rng([self.seed_, 1, calls])

    # -- the contract ------------------------------------------------------------------------------
    @abstractmethod
    def fit(self, table: TableLike, schema: Schema | str | Path | None = None) -> Self: ...

    @abstractmethod
    def sample(self, n: int, seed: int | None = None, conditions: Any = None) -> pd.DataFrame: ...

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """Learned state as JSON-able values and numpy arrays."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any]) -> None: ...

    def _extra_files(self) -> dict[str, bytes]:
        return {}

    def _load_extra_files(self, files: dict[str, bytes]) -> None:
        return None

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (a zip of JSON + npz; see :mod:`synthgov.generators.persistence`)."""
        self._check_fitted()
        from synthgov import __version__

        document = {
            "generator": self.name,
            "synthgov_version": __version__,
            "params": self.get_params(),
            "state": self._state(),
        }
        return persistence.write_model(path, document, self._extra_files())

    @classmethod
    def load(cls, path: str | Path) -> Synthesizer:
        """Load a model written by :meth:`save`; any generator's file can be loaded through the base class."""
        from synthgov.generators import registry

        document, extra = persistence.read_model(path)
        name = document.get("generator")
        try:
            target = registry.get(str(name))
        except InputError:
            raise ModelFileError(f"{path}: unknown generator '{name}'") from None
        if cls is not Synthesizer and not issubclass(target, cls):
            raise ModelFileError(f"{path} holds a '{name}' model, not a {cls.__name__}")
        try:
            model = target(**document["params"])
            model._set_state(document["state"])
            model._load_extra_files(extra)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelFileError(f"{path}: damaged model file ({type(exc).__name__}: {exc})") from None
        return model


class TabularSynthesizer(Synthesizer):
    """A generator that learns from a real table through the shared :class:`TableTransformer`."""

    # -- subclass hooks ----------------------------------------------------------------------------
    @abstractmethod
    def _fit_model(self, frame: pd.DataFrame, rng: np.random.Generator) -> None: ...

    @abstractmethod
    def _sample_uniforms(self, n: int, rng: np.random.Generator, fixed: Intervals) -> dict[str, np.ndarray]:
        """``n`` joint draws on the uniform scale of every modelled column; a column in ``fixed`` must fall in
        its interval ``(lo, hi)`` (lo == hi pins it)."""

    def _category_orders(self) -> dict[str, np.ndarray] | None:
        """Where each category sits on the uniform scale (None: the marginal's own order)."""
        return None

    @abstractmethod
    def _model_state(self) -> dict[str, Any]: ...

    @abstractmethod
    def _set_model_state(self, state: dict[str, Any]) -> None: ...

    # -- contract ---------------------------------------------------------------------------------
    def fit(self, table: TableLike, schema: Schema | str | Path | None = None) -> Self:
        return self._fit_or_forget(self._fit, table, schema)

    def _fit(self, table: TableLike, schema: Schema | str | Path | None) -> None:
        started = time.perf_counter()
        with progress.step("analyze: read and infer schema"):
            frame = read_table(table)
            schema_ = self._resolve_schema(frame, schema)
        self.seed_ = self.seed if self.seed is not None else new_seed()
        rng = np.random.default_rng([self.seed_, 0])
        with progress.step("encode: learn column marginals"):
            self.transformer_ = TableTransformer().fit(frame, schema_)
            self.derived_ = find_derived(frame, self.transformer_) if self.transformer_.schema else {}
            self.model_columns_ = [c for c in self.transformer_.modelled if c not in self.derived_]
        self.schema_ = schema_
        self.n_training_rows_ = len(frame)
        self._unseeded_calls = 0
        self._fit_model(frame, rng)
        self.fit_seconds_ = time.perf_counter() - started

    @staticmethod
    def _resolve_schema(frame: pd.DataFrame, schema: Schema | str | Path | None) -> Schema:
        if schema is None:
            return infer_schema(frame)
        if not isinstance(schema, Schema):
            schema = Schema.load(schema)
        schema.check_against(list(frame.columns))
        return schema

    def sample(
        self,
        n: int,
        seed: int | None = None,
        conditions: Any = None,
        rebalance: dict[str, dict[Any, float]] | None = None,
    ) -> pd.DataFrame:
        """``n`` rows. ``conditions``: {column: value} for every row, or a DataFrame of n rows (one condition per
        row, e.g. for imputation). ``rebalance``: {column: {value: share}} sets the shares of some categories of
        a categorical column exactly (the other categories share the rest in their training proportions); the
        other columns follow each row's category as the model learned."""
        self._check_fitted()
        n = check_rows(n, len(self.schema_.names))
        rng = self._sample_rng(seed)
        if rebalance:
            conditions = self._rebalance_conditions(n, rng, conditions, rebalance)
        transformer = self.transformer_
        orders = self._category_orders()
        with progress.step(f"generate: {n:,} rows", total=n) as advance:
            if conditions is None or (isinstance(conditions, dict) and not conditions):
                uniforms = self._sample_uniforms(n, rng, {})
                frame = transformer.decode(uniforms, n, rng, orders)
                cond = None
            else:
                cond = transformer.condition_frame(conditions, n)
                frame = self._sample_conditioned(n, rng, self._route_derived(cond, rng), orders)
            frame = self._fill_derived(frame, cond)
            advance(n)
        return frame

    def _rebalance_conditions(
        self, n: int, rng: np.random.Generator, conditions: Any, rebalance: dict[str, dict[Any, float]]
    ) -> pd.DataFrame:
        from synthgov.generators.marginals import _POOLED

        if isinstance(conditions, pd.DataFrame):
            raise InputError("rebalance cannot be combined with per-row conditions (a DataFrame); use a mapping")
        if not isinstance(rebalance, dict):
            raise InputError("rebalance must be a mapping {column: {value: share}}")
        fixed = dict(conditions or {})
        frame = pd.DataFrame({k: [v] * n for k, v in fixed.items()}, index=range(n))
        for column, shares in rebalance.items():
            marginal = self.transformer_.marginals.get(column)
            if column not in self.schema_:
                raise InputError(f"unknown column in rebalance: '{column}'")
            if not isinstance(marginal, CategoricalMarginal):
                raise InputError(f"rebalance needs a categorical column; '{column}' is {self.schema_[column].kind}")
            if column in fixed:
                raise InputError(f"column '{column}' is both conditioned on and rebalanced")
            if not isinstance(shares, dict) or not shares:
                raise InputError(f"rebalance['{column}'] must be a non-empty mapping {{value: share}}")
            values, weights = [], []
            for value, share in shares.items():
                if marginal.code_of(value) < 0:
                    raise InputError(f"value {value!r} never appears in column '{column}'")
                if not isinstance(share, (int, float)) or not 0 <= share <= 1:
                    raise InputError(f"rebalance share of {value!r} must be in [0, 1], got {share!r}")
                values.append(value)
                weights.append(float(share))
            rest = 1.0 - sum(weights)
            if rest < -1e-9:
                raise InputError(f"rebalance shares of '{column}' add up to {sum(weights):.3f} > 1")
            named = {marginal.code_of(v) for v in values}
            others = [i for i, c in enumerate(marginal.categories) if i not in named and c != _POOLED]
            if rest > 1e-9:
                if not others:
                    raise InputError(f"rebalance shares of '{column}' add up to {sum(weights):.3f}, not 1")
                freq = marginal.probs[others] / marginal.probs[others].sum()
                values += [marginal.categories[i] for i in others]
                weights += list(rest * freq)
            counts = np.floor(np.array(weights) * n).astype(int)
            short = n - counts.sum()
            counts[np.argsort(-(np.array(weights) * n - counts))[:short]] += 1
            column_values = np.repeat(np.array(values, dtype=object), counts)
            frame[column] = column_values[rng.permutation(n)]
        return frame

    def _fill_derived(self, frame: pd.DataFrame, cond: pd.DataFrame | None) -> pd.DataFrame:
        schema = self.schema_
        for name, rule in self.derived_.items():
            values = rule.apply(frame[rule.source])
            if schema[name].kind == "numeric":
                values = pd.to_numeric(pd.Series(values, dtype=object)).to_numpy(dtype=np.float64, na_value=np.nan)
            frame[name] = TableTransformer.restore(schema[name], values)
            if cond is not None and name in cond.columns:
                frame[name] = _restore_like(cond[name], frame[name])
        return frame[schema.names]

    def _route_derived(self, cond: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Conditions on a derived column become conditions on its source column (a source value that maps to
        the requested value, drawn by the source's frequencies)."""
        cond = cond.copy()
        for name, rule in self.derived_.items():
            if name not in cond.columns:
                continue
            if rule.source in cond.columns:
                implied = rule.apply(cond[rule.source])
                wanted = cond[name].astype(object).where(cond[name].notna(), None).to_numpy()
                if any(a != b for a, b in zip(implied, wanted, strict=True)):
                    raise InputError(f"conditions contradict: '{name}' is determined by '{rule.source}' in the data")
                continue
            chosen = np.empty(len(cond), dtype=object)
            for value, rows in cond.groupby(name, sort=False, dropna=False).indices.items():
                sources = rule.sources_for(value)
                if not sources:
                    raise InputError(f"value {value!r} never appears in column '{name}'")
                weights = self._source_weights(rule.source, sources)
                chosen[rows] = np.array(sources, dtype=object)[rng.choice(len(sources), size=len(rows), p=weights)]
            cond[rule.source] = chosen
        return cond

    def _source_weights(self, source: str, values: list[Any]) -> np.ndarray:
        marginal = self.transformer_.marginals[source]
        if isinstance(marginal, CategoricalMarginal):
            w = np.array([marginal.probs[marginal.code_of(v)] for v in values], dtype=np.float64)
        else:
            lo, hi = marginal.cdf_interval(np.array([np.nan if v is None else v for v in values], dtype=np.float64))
            w = hi - lo
        w = np.maximum(w, 1e-12)
        return w / w.sum()

    def _sample_conditioned(self, n: int, rng: np.random.Generator, cond: pd.DataFrame, orders: Any) -> pd.DataFrame:
        transformer = self.transformer_
        intervals = transformer.condition_intervals(cond, orders)
        modelled = [c for c in cond.columns if c in intervals and c not in self.derived_]
        uniforms = self._sample_uniforms_rows(n, rng, {c: intervals[c] for c in modelled})
        return transformer.decode(uniforms, n, rng, orders, conditions=cond)

    def _sample_uniforms_rows(
        self, n: int, rng: np.random.Generator, intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """Like :meth:`_sample_uniforms` with one interval per row and conditioned column; by default one call
        per distinct combination of intervals (a generator that conditions row by row overrides this)."""
        modelled = list(intervals)
        uniforms: dict[str, np.ndarray] = {name: np.empty(n) for name in self.model_columns_}
        if modelled:
            keys = pd.DataFrame(
                {c: intervals[c][0] for c in modelled} | {f"{c}\x00hi": intervals[c][1] for c in modelled}
            )
            groups = keys.groupby(list(keys.columns), sort=False, dropna=False).indices
        else:
            groups = {(): np.arange(n)}
        for rows in groups.values():
            first = int(rows[0])
            fixed = {c: (float(intervals[c][0][first]), float(intervals[c][1][first])) for c in modelled}
            part = self._sample_uniforms(len(rows), rng, fixed)
            for name, values in part.items():
                uniforms[name][rows] = values
        return uniforms

    # -- persistence ------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        t = self.transformer_
        return {
            "seed_": self.seed_,
            "n_training_rows_": self.n_training_rows_,
            "fit_seconds_": self.fit_seconds_,
            "schema": self.schema_.to_dict(),
            "marginals": {
                name: {"type": "numeric" if isinstance(m, NumericMarginal) else "categorical", **m.to_state()}
                for name, m in t.marginals.items()
            },
            "text": {name: col.to_state() for name, col in t.text.items()},
            "derived": {name: dict(rule.__dict__) for name, rule in self.derived_.items()},
            "model": self._model_state(),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        schema = Schema.from_dict(state["schema"])
        transformer = TableTransformer()
        transformer.schema = schema
        for name, m in state["marginals"].items():
            kind = m.pop("type")
            transformer.marginals[name] = (NumericMarginal if kind == "numeric" else CategoricalMarginal).from_state(m)
        for name, t in state["text"].items():
            transformer.text[name] = TextColumn(schema[name], **t)
        self.transformer_ = transformer
        self.derived_ = {name: Derived(**rule) for name, rule in state["derived"].items()}
        self.model_columns_ = [c for c in transformer.modelled if c not in self.derived_]
        self.schema_ = schema
        self.seed_ = int(state["seed_"])
        self.n_training_rows_ = int(state["n_training_rows_"])
        self.fit_seconds_ = float(state["fit_seconds_"])
        self._unseeded_calls = 0
        self._set_model_state(state["model"])
