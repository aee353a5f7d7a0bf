"""Public column domains for the DP generators: what each column's values may be, known without reading the data.

A differentially private release may only use what the schema declares public knowledge (``public: true``):
a categorical column's ``categories``, a number's ``min`` and ``max``, or a boolean's two values. From that
alone, each column gets a fixed grid of *cells* (the data never moves a cell boundary):

* categories and booleans: one cell per declared value;
* numbers on a grid of at most :data:`EXACT_CELLS` values (integers or a ``step`` in a small range): one cell
  per value;
* other numbers: :data:`RANGE_CELLS` cells whose widths grow geometrically from ``min`` (the first cell holds
  ``min`` alone for integers, so a point mass such as ``capital-gain = 0`` is its own cell);
* and always one last cell for a missing value.

A value outside the declared domain counts in no privacy sense as information: numbers are clipped to
``[min, max]``, unknown categories are read as missing (the operator's log says how many, the release does not).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.table.schema import ColumnSchema, Schema

logger = logging.getLogger(__name__)

EXACT_CELLS = 256
RANGE_CELLS = 128
DP_KINDS = ("numeric", "categorical", "boolean")
DOMAIN_SOURCE = "schema (declared public)"


@dataclass
class ColumnDomain:
    """One column's public cells: ``values`` (one value per cell) or ``edges`` (cell i is [edges[i], edges[i+1])),
    plus the missing cell, which is always the last."""

    name: str
    kind: str
    values: list[Any] | None = None
    edges: np.ndarray | None = None
    integer: bool = False
    decimals: int | None = None

    @property
    def size(self) -> int:
        """Number of cells, the missing cell included."""
        return (len(self.values) if self.values is not None else len(self.edges) - 1) + 1  # type: ignore[arg-type]

    @property
    def missing(self) -> int:
        return self.size - 1

    # -- values -> cells ---------------------------------------------------------------------------
    def encode(self, series: pd.Series) -> np.ndarray:
        """The cell of each value (missing and undeclared categories: the missing cell)."""
        if self.kind == "numeric":
            return self._encode_numbers(pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64))
        assert self.values is not None
        lookup = {_key(v): i for i, v in enumerate(self.values)}
        present = series.notna().to_numpy()
        codes = np.full(len(series), self.missing, dtype=np.int64)
        keys = [_key(v) for v in series[present].tolist()]
        found = np.array([lookup.get(k, -1) for k in keys], dtype=np.int64)
        unknown = int((found < 0).sum())
        if unknown:
            logger.warning(
                "column '%s': %d value(s) are not among the declared categories; read as missing", self.name, unknown
            )
        codes[np.flatnonzero(present)] = np.where(found >= 0, found, self.missing)
        return codes

    def code_of(self, value: Any) -> int:
        """The cell of one condition value; an :class:`InputError` outside the declared domain."""
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return self.missing
        if self.kind == "numeric":
            number = _number(value, self.name)
            lo, hi = self.bounds
            if not lo <= number <= hi:
                raise InputError(f"condition {value!r} on '{self.name}' is outside the range [{lo:g}, {hi:g}]")
            return int(self._encode_numbers(np.array([number]))[0])
        for i, v in enumerate(self.values or []):
            if _key(v) == _key(value):
                return i
        raise InputError(f"value {value!r} never appears among the declared categories of '{self.name}'")

    @property
    def bounds(self) -> tuple[float, float]:
        if self.values is not None:
            return float(self.values[0]), float(self.values[-1])
        assert self.edges is not None
        return float(self.edges[0]), float(self._top)

    def _encode_numbers(self, x: np.ndarray) -> np.ndarray:
        missing = np.isnan(x)
        lo, hi = self.bounds
        clipped = np.clip(np.where(missing, lo, x), lo, hi)
        if self.values is not None:
            grid = np.asarray(self.values, dtype=np.float64)
            codes = np.clip(np.searchsorted(grid, clipped - 1e-9 * np.maximum(1, abs(clipped))), 0, len(grid) - 1)
            # nearest grid value
            left = np.clip(codes - 1, 0, len(grid) - 1)
            codes = np.where(np.abs(grid[left] - clipped) < np.abs(grid[codes] - clipped), left, codes)
        else:
            assert self.edges is not None
            codes = np.clip(np.searchsorted(self.edges, clipped, side="right") - 1, 0, len(self.edges) - 2)
        return np.where(missing, self.missing, codes).astype(np.int64)

    # -- cells -> values ---------------------------------------------------------------------------
    def decode(self, cells: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A value for each cell: the cell's value, or uniform inside a range cell (rounded as the schema says);
        NaN / None for the missing cell."""
        missing = cells == self.missing
        if self.kind != "numeric":
            values = np.array([*self.values, None], dtype=object)  # type: ignore[misc]
            return values[cells]
        if self.values is not None:
            grid = np.append(np.asarray(self.values, dtype=np.float64), np.nan)
            return grid[cells]
        assert self.edges is not None
        safe = np.where(missing, 0, cells)
        lo, hi = self.edges[safe], self.edges[safe + 1]
        if self.integer:
            # integers in [lo, hi): the cells of an integer column have integer edges
            out = lo + np.floor(rng.random(cells.size) * np.maximum(hi - lo, 1))
            out = np.minimum(out, self._top)
        else:
            out = lo + rng.random(cells.size) * (hi - lo)
            if self.decimals is not None:
                out = np.round(out, self.decimals)
        return np.where(missing, np.nan, out)

    @property
    def _top(self) -> float:
        assert self.edges is not None
        return float(self.edges[-1]) - (1.0 if self.integer else 0.0)


