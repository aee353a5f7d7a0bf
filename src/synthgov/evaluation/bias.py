"""Bias: representation of sensitive groups, label rates per group and their amplification, and the fairness of
the train-on-synthetic model on real test rows (fairlearn's demographic-parity and equalized-odds differences)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.evaluation.prepare import Tables, as_numbers
from synthgov.evaluation.utility import Models
from synthgov.table.plain import as_text

MIN_GROUP_ROWS = 30  # groups smaller than this in the real table do not enter rate gaps


def groups_of(
    series: pd.Series, continuous: bool, edges: np.ndarray | None = None
) -> tuple[pd.Series, np.ndarray | None]:
    """Group labels: categories as they are (missing as a group), numbers in real quartiles."""
    if continuous:
        values = as_numbers(series)
        if edges is None:
            edges = np.unique(np.nanquantile(values, [0, 0.25, 0.5, 0.75, 1]))
        labels = pd.cut(values, edges, include_lowest=True).astype(str)
        return labels.where(values.notna(), "(missing)"), edges
    return as_text(series, "(missing)"), None


def bias(tables: Tables, sensitive: list[str], target: str | None, models: Models | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in sensitive:
        if column not in tables.real.columns:
            raise InputError(f"sensitive column '{column}' is not in the table")
        continuous = tables.is_continuous(column)
        real_groups, edges = groups_of(tables.real[column], continuous)
        syn_groups, _ = groups_of(tables.synthetic[column], continuous, edges)
        share_r = real_groups.value_counts(normalize=True)
        share_s = syn_groups.value_counts(normalize=True).reindex(share_r.index, fill_value=0.0)
        entry: dict[str, Any] = {
            "representation_gap": float((share_s - share_r).abs().max()),
            "representation": {
                g: {
                    "real": float(share_r[g]),
                    "synthetic": float(share_s[g]),
                    "ratio": float(share_s[g] / share_r[g]) if share_r[g] > 0 else None,
                }
                for g in share_r.index
            },
        }
        if target is not None and models is not None and models.task == "classification":
            entry.update(_label_rates(tables, target, models.positive, real_groups, syn_groups))
            entry.update(_model_fairness(models, column, continuous, edges))
        out[column] = entry
    return out


def _label_rates(
    tables: Tables, target: str, positive: Any, real_groups: pd.Series, syn_groups: pd.Series
) -> dict[str, Any]:
    y_r = tables.real[target] == positive
    y_s = tables.synthetic[target] == positive
    counts = real_groups.value_counts()
    big = counts[counts >= MIN_GROUP_ROWS].index
    rate_r = y_r.groupby(real_groups).mean().reindex(big)
    rate_s = y_s.groupby(syn_groups).mean().reindex(big)
    dpd_r = float(rate_r.max() - rate_r.min()) if len(big) > 1 else 0.0
    dpd_s = float(rate_s.max() - rate_s.min()) if len(big) > 1 and rate_s.notna().all() else float("nan")
    return {
        "label_rate": {
            g: {"real": float(rate_r[g]), "synthetic": None if pd.isna(rate_s[g]) else float(rate_s[g])} for g in big
        },
        "label_rate_gap_real": dpd_r,
        "label_rate_gap_synthetic": dpd_s,
        "bias_amplification": dpd_s - dpd_r,  # > 0: the synthetic table widens the gap between groups
    }


def _model_fairness(models: Models, column: str, continuous: bool, edges: np.ndarray | None) -> dict[str, Any]:
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    groups, _ = groups_of(models.test[column], continuous, edges)
    out = {}
    for label, model in (("tstr", models.tstr), ("trtr", models.trtr)):
        predicted = model.predict_proba(models.x_test)[:, 1] >= 0.5
        out[f"demographic_parity_difference_{label}"] = float(
            demographic_parity_difference(models.y_test, predicted, sensitive_features=groups.to_numpy())
        )
        out[f"equalized_odds_difference_{label}"] = float(
            equalized_odds_difference(models.y_test, predicted, sensitive_features=groups.to_numpy())
        )
    out["demographic_parity_change"] = (
        out["demographic_parity_difference_tstr"] - out["demographic_parity_difference_trtr"]
    )
    out["equalized_odds_change"] = out["equalized_odds_difference_tstr"] - out["equalized_odds_difference_trtr"]
    return out
