"""The figures a fair release states before (the training table) and after (the rows as released): each group's
share and rate of the positive label, the demographic-parity difference (max - min rate) and the disparate-impact
ratio (min / max rate), per sensitive attribute (fairlearn's definitions, applied to the label column)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from synthgov.fairness.groups import GroupSpec

logger = logging.getLogger(__name__)


def group_figures(frame: pd.DataFrame, specs: list[GroupSpec], target: str | None, positive: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in specs:
        groups = spec.assign(frame)
        shares = groups.value_counts(normalize=True)
        entry: dict[str, Any] = {
            "groups": {label: {"share": round(float(shares.get(label, 0.0)), 6)} for label in spec.labels}
        }
        if target is not None:
            hit = frame[target].astype(object) == positive
            rates = hit.groupby(groups).mean()
            present = [label for label in spec.labels if label in rates.index]
            for label in present:
                entry["groups"][label]["positive_rate"] = round(float(rates[label]), 6)
            if len(present) > 1:
                top, bottom = float(rates[present].max()), float(rates[present].min())
                entry["demographic_parity_difference"] = round(top - bottom, 6)
                entry["disparate_impact_ratio"] = round(bottom / top, 6) if top > 0 else None
        out[spec.text] = entry
    return out