def _key(value: Any) -> Any:
    """Match a data value with a declared one across int/float/str spellings (YAML gives 3, a CSV column "3",
    a numeric column 3.0); "03" stays apart from 3."""
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):  # a condition from the command line
        return ("bool", value.strip().lower() == "true")
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return ("text", str(int(number)) if number.is_integer() else repr(number))
    return ("text", str(value))


def _number(value: Any, column: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"condition {value!r} on '{column}' is not a number") from None


def column_domain(col: ColumnSchema) -> ColumnDomain:
    """The public cells of one column, or an :class:`InputError` saying what to declare."""
    how = "see docs/privacy.md"
    if col.kind not in DP_KINDS:
        raise InputError(
            f"column '{col.name}' is {col.kind}: the DP generators model numeric, categorical and boolean columns; "
            f"drop it or change its kind in the schema ({how})"
        )
    if col.kind == "boolean":
        return ColumnDomain(col.name, "boolean", values=[False, True])
    if not col.public:
        what = "categories" if col.kind == "categorical" else "min and max"
        raise InputError(
            f"column '{col.name}' has no public domain: a DP release needs its {what} declared public in the schema "
            f"(public: true; synthgov schema TABLE --domains writes them for you to check) ({how})"
        )
    if col.kind == "categorical":
        if not col.categories:
            raise InputError(f"column '{col.name}' is declared public but lists no categories ({how})")
        return ColumnDomain(col.name, "categorical", values=list(col.categories))
    if col.min is None or col.max is None:
        raise InputError(f"column '{col.name}' is declared public but has no min and max ({how})")
    return numeric_domain(col)


def numeric_domain(col: ColumnSchema) -> ColumnDomain:
    lo, hi = float(col.min), float(col.max)  # type: ignore[arg-type]
    step = col.step or (1.0 if col.integer else None)
    if step is not None and (hi - lo) / step + 1 <= EXACT_CELLS:
        count = int(np.floor((hi - lo) / step + 1e-9)) + 1
        grid = lo + step * np.arange(count)
        return ColumnDomain(col.name, "numeric", values=grid.tolist(), integer=bool(col.integer))
    if col.integer:
        span = hi - lo + 1  # integer cells [a, b) cover lo .. hi
        offsets = np.unique(np.round(np.expm1(np.linspace(0, np.log1p(span), RANGE_CELLS + 1))))
        edges = lo + offsets
        edges[-1] = hi + 1
        return ColumnDomain(col.name, "numeric", edges=edges, integer=True)
    unit = 10.0 ** -(col.decimals if col.decimals is not None else 6) if hi > lo else 1.0
    unit = max(unit, (hi - lo) * 1e-9)
    span = max(hi - lo, unit)
    offsets = np.expm1(np.linspace(0, np.log1p(span / unit), RANGE_CELLS + 1)) * unit
    edges = lo + offsets * ((hi - lo) / offsets[-1] if hi > lo else 1.0)
    return ColumnDomain(col.name, "numeric", edges=edges, decimals=col.decimals)


def table_domains(schema: Schema) -> dict[str, ColumnDomain]:
    """Every column's public domain (an :class:`InputError` for the first column without one)."""
    return {col.name: column_domain(col) for col in schema.columns}


def declare_domains(schema: Schema, frame: pd.DataFrame) -> Schema:
    """``schema`` with each categorical column's categories and ``public: true`` on every column with a domain,
    read from ``frame``: a draft for a person to check against the public codebook before a DP release."""
    for col in schema.columns:
        if col.kind == "categorical":
            values = frame[col.name].dropna().unique().tolist()
            col.categories = sorted((v.item() if hasattr(v, "item") else v for v in values), key=_key)
            col.max_categories = None
            col.public = True
        elif col.kind == "numeric" and col.min is not None and col.max is not None:
            col.public = True
    return schema
