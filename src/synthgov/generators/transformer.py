"""The table transformer: a DataFrame <-> per-column marginals on the uniform scale, plus generated columns.

``TableTransformer.fit(frame, schema)`` learns one marginal per modelled column (numbers, datetimes,
categories, booleans) and prepares the generators of identifier, PII and text columns. Generators work on
``uniforms`` (one array in [0, 1] per modelled column) and hand back uniforms or category codes; the
transformer turns them into a DataFrame with the original column order and dtypes.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.generators.marginals import CategoricalMarginal, NumericMarginal
from synthgov.generators.side_columns import IdColumn, PiiColumn, TextColumn
from synthgov.table import datetimes
from synthgov.table.plain import PANDAS_MAJOR
from synthgov.table.schema import ColumnSchema, Schema

Marginal = NumericMarginal | CategoricalMarginal

logger = logging.getLogger(__name__)


class TableTransformer:
    """Learned per-column state of a data-driven generator (see module docstring)."""

    def __init__(self) -> None:
        self.schema: Schema | None = None
        self.marginals: dict[str, Marginal] = {}
        self.text: dict[str, TextColumn] = {}

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, schema: Schema) -> TableTransformer:
        self.schema = schema
        self.marginals = {}
        self.text = {}
        for col in schema.columns:
            if col.kind in ("numeric", "datetime"):
                self.marginals[col.name] = NumericMarginal.fit(self.numbers(frame[col.name], col), col)
            elif col.kind in ("categorical", "boolean"):
                self.marginals[col.name] = CategoricalMarginal.fit(frame[col.name], col.max_categories)
            elif col.kind == "text":
                self.text[col.name] = TextColumn(col).fit(frame[col.name])
        return self

    @property
    def modelled(self) -> list[str]:
        return list(self.marginals)

    def is_categorical(self, name: str) -> bool:
        return isinstance(self.marginals[name], CategoricalMarginal)

    @staticmethod
    def numbers(series: pd.Series, col: ColumnSchema) -> np.ndarray:
        """A numeric or datetime column as float64 (datetimes in units of their resolution), NaN = missing."""
        if col.kind == "datetime":
            us = datetimes.to_microseconds(series, col.format)
            return us / datetimes.RESOLUTIONS[col.resolution or "us"]
        try:
            return pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        except (ValueError, TypeError):
            bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()].iloc[0]
            raise InputError(
                f"column '{col.name}' is numeric in the schema but holds {bad!r}; fix the data or the schema"
            ) from None

    def category_codes(self, frame: pd.DataFrame, name: str) -> np.ndarray:
        return self.marginals[name].encode(frame[name])  # type: ignore[union-attr]

    def to_uniforms(
        self,
        frame: pd.DataFrame,
        rng: np.random.Generator,
        orders: dict[str, np.ndarray] | None = None,
        columns: list[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Randomised PIT of the modelled ``columns`` (default: all). ``orders[name]`` (a permutation of category
        codes) sets where each category sits on the uniform scale (default: the marginal's own order)."""
        assert self.schema is not None
        out: dict[str, np.ndarray] = {}
        for name in self.modelled if columns is None else columns:
            marginal = self.marginals[name]
            if isinstance(marginal, NumericMarginal):
                out[name] = marginal.to_uniform(self.numbers(frame[name], self.schema[name]), rng)
            else:
                codes = marginal.encode(frame[name])
                lo, hi = category_intervals(marginal.probs, None if orders is None else orders.get(name))
                out[name] = lo[codes] + rng.random(codes.size) * (hi[codes] - lo[codes])
        return out

    # -- conditions -----------------------------------------------------------------------------
    def condition_frame(self, conditions: Any, n: int) -> pd.DataFrame:
        """Normalise ``conditions`` (a mapping column -> value, or a DataFrame of n rows) and check every column
        and value against what was learned. Raises :class:`InputError` for unknown columns or values."""
        from synthgov.generators.conditions import condition_frame

        assert self.schema is not None
        frame = condition_frame(conditions, n, self.schema.names)
        for name in frame.columns:
            col = self.schema[name]
            if col.kind == "id":
                raise InputError(f"cannot condition on identifier column '{name}': ids are generated fresh")
            if name in self.marginals:
                self._check_condition_values(col, frame[name])
        return frame

    def _check_condition_values(self, col: ColumnSchema, values: pd.Series) -> None:
        marginal = self.marginals[col.name]
        if isinstance(marginal, CategoricalMarginal):
            codes = marginal.encode(values)
            if (codes < 0).any():
                bad = values[codes < 0].iloc[0]
                shown = [c for c in marginal.categories if isinstance(c, (str, int, float, bool))][:10]
                raise InputError(
                    f"value {bad!r} never appears in column '{col.name}' (e.g. {', '.join(map(repr, shown))})"
                )
            return
        numbers = self.numbers(values, col)
        if np.isnan(numbers[values.notna().to_numpy()]).any():  # a given value that does not read as a number
            raise InputError(f"condition on '{col.name}' has a value that is not a {col.kind}")
        present = numbers[np.isfinite(numbers)]
        if col.kind == "numeric" and col.integer and present.size and (present != np.round(present)).any():
            bad = present[present != np.round(present)][0]
            raise InputError(f"condition on '{col.name}': {bad:g} is not a whole number, and the column holds integers")
        if np.isnan(numbers).any() and marginal.p_missing == 0:
            raise InputError(f"column '{col.name}' has no missing values to condition on")
        if present.size and (present.min() < marginal.support_min or present.max() > marginal.support_max):
            raise InputError(
                f"condition on '{col.name}' is outside the range seen in training "
                f"[{_show(marginal.support_min, col)}, {_show(marginal.support_max, col)}]"
            )

    def condition_intervals(
        self, frame: pd.DataFrame, orders: dict[str, np.ndarray] | None = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """For each conditioned modelled column, the interval of the uniform scale each row must fall in."""
        assert self.schema is not None
        out = {}
        for name in frame.columns:
            marginal = self.marginals.get(name)
            if marginal is None:
                continue
            if isinstance(marginal, NumericMarginal):
                out[name] = marginal.cdf_interval(self.numbers(frame[name], self.schema[name]))
            else:
                codes = marginal.encode(frame[name])
                lo, hi = category_intervals(marginal.probs, None if orders is None else orders.get(name))
                out[name] = (lo[codes], hi[codes])
        return out

    # -- decoding -------------------------------------------------------------------------------
    def decode(
        self,
        uniforms: dict[str, np.ndarray],
        n: int,
        rng: np.random.Generator,
        orders: dict[str, np.ndarray] | None = None,
        conditions: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Uniforms of the modelled columns -> a DataFrame with the schema's columns in schema order (modelled
        columns without uniforms, i.e. derived ones, are left for the caller)."""
        assert self.schema is not None
        data: dict[str, Any] = {}
        for col in self.schema.columns:
            name = col.name
            if name in self.marginals and name not in uniforms:
                continue
            if name in self.marginals:
                marginal = self.marginals[name]
                if isinstance(marginal, NumericMarginal):
                    data[name] = self.restore(col, marginal.from_uniform(uniforms[name]))
                else:
                    order = None if orders is None else orders.get(name)
                    codes = codes_from_uniform(uniforms[name], marginal.probs, order)
                    data[name] = self.restore(col, marginal.decode(codes, rng))
            elif col.kind == "id":
                data[name] = IdColumn(col).sample(n, rng)
            elif col.kind == "pii":
                data[name] = PiiColumn(col).sample(n, rng)
            elif col.kind == "text":
                data[name] = self.text[name].sample(n, rng)
        frame = pd.DataFrame(data, index=range(n))
        if conditions is not None:
            for name in conditions.columns:
                if name in frame.columns and self.schema[name].kind != "datetime":
                    frame[name] = _restore_like(conditions[name], frame[name])
        return frame

    @staticmethod
    def restore(col: ColumnSchema, values: np.ndarray) -> Any:
        """Decoded values (floats for numbers, Python objects for categories) -> the column's dtype."""
        if col.kind == "datetime":
            return datetimes.from_units(values, col.resolution or "us", col.timezone)
        if col.kind == "boolean":
            series = pd.Series(values, dtype=object)
            return series.astype(bool) if series.notna().all() else series.astype("boolean")
        if col.kind == "numeric":
            return _numeric_dtype(values, col)
        series = pd.Series(values, dtype=object)
        return _astype_or_keep(series, col.dtype)


def category_intervals(probs: np.ndarray, order: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends on the uniform scale of each category code when laid out in ``order``."""
    order = np.arange(probs.size) if order is None else order
    upper_sorted = np.cumsum(probs[order])
    upper_sorted[-1] = 1.0
    lo, hi = np.empty_like(probs), np.empty_like(probs)
    hi[order] = upper_sorted
    lo[order] = upper_sorted - probs[order]
    return lo, hi


def codes_from_uniform(u: np.ndarray, probs: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    order = np.arange(probs.size) if order is None else order
    edges = np.cumsum(probs[order])
    position = np.minimum(np.searchsorted(edges, u, side="right"), probs.size - 1)
    return order[position]


def _numeric_dtype(values: np.ndarray, col: ColumnSchema) -> Any:
    """Numbers back in the column's original dtype (nullable ``Int64`` when an integer column has gaps)."""
    dtype = col.dtype or "float64"
    missing = bool(np.isnan(values).any())
    if dtype.startswith(("Int", "UInt")) or (col.integer and dtype.startswith(("int", "uint")) and missing):
        return pd.array(values, dtype=dtype if dtype.startswith(("Int", "UInt")) else "Int64")
    if dtype.startswith(("int", "uint")) and not missing:
        return values.astype(dtype)
    return values


def _astype_or_keep(series: pd.Series, dtype: str | None) -> pd.Series:
    if not dtype or dtype == "object":
        return series
    if dtype == "str" and PANDAS_MAJOR < 3:
        # pandas 3's default string dtype, in a schema read by pandas 2, where astype("str") would turn a gap
        # into the text "None": strings stay Python objects there, as pandas 2 itself reads them.
        return series
    try:
        return series.astype(dtype)
    except (TypeError, ValueError) as exc:
        logger.info("kept Python objects: cannot restore dtype %s (%s)", dtype, exc)
        return series


def _restore_like(condition: pd.Series, generated: pd.Series) -> pd.Series:
    """Conditioned columns return exactly the requested values, in the generated column's dtype."""
    try:
        return condition.astype(generated.dtype).set_axis(generated.index)
    except (TypeError, ValueError) as exc:
        logger.info("condition values kept as given: not castable to %s (%s)", generated.dtype, exc)
        return condition.set_axis(generated.index)


def _show(value: float, col: ColumnSchema) -> str:
    if col.kind == "datetime":
        return str(datetimes.from_units(np.array([value]), col.resolution or "us", col.timezone).iloc[0])
    return f"{value:g}"
