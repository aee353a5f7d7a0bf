"""Privacy risk by distances: exact copies, distance to closest record (DCR) share against a real holdout,
nearest-neighbour distance ratio, distances to *all* training rows against the holdout's, and membership-inference
attacks (distance- and density-based) that search every synthetic row.

Samples are taken for the queries only (their sizes are reported): a distance is always to the nearest row of the
whole table searched, so a copied row whose original was not sampled cannot look fresh."""

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
DENSITY_K = 5
CLOSE_QUERY_ROWS = 2_000  # synthetic and holdout rows whose distance to every training row is measured
CLOSE_PERCENTILE = 0.05


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


def distances_to_training(tables: Tables, encoding: Encoding, rng: np.random.Generator) -> dict[str, Any]:
    """Each queried row's distance to its nearest row among *all* training rows, for synthetic rows and for real
    holdout rows alike. ``close_to_training_share``: the share of synthetic rows whose distance ranks in the
    bottom 5% of the holdout rows' distances (mid-ranks for ties), so about 0.05 when the synthetic rows sit no
    closer to the training rows than unseen real rows do, and 1 for copies."""
    if tables.holdout is None or len(tables.holdout) < 20:
        return {"close_to_training_share": None}
    index = MixedNeighbors(encoding, tables.real)
    synthetic = sample_rows(tables.synthetic, CLOSE_QUERY_ROWS, rng)
    holdout = sample_rows(tables.holdout, CLOSE_QUERY_ROWS, rng)
    d_syn = index.kneighbors(synthetic, k=1)[0][:, 0]
    d_hold = np.sort(index.kneighbors(holdout, k=1)[0][:, 0])
    below = np.searchsorted(d_hold, d_syn, side="left")
    ties = np.searchsorted(d_hold, d_syn, side="right") - below
    rank = (below + 0.5 * ties) / d_hold.size  # each synthetic row's percentile among the holdout distances
    return {
        "close_to_training_share": float((rank < CLOSE_PERCENTILE).mean()),
        "training_distance_median": float(np.median(d_syn)),
        "holdout_training_distance_median": float(np.median(d_hold)),
        "close_rows": {"synthetic": len(synthetic), "holdout": len(holdout), "training": len(tables.real)},
    }


def membership_inference(tables: Tables, encoding: Encoding, rng: np.random.Generator) -> dict[str, Any]:
    """Members (training rows) against non-members (holdout rows): distance attack scores -DCR to the whole
    synthetic table; density attack (DOMIAS-style) scores log d_k(reference) - log d_k(synthetic), with k=5 and a
    disjoint holdout part as the reference. Reported as ROC AUC and TPR at 1% and 10% FPR."""
    from sklearn.metrics import roc_auc_score, roc_curve

    if tables.holdout is None or len(tables.holdout) < 20:
        return {"mia_auc": None, "note": "membership inference needs a holdout of real rows not used for training"}
    m = min(MIA_ROWS, len(tables.holdout) // 2, len(tables.real))
    hold = tables.holdout.iloc[rng.permutation(len(tables.holdout))]
    non_members, reference = hold.iloc[:m], hold.iloc[m : m + max(m, 2 * DENSITY_K)]
    members = sample_rows(tables.real, m, rng)
    queries = pd.concat([members, non_members], ignore_index=True)
    labels = np.r_[np.ones(m), np.zeros(m)]
    d_syn, _ = MixedNeighbors(encoding, tables.synthetic).kneighbors(queries, k=DENSITY_K)  # every synthetic row
    d_ref, _ = MixedNeighbors(encoding, reference).kneighbors(queries, k=DENSITY_K)
    scores = {
        "distance": -d_syn[:, 0],
        "density": np.log(d_ref[:, -1] + 1e-9) - np.log(d_syn[:, -1] + 1e-9),
    }
    out: dict[str, Any] = {
        "mia_rows": {"members": m, "non_members": m, "reference": len(reference), "synthetic": len(tables.synthetic)}
    }
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
