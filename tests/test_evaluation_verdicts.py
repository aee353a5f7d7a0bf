"""Evaluation verdicts that a reader can trust (issue 26, cases 6-8): the train-on-real baseline never scores
rows it trained on, an integer-coded binary target is a classification (and the report says so), verdicts do
not contradict each other or the tables' sizes, every verdict states its basis, and the collapse laboratory
takes a schema and an integer-coded target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthgov.evaluation import catalogue, detection, edge_cases
from synthgov.evaluation.prepare import Encoding, load_tables
from synthgov.evaluation.utility import utility


def test_without_holdout_the_real_baseline_is_not_scored_on_its_training_rows(german: pd.DataFrame) -> None:
    from synthgov import evaluate

    result = evaluate(german, german, target="credit_risk", quick=True)
    u = result.report["utility"]
    assert u["train_rows_real"] + u["test_rows"] == len(german)
    # scored on its own training rows the baseline read 1.000; on unseen rows German credit is a hard task
    assert 0.6 < u["trtr_auc"] < 0.95
    assert any("does not train on" in note for note in result.report["notes"])


def test_an_integer_coded_binary_target_is_a_classification(german: pd.DataFrame) -> None:
    tables = load_tables(german, german)
    test = german.sample(200, random_state=0)
    result, _ = utility(tables, "credit_risk", test, np.random.default_rng(0))
    assert result["task"] == "classification" and "tstr_auc" in result
    assert "2 distinct values" in result["task_basis"]
    many, _ = utility(tables, "credit_amount", test, np.random.default_rng(0))
    assert many["task"] == "regression" and many["task_basis"] is None


def test_beta_recall_of_real_rows_is_not_poor_because_they_are_fewer(adult: pd.DataFrame) -> None:
    """1,000 real rows are a perfect sample of the real table: scored against all 32,561 they read 'poor'."""
    sample = adult.sample(1000, random_state=1)
    tables = load_tables(adult, sample)
    scores = detection.alpha_precision_beta_recall(tables, Encoding.fit(tables), np.random.default_rng(0))
    verdict = {m.key: m for m in catalogue.METRICS}["fidelity.beta_recall"].judge(scores["beta_recall"])[0]
    assert verdict == "good", scores
    edges = edge_cases.edge_cases(tables)
    ranges = [f for f in edges["collapse_flags"] if f["indicator"] == "range_coverage" and f["level"] == "FAIL"]
    assert ranges == []  # fnlwgt read FAIL (0.58) against the median range of 5 draws: one sample's max varies
    assert min(edges["range_coverage"].values()) >= 0.9


def test_a_narrower_synthetic_range_is_still_flagged(adult: pd.DataFrame) -> None:
    sample = adult.sample(1000, random_state=1).copy()
    sample["age"] = sample["age"].clip(30, 50)  # a collapse of the age range: still found at equal sizes
    edges = edge_cases.edge_cases(load_tables(adult, sample))
    assert any(f["column"] == "age" and f["indicator"] == "range_coverage" for f in edges["collapse_flags"])


def test_one_verdict_for_predictive_value_and_every_verdict_states_its_basis() -> None:
    by_key = {m.key: m for m in catalogue.METRICS}
    assert by_key["utility.tstr_auc"].judge(0.9)[0] == "info" and by_key["utility.tstr_r2"].judge(0.9)[0] == "info"
    for metric in catalogue.METRICS:
        for value in (0.0, 0.02, 0.5, 0.7, 0.95, 1.0):
            verdict, sentence = metric.judge(value)
            if verdict != "info":
                assert "at " in sentence and any(ch.isdigit() for ch in sentence), (metric.key, sentence)


def test_the_report_calls_one_release_s_indicators_tails_and_spread(german: pd.DataFrame, tmp_path: Path) -> None:
    from synthgov import evaluate

    evaluate(german, german.sample(300, random_state=0), quick=True, out=tmp_path / "report")
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<h2>Tails and spread</h2>" in html and "Collapse indicators" not in html


def test_collapse_takes_a_schema_and_an_integer_coded_target(german: pd.DataFrame, tmp_path: Path) -> None:
    from synthgov.collapse.laboratory import run_collapse
    from synthgov.table.infer import infer_schema

    schema = infer_schema(german)
    path = schema.save(tmp_path / "schema.yaml")
    result = run_collapse(
        german, generators="copula", regimes="replace", generations=1, target="credit_risk", schema=path, seed=0
    )
    assert result.config["schema"] == "given" and result.config["target"] == "credit_risk"
    assert 0.5 < result.rows[0]["tstr_auc"] <= 1.0


def test_collapse_with_a_many_class_target_tests_the_most_common_class(german: pd.DataFrame) -> None:
    from synthgov.collapse.metrics import Reference

    test = german.sample(200, random_state=3)
    reference = Reference.build(german, test, "purpose", seed=0)  # 10 classes, some absent from 200 rows
    assert reference.positive == german["purpose"].value_counts().index[0]
    with pytest.raises(Exception, match="distinct numbers"):
        Reference.build(german, test, "credit_amount", seed=0)
