"""Utility: train on synthetic, test on real (TSTR) against train on real, test on real (TRTR)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.evaluation.prepare import Encoding, Tables, sample_rows

IMPORTANCE_ROWS = 2_000


@dataclass
class Models:
    """The two fitted models and the real test set, reused by the bias metrics."""

    task: str
    features: list[str]
    test: pd.DataFrame
    x_test: pd.DataFrame
    y_test: np.ndarray
    positive: Any
    tstr: Any
    trtr: Any


CLASSIFY_AT_MOST = 2  # a numeric target with this many distinct values (1/2, 0/1) is a class label


def task_of(tables: Tables, target: str) -> tuple[str, str | None]:
    """Classification or regression, and why when a numeric target is taken as classes."""
    kind = tables.kind(target)
    if kind == "datetime":
        return "regression", None
    if kind != "numeric":
        return "classification", None
    distinct = int(tables.real[target].nunique(dropna=True))
    if distinct <= CLASSIFY_AT_MOST:
        return "classification", (
            f"target '{target}' is numeric with {distinct} distinct values: evaluated as classification (ROC AUC)"
        )
    return "regression", None


def utility(
    tables: Tables,
    target: str,
    test: pd.DataFrame,
    rng: np.random.Generator,
    real_train: pd.DataFrame | None = None,
) -> tuple[dict[str, Any], Models]:
    """Train on synthetic, test on real (TSTR) against train on real, test on real (TRTR). ``real_train``: the
    real rows the baseline trains on (default: all of the training table; the caller passes the rows that
    ``test`` was not drawn from when it has no holdout)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import r2_score, roc_auc_score

    if target not in tables.real.columns:
        raise InputError(f"target column '{target}' is not in the table")
    task, basis = task_of(tables, target)
    features = [c for c in tables.columns if c != target]
    encoding = Encoding(
        numeric=[c for c in features if tables.is_continuous(c)],
        categorical=[c for c in features if not tables.is_continuous(c)],
        **_fit_scalers(tables, features),
    )
    seed = int(rng.integers(2**31))
    real = tables.real if real_train is None else real_train
    real = real[real[target].notna()]
    synthetic = tables.synthetic[tables.synthetic[target].notna()]
    test = test[test[target].notna()]
    x_test = encoding.model_frame(test)
    positive = None
    if task == "classification":
        counts = real[target].value_counts()
        positive = counts.index[-1] if len(counts) == 2 else counts.index[0]  # the minority class of a binary target
        y_real, y_syn = (real[target] == positive).to_numpy(), (synthetic[target] == positive).to_numpy()
        y_test = (test[target] == positive).to_numpy()
        if y_test.all() or not y_test.any():
            raise InputError(
                f"the {len(y_test):,} test rows hold {'only' if y_test.all() else 'no'} rows with {target} = "
                f"{positive!r}; a ROC AUC of that class needs test rows with and without it"
            )

        def fit(x: pd.DataFrame, y: np.ndarray) -> Any:
            model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
            return model.fit(x, y) if 0 < y.mean() < 1 else _Constant(float(y.mean()))

        trtr, tstr = fit(encoding.model_frame(real), y_real), fit(encoding.model_frame(synthetic), y_syn)
        score = lambda m: float(roc_auc_score(y_test, m.predict_proba(x_test)[:, 1]))  # noqa: E731
        metric = "auc"
    else:
        y_real = pd.to_numeric(real[target]).to_numpy(dtype=float)
        y_syn = pd.to_numeric(synthetic[target]).to_numpy(dtype=float)
        y_test = pd.to_numeric(test[target]).to_numpy(dtype=float)

        def fit(x: pd.DataFrame, y: np.ndarray) -> Any:
            return HistGradientBoostingRegressor(random_state=seed, categorical_features="from_dtype").fit(x, y)

        trtr, tstr = fit(encoding.model_frame(real), y_real), fit(encoding.model_frame(synthetic), y_syn)
        score = lambda m: float(r2_score(y_test, m.predict(x_test)))  # noqa: E731
        metric = "r2"
    tstr_score, trtr_score = score(tstr), score(trtr)
    agreement = _importance_agreement(tstr, trtr, x_test, y_test, task, rng)
    result = {
        "task": task,
        "target": target,
        f"tstr_{metric}": tstr_score,
        f"trtr_{metric}": trtr_score,
        "gap": trtr_score - tstr_score,
        "feature_importance_agreement": agreement["spearman"],
        "feature_importance": agreement["importance"],
        "test_rows": len(test),
        "train_rows_real": len(real),
        "task_basis": basis,
    }
    return result, Models(task, features, test, x_test, y_test, positive, tstr, trtr)


def _fit_scalers(tables: Tables, features: list[str]) -> dict[str, Any]:
    full = Encoding.fit(tables)
    keep = [i for i, c in enumerate(full.numeric) if c in features]
    return {
        "lows": full.lows[keep],
        "spans": full.spans[keep],
        "categories": {c: full.categories[c] for c in full.categorical if c in features},
    }


class _Constant:
    """A model for a training set with one class: predicts its rate."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return np.column_stack([np.full(len(x), 1 - self.rate), np.full(len(x), self.rate)])

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.full(len(x), self.rate >= 0.5)


def _importance_agreement(
    tstr: Any, trtr: Any, x: pd.DataFrame, y: np.ndarray, task: str, rng: np.random.Generator
) -> dict[str, Any]:
    """Permutation importance of each feature for both models on real test rows; Spearman rank agreement."""
    from scipy.stats import spearmanr
    from sklearn.inspection import permutation_importance

    if isinstance(tstr, _Constant) or isinstance(trtr, _Constant):
        return {"spearman": float("nan"), "importance": {}}
    rows = sample_rows(x.assign(__y=y), IMPORTANCE_ROWS, rng)
    xs, ys = rows.drop(columns="__y"), rows["__y"].to_numpy()
    scoring = "roc_auc" if task == "classification" else "r2"
    seed = int(rng.integers(2**31))
    imp = {}
    for label, model in (("tstr", tstr), ("trtr", trtr)):
        imp[label] = permutation_importance(
            model, xs, ys, scoring=scoring, n_repeats=3, random_state=seed
        ).importances_mean
    rho = spearmanr(imp["tstr"], imp["trtr"]).statistic if len(xs.columns) > 1 else 1.0
    return {
        "spearman": float(rho),
        "importance": {
            c: {"tstr": float(a), "trtr": float(b)}
            for c, a, b in zip(xs.columns, imp["tstr"], imp["trtr"], strict=True)
        },
    }
