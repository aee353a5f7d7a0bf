"""Writing a release folder: ``synthetic.parquet`` (always), ``synthetic.csv`` (on request), ``schema.yaml``,
the signed ``manifest.json`` and ``datasheet.md``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synthgov.errors import InputError
from synthgov.table.io import write_table
from synthgov.table.schema import Schema


@dataclass
class Release:
    folder: Path
    data: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    generator: str = ""
    seed: int | None = None
    fit_seconds: float = 0.0
    sample_seconds: float = 0.0
    manifest: dict | None = None
    model: Any = None
    rows: int | None = None  # rows released (a partitioned release's ``data`` is None: it is never whole in memory)


def write_release(
    data: pd.DataFrame,
    folder: str | Path,
    *,
    schema: Schema | None = None,
    csv: bool = False,
) -> list[Path]:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"output {folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    files = [write_table(data, folder / "synthetic.parquet")]
    if csv:
        files.append(write_table(data, folder / "synthetic.csv"))
    if schema is not None:
        files.append(schema.save(folder / "schema.yaml"))
    return files


def sign_release(
    folder: str | Path,
    data_files: list[Path],
    predicate: dict,
    keystore: object,
    reports: list[Path] | None = None,
    entries: list[dict] | None = None,
) -> list[Path]:
    """Write the signed manifest.json and the datasheet.md of a release folder (``reports``: evaluation files
    inside the folder, covered by the manifest too; ``entries``: the data files' integrity records, when made as
    they were written)."""
    from synthgov.release.manifest import DATASHEET, MANIFEST, build_and_sign

    folder = Path(folder)
    build_and_sign(
        folder,
        data_files=data_files,
        predicate=predicate,
        keystore=keystore,  # type: ignore[arg-type]
        reports=reports or [],
        entries=entries,
    )
    from synthgov.release.exports import CROISSANT_FILE, PROV_FILE

    return [folder / MANIFEST, folder / DATASHEET, folder / PROV_FILE, folder / CROISSANT_FILE]
