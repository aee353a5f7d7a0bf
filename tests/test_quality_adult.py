"""The issue's figures on Adult (train 32,561 rows), judged by SDMetrics' QualityReport and train-on-synthetic /
test-on-real gradient boosting; speed is in benchmarks/, not here."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import synthgov
from conftest import is_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from quality import quality_report, tstr_auc

TARGETS = {
    "copula": {"shapes": 0.98, "trends": 0.84, "auc": 0.86},
    "bayesnet": {"shapes": 0.95, "trends": 0.88, "auc": 0.87},
    # the targets for the default generator (AUC: measured 0.912-0.914 across settings; 0.91 floor)
    "autoregressive": {"shapes": 0.985, "trends": 0.97, "auc": 0.91},
}


@pytest.fixture(scope="module", params=list(TARGETS))
def run(request: pytest.FixtureRequest, adult: pd.DataFrame) -> tuple[str, pd.DataFrame, object]:
    model = synthgov.synthesizer(request.param, seed=0).fit(adult)
    return request.param, model.sample(len(adult), seed=1), model


def test_quality_figures(run, adult: pd.DataFrame, adult_test: pd.DataFrame) -> None:
    name, synthetic, model = run
    scores = quality_report(adult, synthetic, model.schema_)
    auc = tstr_auc(synthetic, adult_test, "income", ">50K")
    target = TARGETS[name]
    assert scores["shapes"] >= target["shapes"], scores
    assert scores["trends"] >= target["trends"], scores
    assert auc >= target["auc"], auc


def test_types_missing_rates_and_categories(run, adult: pd.DataFrame) -> None:
    _, synthetic, _ = run
    assert list(synthetic.columns) == list(adult.columns)
    for col in adult.columns:
        assert synthetic[col].dtype == adult[col].dtype, col
        assert abs(synthetic[col].isna().mean() - adult[col].isna().mean()) <= 0.01, col
        if is_text(adult[col]):
            assert set(synthetic[col].dropna()) <= set(adult[col].dropna()), col
    assert (synthetic["education-num"].groupby(synthetic["education"]).nunique() == 1).all()


def test_no_more_exact_copies_than_a_real_holdout(run, adult: pd.DataFrame, adult_test: pd.DataFrame) -> None:
    _, synthetic, _ = run

    def copy_rate(frame: pd.DataFrame) -> float:
        keys = set(map(tuple, adult.astype(str).to_numpy()))
        return sum(tuple(row) in keys for row in frame.astype(str).to_numpy()) / len(frame)

    holdout_rate = copy_rate(adult_test)
    assert holdout_rate > 0  # Adult's holdout does repeat some training rows
    assert copy_rate(synthetic.head(len(adult_test))) <= holdout_rate
