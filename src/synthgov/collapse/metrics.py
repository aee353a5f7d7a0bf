"""The collapse metric card of one generation, always against the original real table (never the previous
generation): fidelity (SDMetrics Column Shapes and Pair Trends), tails (mass beyond the real 1st/99th
percentiles, as a ratio to the real 2%), spread (variance ratio per numeric column), support (categories that
died out: absent although a faithful sampler would draw them at least 10 times; every absent category is
counted apart; rare-category coverage), detectability (classifier two-sample AUC) and utility (train on the
synthetic table, test on real rows never used for training).

The reference quantities of the real table (schema, encodings, the real test features and the real detection
sample) are computed once in :class:`Reference`; each generation then costs a few seconds on Adult.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgov.errors import InputError
from synthgov.evaluation import detection, edge_cases, fidelity
from synthgov.evaluation.prepare import Encoding, Tables, as_numbers, load_tables

DETECTION_ROWS = 5_000  # per table: the metric card's C2ST, fast enough for every generation
EXPECTED_FLOOR = 10  # a category "died out" when absent although expected 10 times (chance: e^-10)
HEADLINE = (
    "column_shapes",
    "column_pair_trends",
    "tail_mass_ratio",
    "variance_ratio",
    "categories_died",
    "rare_category_coverage",
    "detection_auc",
    "tstr_auc",
)


@dataclass
class Reference:
    real: pd.DataFrame
    test: pd.DataFrame | None
    target: str | None
    tables: Tables  # real vs real: the schema and coerced real table
    encoding: Encoding
    positive: Any = None
    trtr_auc: float | None = None

    @classmethod
    def build(
        cls, real: pd.DataFrame, test: pd.DataFrame | None, target: str | None, seed: int, schema: Any = None
    ) -> Reference:
        from synthgov.evaluation.utility import task_of

        tables = load_tables(real, real, schema=schema)
        if target is not None and target not in tables.columns:
            raise InputError(f"target '{target}' is not a categorical or numeric column of the table")
        if target is not None and task_of(tables, target)[0] != "classification":
            raise InputError(
                f"target '{target}' has {tables.real[target].nunique()} distinct numbers: train-on-synthetic AUC "
                "needs a categorical target (or a numeric one with two values, such as 1/2)"
            )
        if test is not None:  # read with the real table's schema, so that its values compare with the real ones
            test = load_tables(tables.real, test, schema=tables.schema).synthetic
        ref = cls(tables.real, test, target, tables, Encoding.fit(tables))
        if target is not None and test is not None:
            counts = ref.real[target].value_counts()
            # a binary target's minority class; one class against the rest (the most common) for more classes
            ref.positive = counts.index[-1] if len(counts) == 2 else counts.index[0]
            y_test = (test[target] == ref.positive).to_numpy()
            if y_test.all() or not y_test.any():
                raise InputError(
                    f"the {len(y_test):,} test rows hold {'only' if y_test.all() else 'no'} rows with {target} = "
                    f"{ref.positive!r}; an AUC of that class needs test rows with and without it"
                )
            ref.trtr_auc = ref.tstr(ref.real, seed)
        return ref

    def tstr(self, train: pd.DataFrame, seed: int) -> float | None:
        """ROC AUC on the real test rows of gradient boosting trained on ``train``."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.metrics import roc_auc_score

        if self.target is None or self.test is None:
            return None
        features = [c for c in self.tables.columns if c != self.target]
        y = (train[self.target] == self.positive).to_numpy()
        if y.all() or not y.any():
            return 0.5  # a table that lost a class predicts nothing
        model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
        model.fit(self.encoding.model_frame(train)[features], y)
        x_test = self.encoding.model_frame(self.test)[features]
        y_test = (self.test[self.target] == self.positive).to_numpy()
        return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


def generation_metrics(ref: Reference, synthetic: pd.DataFrame, seed: int) -> dict[str, Any]:
    """The metric card of one synthetic table against the real reference."""
    tables = load_tables(ref.real, synthetic, schema=ref.tables.schema)
    quality = fidelity.quality_scores(tables)
    edges = edge_cases.edge_cases(tables)
    variance = {}
    for name in tables.columns:
        if tables.is_continuous(name):
            r, s = as_numbers(tables.real[name]).dropna(), as_numbers(tables.synthetic[name]).dropna()
            if len(s) > 1 and r.var() > 0:
                variance[name] = float(s.var() / r.var())
    died, absent = {}, 0
    for name in tables.columns:
        if not tables.is_continuous(name):
            counts = tables.real[name].value_counts(normalize=True)
            gone = counts[~counts.index.isin(tables.synthetic[name].dropna().unique())]
            absent += len(gone)
            expected = gone[gone * len(synthetic) >= EXPECTED_FLOOR]
            if len(expected):
                died[name] = sorted(map(str, expected.index))
    rng = np.random.default_rng(seed)
    auc = detection.detection_auc(tables, ref.encoding, rng, rows=DETECTION_ROWS)["detection_auc"]
    tails = edges["tail_mass_ratio"]
    return {
        "column_shapes": quality["column_shapes"],
        "column_pair_trends": quality["column_pair_trends"],
        "tail_mass_ratio": float(np.mean(list(tails.values()))) if tails else None,
        "variance_ratio": float(np.mean(list(variance.values()))) if variance else None,
        "categories_died": int(sum(len(v) for v in died.values())),
        "categories_absent": absent,
        "rare_category_coverage": edges["rare_category_coverage"],
        "rare_categories": edges["rare_categories"],
        "detection_auc": auc,
        "tstr_auc": ref.tstr(tables.synthetic, seed),
        "by_column": {"tail_mass_ratio": tails, "variance_ratio": variance, "categories_died": died},
        "collapse_flags": edges["collapse_flags"],
    }
