"""The files of ``synthgov adversarial``: ``robustness.json`` (the report), ``robustness.html`` (the same,
readable), ``adversarial.parquet`` (the successful adversarial test rows, with the row they came from),
``augmentation.parquet`` (the correctly labelled rows added to the training data) and ``edge_cases.parquet``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)


def write(result: dict[str, Any], folder: Path, source: str) -> list[Path]:
    from synthgov.atomic import write_bytes
    from synthgov.table.io import write_table
    from synthgov.templates import render

    folder.mkdir(parents=True, exist_ok=True)
    report = {"source": source, **result["report"]}
    paths = [folder / "robustness.json", folder / "robustness.html"]
    write_bytes(paths[0], (json.dumps(report, indent=1, default=str) + "\n").encode("utf-8"), 0o644)
    write_bytes(paths[1], render("adversarial.html.j2", report=report).encode("utf-8"), 0o644)
    frames = {
        "adversarial.parquet": result["adversarial"],
        "augmentation.parquet": pd.concat(result["added"], ignore_index=True) if result["added"] else None,
        "edge_cases.parquet": result["edge_cases"],
    }
    for name, frame in frames.items():
        if frame is not None:
            write_table(frame, folder / name)
            paths.append(folder / name)
    logger.info("adversarial: wrote %s", ", ".join(str(p) for p in paths))
    return paths
