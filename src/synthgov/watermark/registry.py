"""The issuer's record of the plans it embedded: ``$SYNTHGOV_HOME/watermarks/<plan id>.json`` (owner-only
files). Detection reads them back for the key it holds: blind with respect to the data (no original table
is needed), but it needs the issuer's key and plans, as any keyed watermark does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from synthgov.config import home, write_private
from synthgov.errors import InputError
from synthgov.watermark.plan import WatermarkPlan

logger = logging.getLogger(__name__)


def folder(root: Path | None = None) -> Path:
    """The plans of the issuer whose home is ``root`` (default: ``$SYNTHGOV_HOME``)."""
    return (root if root is not None else home()) / "watermarks"


def save(plan: WatermarkPlan, root: Path | None = None) -> Path:
    return write_private(folder(root) / f"{plan.id}.json", json.dumps(plan.to_dict(), indent=1).encode("utf-8"))


def plans_for(key_id: str, root: Path | None = None) -> list[WatermarkPlan]:
    """The plans of ``key_id`` recorded in the home ``root`` (default: ``$SYNTHGOV_HOME``)."""
    plans = []
    for path in sorted(folder(root).glob("*.json")) if folder(root).is_dir() else []:
        try:
            plan = WatermarkPlan.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError, InputError) as exc:
            logger.warning("watermark plans: skipped the damaged record %s (%s)", path, exc)
            continue  # a damaged record is skipped, not fatal
        if plan.key_id == key_id:
            plans.append(plan)
    return plans
