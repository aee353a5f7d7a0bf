"""The rules generator: the :class:`Synthesizer` contract over a :class:`Spec`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from synthgov import progress
from synthgov.errors import InputError
from synthgov.generators.base import Synthesizer, check_rows, new_seed
from synthgov.generators.rules.spec import Spec, load_spec_file
from synthgov.table import datetimes
from synthgov.table.schema import ColumnSchema, Schema

MAX_ROUNDS = 200  # rounds of redrawing rows that break a row rule


class RulesSynthesizer(Synthesizer):
    """Fully synthetic data from a declarative spec (a mapping, or a YAML file's path); no real data needed.

    ``fit()`` takes no table: it checks and compiles the spec. Each declared distribution holds within its
    branch; rows that break a row rule are redrawn whole (exact rejection sampling), so every row satisfies
    every rule and the joint law is the declared one conditioned on the rules.
    """

    name = "rules"

    def __init__(self, spec: Any = None, *, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.spec = spec

    def fit(self, table: Any = None, schema: Any = None) -> Self:
        self._forget_fit()  # a spec that fails to parse leaves the model unfitted (_learn sets all at once)
        if table is not None and not isinstance(table, (str, Path, dict)):
            raise InputError("the rules generator makes data from its spec alone; do not pass a table")
        spec = self.spec if table is None else table
        if spec is None:
            raise InputError("the rules generator needs a spec (a YAML file or a mapping)")
        if isinstance(spec, (str, Path)):
            spec = load_spec_file(spec)
        self._learn(spec, self.seed if self.seed is not None else new_seed())
        return self

    def _learn(self, document: dict[str, Any], seed: int) -> None:
        """Fitted state from the spec mapping: every attribute at once, after the spec parsed (the ``spec``
        parameter stays as given, a path or a mapping)."""
        parsed = Spec.parse(document)
        schema = Schema([self._column_schema(name, parsed) for name in parsed.columns])
        self.spec_document_, self.spec_, self.schema_ = document, parsed, schema
        self._unseeded_calls = 0
        self.seed_ = seed

    @staticmethod
    def _column_schema(name: str, spec: Spec) -> ColumnSchema:
        rule = spec.columns[name]
        kind = {
            "numeric": "numeric",
            "categorical": "categorical",
            "boolean": "boolean",
            "datetime": "datetime",
            "id": "id",
        }[rule.output]
        col = ColumnSchema(name=name, kind=kind, missing_rate=rule.missing)  # type: ignore[arg-type]
        if kind == "datetime":
            col.resolution = rule.base.resolution  # type: ignore[attr-defined]
        return col

    def sample(self, n: int, seed: int | None = None, conditions: Any = None) -> pd.DataFrame:
        self._check_fitted()
        n = check_rows(n, len(self.schema_.names))
        rng = self._sample_rng(seed)
        fixed = self._fixed(conditions, n)
        spec = self.spec_
        with progress.step(f"generate: {n:,} rows", total=n) as advance:
            env = self._draw(n, rng, fixed)
            for _ in range(MAX_ROUNDS):
                bad = self._violations(env, n)
                if not bad.any():
                    break
                rows = np.flatnonzero(bad)
                fresh = self._draw(rows.size, rng, {k: v[rows] for k, v in fixed.items()})
                for name in env:
                    if spec.columns[name].output != "id":
                        env[name][rows] = fresh[name]
            else:
                worst = max(spec.rules, key=lambda r: int((~np.asarray(r.evaluate(env, n), dtype=bool)).sum()))
                raise InputError(f"row rule {worst.text!r} is (almost) never satisfied by the declared distributions")
            advance(n)
        return self._frame(env, n)

    def _fixed(self, conditions: Any, n: int) -> dict[str, np.ndarray]:
        if conditions is None:
            return {}
        if isinstance(conditions, dict):
            frame = pd.DataFrame({k: [v] * n for k, v in conditions.items()})
        elif isinstance(conditions, pd.DataFrame) and len(conditions) == n:
            frame = conditions.reset_index(drop=True)
        else:
            raise InputError("conditions must be a mapping {column: value} or a DataFrame with one row per sample")
        out = {}
        for name in frame.columns:
            if name not in self.spec_.columns:
                raise InputError(f"unknown column in condition: '{name}' (columns: {', '.join(self.spec_.columns)})")
            rule = self.spec_.columns[name]
            values = frame[name]
            if rule.output == "datetime":
                out[name] = datetimes.to_microseconds(values).astype(np.int64).astype("datetime64[us]")
            elif rule.output == "numeric":
                out[name] = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)
            else:
                out[name] = values.to_numpy(dtype=object)
        return out

    def _draw(self, n: int, rng: np.random.Generator, fixed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        env: dict[str, np.ndarray] = {}
        for name in self.spec_.order:
            rule = self.spec_.columns[name]
            if name in fixed:
                env[name] = fixed[name].copy()
                continue
            assigned = np.zeros(n, dtype=bool)
            parts: list[tuple[np.ndarray, np.ndarray]] = []
            for cond, dist in rule.branches:
                mask = np.asarray(cond.evaluate(env, n), dtype=bool) & ~assigned
                if mask.any():
                    parts.append((mask, dist.sample(int(mask.sum()), rng, _subset(env, mask))))
                assigned |= mask
            rest = ~assigned
            values = rule.base.sample(int(rest.sum()), rng, _subset(env, rest)) if rest.any() else None
            out = _empty(rule.output, n, values, parts)
            if values is not None:
                out[rest] = values
            for mask, part in parts:
                out[mask] = part
            if rule.missing > 0:
                gone = rng.random(n) < rule.missing
                out = _blank(out, gone)
            env[name] = out
        return env

    def _violations(self, env: dict[str, np.ndarray], n: int) -> np.ndarray:
        bad = np.zeros(n, dtype=bool)
        for rule in self.spec_.rules:
            bad |= ~np.asarray(rule.evaluate(env, n), dtype=bool)
        return bad

    def _frame(self, env: dict[str, np.ndarray], n: int) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for name, rule in self.spec_.columns.items():
            values = env[name]
            if rule.output == "datetime":
                us = values.astype("datetime64[us]")
                units = np.where(np.isnat(us), np.nan, us.astype(np.int64).astype(np.float64))
                data[name] = datetimes.from_units(units, "us", None)
            elif rule.output == "numeric" and values.dtype.kind == "f":
                digits = rule.base.options.get("round")
                whole = digits == 0 or rule.base.options["type"] in ("integer", "poisson")
                data[name] = (
                    pd.array(values, dtype="Int64")
                    if whole and np.isnan(values).any()
                    else (values.astype(np.int64) if whole else values)
                )
            elif rule.output == "boolean" and values.dtype == object:
                data[name] = pd.array(values, dtype="boolean")
            else:
                data[name] = values
        return pd.DataFrame(data, index=range(n))

    def _state(self) -> dict[str, Any]:
        return {"seed_": self.seed_, "spec": self.spec_document_}

    def _set_state(self, state: dict[str, Any]) -> None:
        # model files before the spec moved into the state carried it as the (fit-replaced) spec parameter
        document = state.get("spec", self.spec)
        if not isinstance(document, dict):
            raise ValueError("the model file holds no rules spec")
        self._learn(document, int(state["seed_"]))


def _subset(env: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in env.items()}


def _empty(output: str, n: int, values: np.ndarray | None, parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    sample = values if values is not None else parts[0][1]
    if sample.dtype == object or (output in ("categorical", "id") and sample.dtype.kind not in "fiu"):
        return np.empty(n, dtype=object)
    return np.empty(n, dtype=sample.dtype)


def _blank(values: np.ndarray, gone: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        values[gone] = np.nan
        return values
    if values.dtype.kind == "M":
        values[gone] = np.datetime64("NaT")
        return values
    out = values.astype(object)
    out[gone] = None
    return out
