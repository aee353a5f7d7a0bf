"""Privacy risk by distances: exact copies, distance to closest record (DCR) share against a real holdout,
nearest-neighbour distance ratio, and membership-inference attacks (distance- and density-based)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthgov.evaluation.distances import MixedNeighbors
from synthgov.evaluation.prepare import Encoding, Tables, sample_rows
from synthgov.table.plain import as_text

DCR_SYNTHETIC_ROWS = 5_000
DCR_REFERENCE_ROWS = 10_000
MIA_ROWS = 1_000  # members and non-members each
MIA_SYNTHETIC_ROWS = 20_000
DENSITY_K = 5


def _row_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    return pd.util.hash_pandas_object(as_text(frame[columns]), index=False)


def exact_copies(tables: Tables) -> dict[str, Any]:
    cols = tables.columns
    if not cols:  # every column is generated fresh (ids, personal data, text): no row content to compare
        out: dict[str, Any] = {"exact_copies": 0, "exact_copy_rate": 0.0}
        if tables.holdout is not None:
            out["holdout_copy_rate"] = 0.0
        return out
    real_keys = set(_row_keys(tables.real, cols))
    copies = int(_row_keys(tables.synthetic, cols).isin(real_keys).sum())
    out: dict[str, Any] = {"exact_copies": copies, "exact_copy_rate": copies / len(tables.synthetic)}
    if tables.holdout is not None:
        out["holdout_copy_rate"] = float(_row_keys(tables.holdout, cols).isin(real_keys).mean())
    return out


def distance_metrics(tables: Tables, encoding: Encoding, rng: np.random.Generator) -> dict[str, Any]:
    """DCR share (ties count half; 0.5 is ideal, above means the synthetic rows sit closer to the training rows
    than to unseen real rows) and the median nearest-neighbour distance ratio."""
    synthetic = sample_rows(tables.synthetic, DCR_SYNTHETIC_ROWS, rng)
    out: dict[str, Any] = {}
    if tables.holdout is None:
        train = sample_rows(tables.real, DCR_REFERENCE_ROWS, rng)
        d_train, _ = MixedNeighbors(encoding, train).kneighbors(synthetic, k=2)
        out.update(dcr_share=None, dcr_train=d_train[:, 0])
    else:
        size = min(len(tables.real), len(tables.holdout), DCR_REFERENCE_ROWS)
        train = sample_rows(tables.real, size, rng)
        holdout = sample_rows(tables.holdout, size, rng)
        d_train, _ = MixedNeighbors(encoding, train).kneighbors(synthetic, k=2)
        d_hold, _ = MixedNeighbors(encoding, holdout).kneighbors(synthetic, k=1)
        closer = (d_train[:, 0] < d_hold[:, 0]).mean() + 0.5 * (d_train[:, 0] == d_hold[:, 0]).mean()
        out.update(dcr_share=float(closer), dcr_train=d_train[:, 0], dcr_holdout=d_hold[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d_train[:, 1] > 0, d_train[:, 0] / d_train[:, 1], 1.0)
    out["nndr_median"] = float(np.median(ratio))
    out["dcr_median"] = float(np.median(d_train[:, 0]))
    out["dcr_rows"] = {"synthetic": len(synthetic), "reference": len(train)}
    return out


def membership_inference(tables: Tables, encoding: Encoding, rng: np.random.Generator) -> dict[str, Any]:
    """Members (training rows) against non-members (holdout rows): distance attack scores -DCR to the synthetic
    table; density attack (DOMIAS-style) scores log d_k(reference) - log d_k(synthetic), with k=5 and a disjoint
    holdout part as the reference. Reported as ROC AUC and TPR at 1% and 10% FPR."""
    from sklearn.metrics import roc_auc_score, roc_curve

    if tables.holdout is None or len(tables.holdout) < 20:
        return {"mia_auc": None, "note": "membership inference needs a holdout of real rows not used for training"}
    m = min(MIA_ROWS, len(tables.holdout) // 2, len(tables.real))
    hold = tables.holdout.iloc[rng.permutation(len(tables.holdout))]
    non_members, reference = hold.iloc[:m], hold.iloc[m : m + max(m, 2 * DENSITY_K)]
    members = sample_rows(tables.real, m, rng)
    queries = pd.concat([members, non_members], ignore_index=True)
    labels = np.r_[np.ones(m), np.zeros(m)]
    synthetic = sample_rows(tables.synthetic, MIA_SYNTHETIC_ROWS, rng)
    d_syn, _ = MixedNeighbors(encoding, synthetic).kneighbors(queries, k=DENSITY_K)
    d_ref, _ = MixedNeighbors(encoding, reference).kneighbors(queries, k=DENSITY_K)
    scores = {
        "distance": -d_syn[:, 0],
        "density": np.log(d_ref[:, -1] + 1e-9) - np.log(d_syn[:, -1] + 1e-9),
    }
    out: dict[str, Any] = {"mia_rows": {"members": m, "non_members": m, "reference": len(reference)}}
    for name, score in scores.items():
        auc = float(roc_auc_score(labels, score))
        fpr, tpr, _ = roc_curve(labels, score)
        out[f"mia_auc_{name}"] = auc
        out[f"mia_tpr_at_fpr_1_{name}"] = float(np.interp(0.01, fpr, tpr))
        out[f"mia_tpr_at_fpr_10_{name}"] = float(np.interp(0.10, fpr, tpr))
    best = max(scores, key=lambda k: out[f"mia_auc_{k}"])
    out["mia_auc"] = out[f"mia_auc_{best}"]
    out["mia_attack"] = best
    out["mia_tpr_at_fpr_1"] = out[f"mia_tpr_at_fpr_1_{best}"]
    out["mia_tpr_at_fpr_10"] = out[f"mia_tpr_at_fpr_10_{best}"]
    return out
