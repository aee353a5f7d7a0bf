"""verify never cries wolf (issue 26, case 1): untouched releases of varied small tables (10-2,000 rows, with
and without columns that can carry the mark, conditional and not) all verify, and a one-cell edit of any of them
is never VALID: the 50 of each that the issue asks for (about 30 s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from synthgov.pipeline import generate
from synthgov.release.verify import verify_release

SIZES = (10, 30, 100, 300, 1000, 2000)
KINDS = ("no carrier", "numeric", "mixed")


def _table(kind: str, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame({"a": rng.integers(0, 10, rows), "b": rng.choice(["x", "y", "z"], rows)})
    if kind == "no carrier":
        frame["empty"] = np.nan
    if kind in ("numeric", "mixed"):
        frame["amount"] = rng.lognormal(3, 1, rows).round(2)
    if kind == "mixed":
        frame["score"] = rng.normal(0, 1, rows)
        frame["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, rows), unit="D")
    return frame


def _cases(count: int) -> list[tuple[str, int, bool, int]]:
    rng = np.random.default_rng(2026)
    return [(KINDS[i % 3], int(rng.choice(SIZES)), bool(i % 2), i) for i in range(count)]


def _edit_one_cell(path: Path, rng: np.random.Generator) -> None:
    frame = pd.read_parquet(path)
    row, column = int(rng.integers(len(frame))), frame.columns[int(rng.integers(frame.shape[1]))]
    value = frame.at[row, column]
    if pd.api.types.is_numeric_dtype(frame[column]) and not pd.isna(value):
        frame.loc[row, column] = value + 1
    elif pd.api.types.is_datetime64_any_dtype(frame[column]) and not pd.isna(value):
        frame.loc[row, column] = value + pd.Timedelta(days=1)
    else:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = "edited" if value != "edited" else "other"
    frame.to_parquet(path, index=False)


def _check(cases: list[tuple[str, int, bool, int]], tmp_path: Path) -> None:
    failures, missed = [], []
    for kind, rows, conditional, i in cases:
        rng = np.random.default_rng(i)
        table = _table(kind, max(rows, 20), rng)
        conditions = {"b": "x"} if conditional else None
        out = tmp_path / f"r{i}"
        generate(table, generator="copula", seed=i, rows=rows, conditions=conditions, out=out)
        result = verify_release(out)
        if not result.valid:
            failures.append((kind, rows, conditional, result.problems))
        _edit_one_cell(out / "synthetic.parquet", rng)
        edited = verify_release(out)
        if edited.valid:
            missed.append((kind, rows, conditional))
    assert failures == [], failures  # an untouched release is never called tampered
    assert missed == [], missed  # an edited one is never VALID


def test_fifty_small_releases_verify_and_their_edits_do_not(tmp_path: Path) -> None:
    _check(_cases(50), tmp_path)
