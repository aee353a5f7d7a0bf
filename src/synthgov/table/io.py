"""Reading and writing tables: CSV, Parquet, pandas DataFrames and pyarrow Tables."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgov.atomic import replacing
from synthgov.errors import InputError

logger = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")

TableLike = Any  # pandas.DataFrame | pyarrow.Table | str | os.PathLike


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in CSV_SUFFIXES + PARQUET_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def read_table(source: TableLike) -> pd.DataFrame:
    """Return ``source`` as a pandas DataFrame.

    ``source`` may be a DataFrame (returned as is), a pyarrow Table, or the path of a CSV (optionally
    compressed) or Parquet file. Raises :class:`InputError` with one clear line for a missing, unreadable or
    empty table.
    """
    if isinstance(source, pd.DataFrame):
        frame = source
    elif type(source).__module__.startswith("pyarrow") and hasattr(source, "to_pandas"):
        frame = source.to_pandas()
    elif isinstance(source, (str, Path)):
        frame = _read_path(Path(source))
    else:
        raise InputError(
            f"cannot read a table from {type(source).__name__}; give a DataFrame, a pyarrow Table or a path"
        )
    if frame.shape[1] == 0:
        raise InputError("the table has no columns")
    if len(frame) == 0:
        raise InputError("the table is empty (no rows)")
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    dupes = frame.columns[frame.columns.duplicated()].tolist()
    if dupes:
        raise InputError(f"the table has duplicate column names: {', '.join(dupes)}")
    _refuse_nested(frame)
    return frame


_NESTED = (list, tuple, dict, set, bytes, bytearray, memoryview, np.ndarray)


def _refuse_nested(frame: pd.DataFrame) -> None:
    """Lists, structs, maps and binary blobs (Parquet's nested and binary types) are not table values synthgov
    models: one clear error naming the column, not a traceback deep in a generator."""
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        kind = pd.api.types.infer_dtype(column, skipna=True)
        if kind in ("string", "empty", "floating", "integer", "boolean", "datetime", "date", "decimal"):
            continue
        nested = column.map(lambda v: isinstance(v, _NESTED))
        if nested.any():
            example = type(column[nested].iloc[0]).__name__
            raise InputError(
                f"column '{name}' holds {example} values (nested or binary data); synthgov models numbers, text, "
                "categories, booleans and datetimes: flatten or drop the column"
            )


def _read_path(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if path.is_dir():
        return _read_parquet_folder(path)
    suffix = _suffix(path)
    if suffix in PARQUET_SUFFIXES:
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types for a bad file
            raise InputError(f"cannot read Parquet file {path}: {_first_line(exc)}") from None
    if suffix in CSV_SUFFIXES:
        sep = "\t" if suffix == ".tsv" else ","
        try:
            frame = pd.read_csv(path, sep=sep, low_memory=False, skipinitialspace=True)
        except pd.errors.EmptyDataError:
            raise InputError(f"the CSV file {path} is empty") from None
        except UnicodeDecodeError:
            raise InputError(f"cannot read CSV file {path}: it is not UTF-8 text") from None
        except (pd.errors.ParserError, ValueError, OSError) as exc:
            raise InputError(f"cannot read CSV file {path}: {_first_line(exc)}") from None
        _check_header(path, sep, frame)
        return frame
    raise InputError(f"unsupported file type '{path.suffix}' for {path}; use .csv or .parquet")


def _read_parquet_folder(path: Path) -> pd.DataFrame:
    """A partitioned Parquet dataset (``synthgov sample ... --out DIR`` writes ``part-*.parquet``, as Spark and
    Dask do): its ``part-*`` Parquet files in name order as one table, in memory. Other files (an index, temporary
    files) are not read."""
    parts = sorted(p for p in path.iterdir() if _suffix(p) in PARQUET_SUFFIXES and p.name.startswith("part-"))
    if not parts:
        raise InputError(f"expected a file but {path} is a folder without Parquet files (part-*.parquet)")
    frames = []
    for part in parts:
        try:
            frames.append(pd.read_parquet(part))
        except Exception as exc:  # pyarrow raises several unrelated types for a bad file
            raise InputError(f"cannot read Parquet file {part}: {_first_line(exc)}") from None
    columns = list(frames[0].columns)
    for part, frame in zip(parts, frames, strict=True):
        if list(frame.columns) != columns:
            raise InputError(f"the partitions of {path} differ: {part.name} has other columns than {parts[0].name}")
    logger.info("read %d partition(s) of %s", len(parts), path)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def release_data(path: Path) -> Path:
    """The data of ``path``: a release folder's ``synthetic.parquet`` or its partitions' folder ``synthetic/``,
    else ``path`` itself (a file, or a folder of ``part-*.parquet``)."""
    if path.is_dir():
        for name in ("synthetic.parquet", "synthetic"):
            if (path / name).exists():
                return path / name
    return path


def table_files(source: Path) -> list[Path]:
    """The files of the table at ``source``: a partitioned dataset's ``part-*.parquet`` in name order, else
    ``source`` itself."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"file not found: {source}")
    if not source.is_dir():
        return [source]
    parts = sorted(p for p in source.iterdir() if _suffix(p) in PARQUET_SUFFIXES and p.name.startswith("part-"))
    if not parts:
        raise InputError(f"expected a file but {source} is a folder without Parquet files (part-*.parquet)")
    return parts


def read_chunks(source: Path, chunk_rows: int = 250_000) -> Iterator[pd.DataFrame]:
    """The table at ``source`` in parts, one in memory at a time: each partition of a partitioned dataset (checked
    to have the first one's columns), a Parquet file's record batches of up to ``chunk_rows`` rows; a CSV file
    is read whole (its types are inferred over the whole file). For tests that sum over a table's rows."""
    source = Path(source)
    if source.is_dir():
        parts = table_files(source)
        columns = None
        for part in parts:
            frame = read_table(part)
            if columns is None:
                columns = list(frame.columns)
            elif list(frame.columns) != columns:
                raise InputError(
                    f"the partitions of {source} differ: {part.name} has other columns than {parts[0].name}"
                )
            yield frame
        return
    if not source.exists():
        raise InputError(f"file not found: {source}")
    if _suffix(source) not in PARQUET_SUFFIXES:
        yield read_table(source)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(source)
        if handle.metadata.num_rows == 0:
            yield read_table(source)  # the one clear error of an empty table (or its zero rows, if it has columns)
            return
        batches = handle.iter_batches(batch_size=chunk_rows)
        for batch in batches:  # with the file's pandas metadata, so each part has the whole file's dtypes
            # each part checked as read_table checks a whole table (nested or binary columns: one clear error)
            yield read_table(pa.Table.from_batches([batch], schema=handle.schema_arrow).to_pandas())
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file (as in _read_path)
        raise InputError(f"cannot read Parquet file {source}: {_first_line(exc)}") from None


def _check_header(path: Path, sep: str, frame: pd.DataFrame) -> None:
    """pandas renames a repeated name (``a``, ``a.1``) and strips the spaces before a name: refuse the first (two
    columns cannot share a name in a release), warn of the second (the names in the release differ)."""
    raw = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0].tolist()
    if len(raw) != frame.shape[1]:
        return  # an index column or a ragged header: pandas' own reading stands
    read_as = [name.lstrip(" ") for name in raw]  # what skipinitialspace makes of each name
    repeated = sorted({name for name in read_as if read_as.count(name) > 1})
    if repeated:
        raise InputError(f"the CSV header of {path} repeats column name(s): {', '.join(map(repr, repeated))}")
    changed = [(old, new) for old, new in zip(raw, frame.columns, strict=True) if old != str(new)]
    for old, new in changed[:5]:
        logger.warning("column %r of %s is read as %r (spaces before the name are dropped)", old, path, new)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as Parquet or CSV, chosen by the file's suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = _suffix(path)
    if suffix not in PARQUET_SUFFIXES and suffix not in CSV_SUFFIXES:
        raise InputError(f"unsupported output type '{path.suffix}' for {path}; use .csv or .parquet")
    with replacing(path) as temporary:  # written beside and renamed over: never a half-written table
        if suffix in PARQUET_SUFFIXES:
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False, sep="\t" if suffix == ".tsv" else ",")
    return path
