"""Conditions as every generator takes them: a mapping {column: value} for every row, or a DataFrame with one
condition row per requested row, normalised to a frame and checked against the table's columns."""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthgov.errors import InputError


def condition_frame(conditions: Any, n: int, columns: list[str]) -> pd.DataFrame:
    """``conditions`` as an n-row frame; an :class:`InputError` for another type, a wrong row count or a column
    not in ``columns``."""
    if isinstance(conditions, pd.DataFrame):
        frame = conditions.reset_index(drop=True)
        if len(frame) != n:
            raise InputError(f"conditions have {len(frame)} rows but {n} rows were requested")
    elif isinstance(conditions, dict):
        frame = pd.DataFrame({k: [v] * n for k, v in conditions.items()}, index=range(n))
    else:
        raise InputError("conditions must be a mapping {column: value} or a DataFrame")
    for name in frame.columns:
        if name not in columns:
            raise InputError(f"unknown column in condition: '{name}' (columns: {', '.join(columns)})")
    return frame
