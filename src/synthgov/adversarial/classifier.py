"""The classifier the attack targets: scikit-learn's HistGradientBoostingClassifier on the table's columns
(categories as pandas categories with the training table's values, numbers as floats), like the evaluation's
utility model."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


class Classifier:
    """P(positive label | row) of a gradient-boosting model; ``features`` and ``categories`` fixed at creation so
    that attacked and retrained models read rows alike."""

    def __init__(self, features: list[str], categories: dict[str, list[Any]], seed: int) -> None:
        self.features = features
        self.categories = categories
        self.seed = seed

    def frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for column in self.features:
            if column in self.categories:
                dtype = pd.CategoricalDtype([str(v) for v in self.categories[column]])
                values = rows[column].astype(object)
                text = values.where(values.isna(), values.astype(str))
                out[column] = pd.Categorical(text.where(text.isin(dtype.categories)), dtype=dtype)  # unseen: missing
            else:
                out[column] = pd.to_numeric(rows[column], errors="coerce").astype(float)
        return pd.DataFrame(out, index=rows.index)

    def fit(self, rows: pd.DataFrame, labels: np.ndarray) -> Classifier:
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=self.seed)
        self.model_ = model.fit(self.frame(rows), labels)
        return self

    def positive(self, rows: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self.frame(rows))[:, 1]
