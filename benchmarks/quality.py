"""The quality judge of the benchmarks: SDMetrics' QualityReport and train-on-synthetic/test-on-real AUC.

Kept outside the package: SDMetrics is a benchmark/test-only dependency, and needs pandas < 3, so where it does not
import it runs in its own venv (``sdmetrics_judge.py``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from synthgov.table.schema import Schema

SDTYPES = {
    "numeric": "numerical",
    "categorical": "categorical",
    "boolean": "boolean",
    "datetime": "datetime",
    "id": "id",
    "text": "id",
    "pii": "pii",
}


def sdmetrics_metadata(schema: Schema) -> dict[str, Any]:
    columns = {}
    for col in schema.columns:
        sdtype = SDTYPES[col.kind]
        entry: dict[str, Any] = {"sdtype": sdtype}
        if sdtype == "pii":
            entry = {"sdtype": "categorical"}
        columns[col.name] = entry
    return {"columns": columns}


def quality_report(real: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> dict[str, float]:
    """SDMetrics' scores: in this process where SDMetrics imports (a pandas 2 environment), else in its own venv
    (``sdmetrics_judge.py``), since SDMetrics needs pandas < 3."""
    try:
        from sdmetrics.reports.single_table import QualityReport
    except ImportError:
        from sdmetrics_judge import quality_report_isolated

        return quality_report_isolated(real, synthetic, sdmetrics_metadata(schema))

    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(real, synthetic, sdmetrics_metadata(schema), verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    return {
        "shapes": float(props["Column Shapes"]),
        "trends": float(props["Column Pair Trends"]),
        "overall": float(report.get_score()),
    }


def tstr_auc(train: pd.DataFrame, test: pd.DataFrame, target: str, positive: Any) -> float:
    """ROC AUC on ``test`` of gradient boosting trained on ``train`` (categoricals native)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    features = [c for c in train.columns if c != target]
    x_train, x_test = _encode(train[features], test[features])
    y_train = (train[target] == positive).to_numpy()
    y_test = (test[target] == positive).to_numpy()
    if y_train.all() or not y_train.any():
        return 0.5
    model = HistGradientBoostingClassifier(random_state=0, categorical_features="from_dtype")
    model.fit(x_train, y_train)
    return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


def _encode(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    a, b = train.copy(), test.copy()
    for col in a.columns:
        if a[col].dtype == object or str(a[col].dtype) in ("category", "string", "str", "bool", "boolean"):
            cats = pd.Index(pd.concat([a[col], b[col]]).dropna().astype(str).unique())
            cats = cats[:255] if len(cats) > 255 else cats
            a[col] = pd.Categorical(a[col].astype(str).where(a[col].notna()), categories=cats)
            b[col] = pd.Categorical(b[col].astype(str).where(b[col].notna()), categories=cats)
        elif np.issubdtype(a[col].dtype, np.datetime64):
            a[col] = a[col].astype("int64")
            b[col] = b[col].astype("int64")
        else:
            a[col] = pd.to_numeric(a[col], errors="coerce").astype(float)
            b[col] = pd.to_numeric(b[col], errors="coerce").astype(float)
    return a, b


def detection_and_dcr(real: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, float]:
    """synthgov's detection AUC (grouped-CV gradient boosting, 10,000 rows a side) and DCR share (5,000 synthetic
    rows against equal-sized train and holdout samples), as in the evaluation report."""
    from synthgov.evaluation.detection import detection_auc
    from synthgov.evaluation.prepare import Encoding, load_tables
    from synthgov.evaluation.privacy import distance_metrics

    tables = load_tables(real, synthetic, holdout, None)
    encoding = Encoding.fit(tables)
    rng = np.random.default_rng(0)
    return {
        "detection_auc": detection_auc(tables, encoding, rng)["detection_auc"],
        "dcr_share": distance_metrics(tables, encoding, rng)["dcr_share"],
    }
