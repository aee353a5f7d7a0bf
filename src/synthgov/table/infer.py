"""Schema inference: decide each column's kind and options from its values."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from synthgov.table import datetimes, pii
from synthgov.table.io import TableLike, read_table
from synthgov.table.schema import ColumnSchema, Schema

SAMPLE = 2_000  # values looked at for pattern checks
DEFAULT_MAX_CATEGORIES = 500  # categories modelled one by one; rarer ones are pooled
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key|pk|identifier|record_?id|row_?id)$|^id_")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_COUNTER = re.compile(r"(\D*?)(\d+)(\D*)")


def infer_schema(table: TableLike, *, max_categories: int = DEFAULT_MAX_CATEGORIES) -> Schema:
    """Infer a :class:`Schema` for ``table`` (a DataFrame, pyarrow Table or file path)."""
    frame = read_table(table)
    return Schema([infer_column(frame[name], name, max_categories=max_categories) for name in frame.columns])


def _sample(values: pd.Series) -> pd.Series:
    return values.sample(SAMPLE, random_state=0) if len(values) > SAMPLE else values


def infer_column(series: pd.Series, name: str, *, max_categories: int = DEFAULT_MAX_CATEGORIES) -> ColumnSchema:
    missing_rate = float(series.isna().mean())
    present = series.dropna()
    col = ColumnSchema(name=name, kind="categorical", missing_rate=round(missing_rate, 6), dtype=str(series.dtype))
    if present.empty:
        col.flags.append("all_missing")
        return col
    unique_share = present.nunique() / len(present)
    id_named = bool(_ID_NAME.search(pii.normalise_name(name)))

    if pd.api.types.is_bool_dtype(series.dtype) or _all_python_bools(present):
        col.kind = "boolean"
        return col
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _as_datetime(col, series, None)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return _numeric(col, series, present, unique_share, id_named)
    return _textual(col, series, present, unique_share, id_named, max_categories)


def _all_python_bools(present: pd.Series) -> bool:
    return present.dtype == object and present.map(type).isin([bool, np.bool_]).all()


def _numeric(
    col: ColumnSchema, series: pd.Series, present: pd.Series, unique_share: float, id_named: bool
) -> ColumnSchema:
    values = present.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    integer = bool(finite.size) and bool(np.all(np.floor(finite) == finite))
    if id_named and integer and unique_share == 1.0 and len(present) > 1:
        col.kind, col.id_format = "id", "int"
        col.min, col.max = float(finite.min()), float(finite.max())
        col.flags.append("identifier: generated fresh, never copied")
        return col
    pii_type = pii.pii_from_name(col.name)
    if pii_type in {"phone", "national_id", "credit_card", "iban"} and integer and unique_share > 0.5:
        return _as_pii(col, pii_type, "by column name")
    col.kind = "numeric"
    col.integer = integer
    if finite.size:
        col.min, col.max = float(finite.min()), float(finite.max())
    if integer and finite.size:
        uniq = np.unique(finite).astype(np.int64)
        if uniq.size >= 3:
            step = int(np.gcd.reduce(uniq - uniq[0]))
            if step > 1:
                col.step = float(step)
    elif finite.size:
        col.decimals = _decimals(finite)
    return col


def _decimals(values: np.ndarray) -> int | None:
    sample = values[: SAMPLE * 5]
    for places in range(1, 7):
        if np.allclose(np.round(sample, places), sample, rtol=0, atol=1e-9 * np.maximum(1, np.abs(sample)).max()):
            return places
    return None


def _textual(
    col: ColumnSchema,
    series: pd.Series,
    present: pd.Series,
    unique_share: float,
    id_named: bool,
    max_categories: int,
) -> ColumnSchema:
    sample = _sample(present).astype(str)
    if _parses_as_datetime(sample):
        return _as_datetime(col, series, _guess_format(sample))
    pii_type = pii.pii_from_values(sample)
    if pii_type is not None:
        return _as_pii(col, pii_type, "by value pattern")
    if sample.str.fullmatch(_UUID).mean() >= 0.99 and unique_share > 0.99:
        col.kind, col.id_format = "id", "uuid"
        col.flags.append("identifier (UUID): generated fresh, never copied")
        return col
    name_pii = pii.pii_from_name(col.name)
    diverse = unique_share > 0.2 and present.nunique() > 20  # "telephone: yes/no" is not personal data
    if name_pii is not None and diverse and (name_pii != "name" or pii.looks_like_person_names(sample)):
        return _as_pii(col, name_pii, "by column name")
    if pii.looks_like_person_names(sample) and unique_share > 0.3:
        return _as_pii(col, "name", "values look like person names")
    lengths = sample.str.len()
    words = sample.str.count(r"\s+") + 1
    if unique_share > 0.5 and (lengths.mean() > 30 or words.mean() >= 4):
        col.kind = "text"
        col.flags.append("free text: generated from a word model, never copied whole; review before release")
        return col
    if unique_share == 1.0 and len(present) >= 20 and (id_named or words.max() == 1):
        col.kind = "id"
        col.id_format = _id_format(present.astype(str))
        col.flags.append("identifier: generated fresh, never copied")
        return col
    n_distinct = present.nunique()
    if n_distinct > max_categories:
        col.max_categories = max_categories
        col.flags.append(f"high cardinality ({n_distinct} values): the {max_categories} most frequent are modelled")
    return col


def _as_pii(col: ColumnSchema, pii_type: str, why: str) -> ColumnSchema:
    col.kind, col.pii_type = "pii", pii_type
    col.flags.append(f"PII candidate ({pii_type}, {why}): replaced by fake values, never copied")
    return col


def _parses_as_datetime(sample: pd.Series) -> bool:
    text = sample.str.strip()
    # Must look like a date: digits with date separators, not plain numbers.
    if not text.str.contains(r"\d").all() or text.str.fullmatch(r"[+-]?\d+(\.\d+)?").any():
        return False
    if not text.str.contains(r"[-/:.]|\d [A-Za-z]|[A-Za-z] \d").all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = datetimes.to_microseconds(text, None)
        if np.isfinite(parsed).mean() >= 0.95:
            return True
        fmt = _guess_format(text)
        if fmt is None:
            return False
        return np.isfinite(datetimes.to_microseconds(text, fmt)).mean() >= 0.95


def _guess_format(sample: pd.Series) -> str | None:
    from pandas.tseries.api import guess_datetime_format

    first = str(sample.iloc[0]).strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if np.isfinite(datetimes.to_microseconds(sample.head(50), None)).all():
            return None  # ISO 8601
        return guess_datetime_format(first)


def _as_datetime(col: ColumnSchema, series: pd.Series, fmt: str | None) -> ColumnSchema:
    col.kind = "datetime"
    col.format = fmt
    col.timezone = datetimes.timezone_of(series)
    us = datetimes.to_microseconds(series, fmt)
    col.resolution = datetimes.detect_resolution(us)
    if col.timezone is None and (series.dtype == object or isinstance(series.dtype, pd.StringDtype)):
        # Strings with UTC offsets are parsed to UTC; keep them time-zone aware.
        text = series.dropna().astype(str).head(50)
        if text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$").any():
            col.timezone = "UTC"
    col.missing_rate = round(float(np.mean(~np.isfinite(us))), 6)
    return col


def _id_format(values: pd.Series) -> str:
    """A pattern for fresh identifiers that keeps the look of the real ones."""
    match = values.str.fullmatch(_COUNTER)
    if match.all():
        parts = values.str.extract(_COUNTER)
        if parts[0].nunique() == 1 and parts[2].nunique() == 1:
            width = parts[1].str.len()
            pad = int(width.max()) if width.nunique() == 1 else 0
            top = int(parts[1].astype(np.int64).max())
            return f"counter:{parts[0].iloc[0]}|{pad}|{parts[2].iloc[0]}|{top}"
    templates = values.map(_template)
    if templates.nunique() == 1:
        return templates.iloc[0]
    return "[0-9a-f]{16}"


def _template(value: str) -> str:
    """'AB-0012' -> '[A-Z]{2}-[0-9]{4}'."""
    out: list[tuple[str, int]] = []
    for ch in value:
        cls = "[0-9]" if ch.isdigit() else "[A-Z]" if ch.isupper() else "[a-z]" if ch.islower() else re.escape(ch)
        if out and out[-1][0] == cls:
            out[-1] = (cls, out[-1][1] + 1)
        else:
            out.append((cls, 1))
    return "".join(c if n == 1 else f"{c}{{{n}}}" for c, n in out)
