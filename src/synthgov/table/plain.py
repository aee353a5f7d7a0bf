"""Plain values that behave the same on pandas 2 and pandas 3.

pandas 3 changed two things this package leaned on. ``Index.get_indexer`` no longer finds ``None`` in an object
index (pandas 2 matched it), so a gap became -1 ("never seen") and negative codes reached ``np.bincount``: every
lookup of plain Python values goes through :func:`positions`, which matches missing values by position. And
strings are now the ``str`` dtype, whose ``astype(str)`` keeps a gap missing where pandas 2's object columns gave
the text ``"nan"``: row keys and labels go through :func:`as_text`, which writes every gap as one marker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

PANDAS_MAJOR = int(pd.__version__.split(".")[0])


def positions(keys: Sequence[Any], values: np.ndarray | pd.Series) -> np.ndarray:
    """For each value, the position of the equal key in ``keys`` (-1 if none); any missing value (None, NaN, NA,
    NaT) matches the key ``None``. ``keys`` hold plain Python values with ``None`` for missing."""
    values = pd.Series(np.asarray(values, dtype=object), dtype=object)
    missing = values.isna().to_numpy()
    present = [i for i, k in enumerate(keys) if k is not None]
    lookup = np.array([*present, -1], dtype=np.int64)  # get_indexer's -1 lands on the final -1
    codes = lookup[pd.Index([keys[i] for i in present], dtype=object).get_indexer(values.to_numpy())]
    missing_key = next((i for i, k in enumerate(keys) if k is None), -1)
    codes[missing] = missing_key
    return codes


MISSING_TEXT = "\x00missing"


def as_text(data: pd.DataFrame | pd.Series, missing: str = MISSING_TEXT) -> pd.DataFrame | pd.Series:
    """Every value as text, every kind of missing value as ``missing`` (a marker no value has, by default; a
    readable label for figures), on any pandas and any dtype."""
    return data.astype(object).where(data.notna(), missing).astype(str)
