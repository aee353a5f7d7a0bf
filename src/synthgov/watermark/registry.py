"""The issuer's record of the plans it embedded: ``$SYNTHGOV_HOME/watermarks/<plan id>.json`` (owner-only
files). Detection reads them back for the key it holds: blind with respect to the data (no original table
is needed), but it needs the issuer's key and plans, as any keyed watermark does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from synthgov.config import home
from synthgov.errors import InputError
from synthgov.watermark.plan import WatermarkPlan


def folder() -> Path:
    return home() / "watermarks"


def save(plan: WatermarkPlan) -> Path:
    target = folder()
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = target / f"{plan.id}.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(plan.to_dict(), handle, indent=1)
    return path


def plans_for(key_id: str) -> list[WatermarkPlan]:
    plans = []
    for path in sorted(folder().glob("*.json")) if folder().is_dir() else []:
        try:
            plan = WatermarkPlan.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, InputError):
            continue  # a damaged record is skipped, not fatal
        if plan.key_id == key_id:
            plans.append(plan)
    return plans
