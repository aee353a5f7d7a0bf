"""Aligning the tables an evaluation compares: the real (training) table, the synthetic one and an optional
real holdout, under one schema, with shared encodings for the metrics that need numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.table import datetimes
from synthgov.table.infer import infer_schema
from synthgov.table.io import TableLike, read_table
from synthgov.table.schema import Schema

#: Column kinds SDMetrics' QualityReport scores (id, text and PII columns are not compared).
SDTYPES = {"numeric": "numerical", "datetime": "datetime", "categorical": "categorical", "boolean": "boolean"}


@dataclass
class Tables:
    real: pd.DataFrame
    synthetic: pd.DataFrame
    holdout: pd.DataFrame | None
    schema: Schema
    notes: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """Compared columns, in schema order."""
        return [c.name for c in self.schema.columns if c.kind in SDTYPES]

    def kind(self, name: str) -> str:
        return self.schema[name].kind

    def is_continuous(self, name: str) -> bool:
        return self.kind(name) in ("numeric", "datetime")


def load_tables(real: TableLike, synthetic: TableLike, holdout: TableLike | None = None, schema: Any = None) -> Tables:
    real_df = read_table(real)
    syn_df = read_table(synthetic)
    hold_df = read_table(holdout) if holdout is not None else None
    if schema is None:
        schema_ = infer_schema(real_df)
    else:
        schema_ = schema if isinstance(schema, Schema) else Schema.load(schema)
        schema_.check_against(list(real_df.columns))
    for label, frame in (("synthetic", syn_df), ("holdout", hold_df)):
        if frame is None:
            continue
        missing = [c for c in real_df.columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in real_df.columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks {', '.join(missing)}")
            if extra:
                parts.append(f"has extra {', '.join(extra)}")
            raise InputError(f"the {label} table does not have the real table's columns: it " + " and ".join(parts))
    frames = [_coerce(f, schema_) for f in (real_df, syn_df[real_df.columns], hold_df)]
    if hold_df is not None:
        frames[2] = frames[2][real_df.columns]
    return Tables(real=frames[0], synthetic=frames[1], holdout=frames[2], schema=schema_)


def _coerce(frame: pd.DataFrame | None, schema: Schema) -> pd.DataFrame | None:
    """Datetime columns given as text become datetimes; numeric columns become numbers (as the real ones)."""
    if frame is None:
        return None
    out = frame.copy()
    for col in schema.columns:
        series = out[col.name]
        if col.kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(series.dtype):
            us = datetimes.to_microseconds(series, col.format)
            out[col.name] = datetimes.from_units(us, "us", col.timezone).set_axis(out.index)
        elif col.kind == "numeric" and not pd.api.types.is_numeric_dtype(series.dtype):
            converted = pd.to_numeric(series, errors="coerce")
            if converted.notna().sum() < series.notna().sum():
                raise InputError(f"column '{col.name}' is numeric in the real table but holds text in another table")
            out[col.name] = converted
    return out


def as_numbers(series: pd.Series) -> pd.Series:
    """Numbers as SDMetrics sees them: datetimes as their integer timestamps (``pd.to_numeric``)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        mask = series.isna()
        values = pd.to_numeric(series).astype("float64")
        values[mask] = np.nan
        return values
    return pd.to_numeric(series, errors="coerce").astype("float64")


@dataclass
class Encoding:
    """Rows as numbers for distance-based metrics: numeric columns scaled to [0, 1] by the real range (missing
    -> -0.5, a fixed distance from every value), categorical columns as integer codes shared by all tables."""

    numeric: list[str]
    categorical: list[str]
    lows: np.ndarray
    spans: np.ndarray
    categories: dict[str, pd.Index]

    @classmethod
    def fit(cls, tables: Tables, max_categories: int = 30) -> Encoding:
        numeric = [c for c in tables.columns if tables.is_continuous(c)]
        categorical = [c for c in tables.columns if not tables.is_continuous(c)]
        values = np.column_stack([as_numbers(tables.real[c]).to_numpy() for c in numeric]) if numeric else None
        lows = np.nanmin(values, axis=0) if values is not None else np.zeros(0)
        highs = np.nanmax(values, axis=0) if values is not None else np.zeros(0)
        spans = np.where(highs > lows, highs - lows, 1.0)
        categories = {}
        for c in categorical:
            counts = tables.real[c].astype(object).where(tables.real[c].notna(), "\x00missing").value_counts()
            categories[c] = pd.Index(counts.index[:max_categories])
        return cls(numeric, categorical, np.nan_to_num(lows), spans, categories)

    def numbers(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.numeric:
            return np.zeros((len(frame), 0))
        x = np.column_stack([as_numbers(frame[c]).to_numpy() for c in self.numeric])
        x = (x - self.lows) / self.spans
        return np.where(np.isnan(x), -0.5, x)

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.categorical:
            return np.zeros((len(frame), 0), dtype=np.int64)
        cols = []
        for c in self.categorical:
            values = frame[c].astype(object).where(frame[c].notna(), "\x00missing")
            code = self.categories[c].get_indexer(values)
            cols.append(np.where(code < 0, len(self.categories[c]), code))  # unseen / rare -> "other"
        return np.column_stack(cols).astype(np.int64)

    def one_hot(self, frame: pd.DataFrame) -> np.ndarray:
        codes = self.codes(frame)
        blocks = []
        for j, c in enumerate(self.categorical):
            size = len(self.categories[c]) + 1
            block = np.zeros((len(frame), size), dtype=np.float32)
            block[np.arange(len(frame)), codes[:, j]] = 1.0
            blocks.append(block)
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0), dtype=np.float32)

    def model_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Features for gradient boosting: numbers as floats, categories as pandas categoricals."""
        data = {}
        for c in self.numeric:
            data[c] = as_numbers(frame[c]).to_numpy()
        codes = self.codes(frame)
        for j, c in enumerate(self.categorical):
            data[c] = pd.Categorical(codes[:, j], categories=range(len(self.categories[c]) + 1))
        return pd.DataFrame(data, index=frame.index)


def sample_rows(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= n:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size=n, replace=False))]
