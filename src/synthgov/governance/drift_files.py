"""The drift monitor's files: ``drift.json`` (every finding) and ``drift.html`` (the same, readable)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from synthgov.governance.drift import DriftReport

logger = logging.getLogger(__name__)

SECTIONS = [
    ("rule", "Value rules (satisfaction rate)"),
    ("marginal", "Columns (distance between the distributions)"),
    ("group", "Group shares"),
    ("label_rate", "Label rates per group"),
    ("pair", "Pairs of columns (trend score drop)"),
]


def write(report: DriftReport, folder: Path, baseline: str, candidate: str) -> list[Path]:
    from synthgov.atomic import write_bytes
    from synthgov.templates import render

    folder.mkdir(parents=True, exist_ok=True)
    document = {"baseline": baseline, "candidate": candidate, **report.to_dict()}
    json_path, html_path = folder / "drift.json", folder / "drift.html"
    write_bytes(json_path, (json.dumps(document, indent=1) + "\n").encode("utf-8"), 0o644)
    html = render("drift.html.j2", report=document, baseline=baseline, candidate=candidate, sections=SECTIONS)
    write_bytes(html_path, html.encode("utf-8"), 0o644)
    logger.info("drift: wrote %s and %s", json_path, html_path)
    return [json_path, html_path]
