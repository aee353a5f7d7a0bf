"""The shipped demo data (UCI Adult, CC BY 4.0; see ``data/ATTRIBUTION.md``)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from synthgov.errors import InputError

DATASETS = {"adult": "Adult (Census Income), UCI, CC BY 4.0: 15 columns, target 'income', sensitive 'sex', 'race'"}


def load_demo(name: str = "adult", split: str = "train") -> pd.DataFrame:
    """The demo table ``name`` (``"adult"``), ``split`` ``"train"`` (32,561 rows) or ``"test"`` (16,281 rows)."""
    if name not in DATASETS:
        raise InputError(f"unknown demo dataset '{name}'; available: {', '.join(DATASETS)}")
    if split not in ("train", "test"):
        raise InputError("split must be 'train' or 'test'")
    with resources.as_file(resources.files("synthgov") / "data" / f"{name}_{split}.parquet") as path:
        return pd.read_parquet(path)
