"""Datetime columns as integer counts of their resolution, safe for any date and time zone.

pandas' default ``datetime64[ns]`` holds only the years 1677-2262; synthgov models datetimes as counts of their
resolution unit (days, seconds, ...) since 1970-01-01 UTC, so dates before 1677 or after 2262 and time-zone-aware
values survive a fit/sample round trip. Output uses nanoseconds when every value fits, seconds otherwise.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

# Resolutions from coarsest to finest, with their length in microseconds.
RESOLUTIONS: dict[str, int] = {
    "D": 86_400_000_000,
    "h": 3_600_000_000,
    "m": 60_000_000,
    "s": 1_000_000,
    "ms": 1_000,
    "us": 1,
}
_NS_MIN = pd.Timestamp.min.value // 1000 + 1  # the nanosecond range of pandas, in microseconds
_NS_MAX = pd.Timestamp.max.value // 1000


def timezone_of(series: pd.Series) -> str | None:
    tz = getattr(series.dtype, "tz", None)
    return str(tz) if tz is not None else None


def to_microseconds(series: pd.Series, fmt: str | None = None) -> np.ndarray:
    """Convert datetimes (any unit, tz-aware or naive) or date strings to float64 microseconds since the epoch
    (UTC for tz-aware values); missing or unparseable values become NaN."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        raw = series.to_numpy(dtype=series.dtype)
        us = raw.astype("datetime64[us]")
        out = us.astype(np.int64).astype(np.float64)
        out[np.isnat(us)] = np.nan
        return out
    return _parse_strings(series, fmt)


def _parse_strings(series: pd.Series, fmt: str | None) -> np.ndarray:
    values = series.astype("string")
    out = np.full(len(values), np.nan)
    mask = values.notna().to_numpy()
    if not mask.any():
        return out
    text = values[mask].str.strip()
    try:
        parsed = pd.to_datetime(text, format=fmt or "ISO8601", utc=True, errors="raise")
        us = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[us]")
        out[mask] = np.where(np.isnat(us), np.nan, us.astype(np.int64))
        return out
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        pass
    # Out of pandas' nanosecond range (e.g. year 1500) or mixed formats: parse value by value.
    out[mask] = [_parse_one(v, fmt) for v in text.to_numpy()]
    return out


def _parse_one(text: str, fmt: str | None) -> float:
    try:
        value = _dt.datetime.strptime(text, fmt) if fmt and fmt != "ISO8601" else _dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            return float(np.datetime64(text, "us").astype(np.int64))
        except ValueError:
            return np.nan
    if value.tzinfo is not None:
        value = value.astimezone(_dt.UTC).replace(tzinfo=None)
    return float(np.datetime64(value, "us").astype(np.int64))


def detect_resolution(microseconds: np.ndarray) -> str:
    """The coarsest unit that divides every value (``'D'`` for plain dates)."""
    finite = microseconds[np.isfinite(microseconds)].astype(np.int64)
    for name, size in RESOLUTIONS.items():
        if not np.any(finite % size):
            return name
    return "us"


def from_units(values: np.ndarray, resolution: str, timezone: str | None) -> pd.Series:
    """Counts of ``resolution`` since the epoch (float, NaN = missing) -> a pandas datetime Series."""
    size = RESOLUTIONS[resolution]
    missing = ~np.isfinite(values)
    us = np.where(missing, 0, np.round(values)).astype(np.int64) * size
    fits_ns = bool(np.all((us >= _NS_MIN) & (us <= _NS_MAX) | missing))
    unit = "ns" if fits_ns else ("s" if size >= 1_000_000 else "us")
    stamps = us.astype("datetime64[us]").astype(f"datetime64[{unit}]")
    stamps[missing] = np.datetime64("NaT")
    series = pd.Series(stamps)
    if timezone:
        series = series.dt.tz_localize("UTC").dt.tz_convert(timezone)
    return series
