"""The issuer's ledger of its releases: ``$SYNTHGOV_HOME/releases/<release id>.json`` (release id, manifest
digest, generation depth, data-file digests) and ``<release id>.npz`` (a sketch of the release's row hashes).

The synthetic-data guard (:mod:`synthgov.governance.guard`) reads it to name the release a training table came
from, its generation depth, and the share of the table's rows that are that release's rows, even for a
release without a watermark (``--no-watermark``, or no column able to carry one).

Row hashes are taken over the columns in name order, numbers as float64 and everything else as text, so a
CSV <-> Parquet round trip, an int/float change or shuffled rows and columns keep them. The sketch keeps every
row of releases up to 2^15 rows, else the rows whose hash falls below a fraction 2^-j of the hash space (the
same rows are selected in any table, so the matched share stays unbiased).
"""

from __future__ import annotations

import copy
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgov.config import home, private_folder, write_private

logger = logging.getLogger(__name__)

SKETCH_ROWS = 1 << 15
DISTINCTIVE = 0.05  # a release whose rows copy more than 5% of training rows cannot be told apart row by row


def folder() -> Path:
    return home() / "releases"


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """64-bit hash of each row, independent of column order, row order and numeric dtype."""
    columns = sorted(frame.columns, key=str)
    normalised = {}
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            normalised[str(column)] = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
        elif pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(series.dtype, pd.PeriodDtype):
            normalised[str(column)] = _text(series)  # formatted as a whole column (midnight-only dates drop the time)
        else:  # each distinct value made text once, then placed by its code: the same text as cell by cell, faster
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            texts = np.append(_text(pd.Series(uniques, dtype=series.dtype)), "\x00NA").astype(object)
            normalised[str(column)] = texts[codes]
    return pd.util.hash_pandas_object(pd.DataFrame(normalised), index=False).to_numpy(dtype=np.uint64)


def _text(series: pd.Series) -> np.ndarray:
    return series.astype("string").fillna("\x00NA").to_numpy(dtype=object)


def sketch_shift(rows: int) -> int:
    """Keep rows whose top ``shift`` hash bits are zero: a fraction 2^-shift, at most ~SKETCH_ROWS rows."""
    shift = 0
    while rows / (1 << shift) > SKETCH_ROWS:
        shift += 1
    return shift


def selected(hashes: np.ndarray, shift: int) -> np.ndarray:
    return hashes if shift == 0 else hashes[(hashes >> np.uint64(64 - shift)) == 0]


class RowSketch:
    """The ledger's view of a release's rows, added chunk by chunk (a partitioned release is never whole in
    memory): the sketch of its generated rows' hashes and how many of them are training rows. ``rows``: the
    release's total row count (the sketch's sampling rate is fixed by it before the first chunk)."""

    def __init__(self, rows: int, training: pd.DataFrame | None, columns: list[str]) -> None:
        self.shift = sketch_shift(rows)
        self.kept: list[np.ndarray] = []
        self.generated = 0
        self.copied = 0
        self.comparable = training is not None and set(training.columns) == set(columns)
        self.training = np.unique(row_hashes(training)) if self.comparable else None

    def add(self, generated: pd.DataFrame) -> None:
        hashes = row_hashes(generated)
        self.generated += len(hashes)
        if self.training is not None:
            self.copied += int(np.isin(hashes, self.training).sum())
        self.kept.append(selected(hashes, self.shift))

    def empty(self) -> RowSketch:
        """A sketch of no rows yet, with this one's sampling rate and training rows (for one chunk's rows)."""
        other = copy.copy(self)
        other.kept, other.generated, other.copied = [], 0, 0
        return other

    def merge(self, other: RowSketch) -> None:
        """Add another chunk's sketch (made with :meth:`empty`) into this one."""
        self.kept += other.kept
        self.generated += other.generated
        self.copied += other.copied

    def copies_of_training(self) -> float | None:
        return self.copied / max(self.generated, 1) if self.comparable else None


def record(
    release_id: str,
    manifest_path: Path,
    data: pd.DataFrame | RowSketch,
    data_files: list[Path],
    generation_depth: int,
    training: pd.DataFrame | None,
    real_rows: np.ndarray | None = None,
    rows: int | None = None,
    columns: list[str] | None = None,
) -> Path:
    """Write the ledger entry of a release just signed. ``real_rows``: a hybrid release's mask of its real rows,
    which stay out of the row sketch (they are the source's rows, not generated ones: the source itself must not
    match the release) and make the entry's ``generated_share``. ``data``: the released rows, or the
    :class:`RowSketch` of a release added chunk by chunk (then ``rows`` and ``columns`` say what it holds)."""
    import hashlib

    from synthgov.release.integrity import file_sha256

    target = private_folder(folder())
    if isinstance(data, RowSketch):
        sketch = data
    else:
        generated = data if real_rows is None else data.loc[~np.asarray(real_rows, dtype=bool)]
        sketch = RowSketch(len(generated), training, list(data.columns))
        sketch.add(generated)
        rows, columns = len(data), list(data.columns)
    assert rows is not None and columns is not None
    copies = sketch.copies_of_training()
    entry = {
        "release_id": release_id,
        "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
        "generation_depth": generation_depth,
        "rows": rows,
        "columns": sorted(map(str, columns)),
        "data_sha256": [file_sha256(p) for p in data_files],
        "sketch_shift": sketch.shift,
        "copies_of_training": copies,
        "distinctive_rows": copies is None or copies <= DISTINCTIVE,
        "generated_share": None if real_rows is None else sketch.generated / max(rows, 1),
    }
    path = target / f"{release_id}.json"
    write_private(path, (json.dumps(entry, indent=1) + "\n").encode())
    arrays = io.BytesIO()
    kept = np.concatenate(sketch.kept) if sketch.kept else np.zeros(0, dtype=np.uint64)
    np.savez_compressed(arrays, hashes=np.unique(kept))
    write_private(target / f"{release_id}.npz", arrays.getvalue())
    return path


def entries() -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder().glob("*.json")) if folder().is_dir() else []:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("release ledger: skipped the damaged entry %s (%s)", path, exc)
            continue  # a damaged entry is skipped, not fatal
        if not isinstance(entry, dict) or not isinstance(entry.get("release_id"), str):
            logger.warning("release ledger: skipped %s (not a ledger entry)", path)
            continue
        out.append(entry)
    return out


def sketch(release_id: str) -> np.ndarray | None:
    path = folder() / f"{release_id}.npz"
    try:
        with np.load(path, allow_pickle=False) as archive:
            return archive["hashes"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("release ledger: skipped the damaged row sketch %s (%s)", path, exc)
        return None
