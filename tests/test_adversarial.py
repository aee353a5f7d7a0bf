"""Adversarial training data (issue 21, part 3): every adversarial row keeps the schema, the value rules and the
immutable columns; it flips the model's decision; retraining with correctly labelled versions lowers the attack's
success rate. Checks are written here with pandas against the tables, never by the code under test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthgov.adversarial import harden
from synthgov.cli import run as cli
from synthgov.errors import InputError

RULES = Path(__file__).parent.parent / "examples" / "adult-rules.yaml"
IMMUTABLE = ("sex", "race", "age", "native-country")
BUDGET = 0.05


@pytest.fixture(scope="module")
def hardened(adult: pd.DataFrame) -> dict:
    table = adult.sample(3500, random_state=2).reset_index(drop=True)
    return harden(table, "income", rules=RULES, immutable=IMMUTABLE, budget=BUDGET, rounds=1, edge_cases=40, seed=1)


def test_every_adversarial_row_keeps_schema_rules_and_immutables(hardened: dict) -> None:
    rows = hardened["adversarial"]
    test, training = hardened["split"]["test"], hardened["split"]["training"]
    assert len(rows) > 20
    originals = test.iloc[rows["_original_row"].to_numpy()].reset_index(drop=True)
    for column in (*IMMUTABLE, "income"):
        pd.testing.assert_series_equal(rows[column], originals[column], check_names=False, check_dtype=False)
    for column in ("workclass", "education", "occupation", "marital-status", "relationship"):
        known = set(training[column].dropna())
        assert rows[column].dropna().isin(known).all(), column
    changed_categories = sum(
        (~((rows[c] == originals[c]) | (rows[c].isna() & originals[c].isna()))).astype(int)
        for c in ("workclass", "education", "occupation", "marital-status", "relationship")
    )
    assert (changed_categories <= 1).all()
    for column in ("fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"):
        low, high = training[column].min(), training[column].max()
        values = rows[column].astype(float)
        assert values.between(low, high).all(), column
        assert np.allclose(values, np.round(values)), column  # whole numbers stay whole
        assert ((values - originals[column]).abs() <= BUDGET * (high - low) + 0.5).all(), column
    # the rules of examples/adult-rules.yaml, written by hand
    assert not ((rows["capital-gain"] > 0) & (rows["capital-loss"] > 0)).any()
    assert not ((rows["relationship"] == "Husband") & (rows["sex"] != "Male")).any()
    assert not ((rows["relationship"] == "Wife") & (rows["sex"] != "Female")).any()
    assert not ((rows["marital-status"] == "Never-married") & rows["relationship"].isin(["Husband", "Wife"])).any()


def test_adversarial_rows_flip_the_original_model(hardened: dict) -> None:
    rows = hardened["adversarial"]
    model = hardened["models"]["before"]
    positive = hardened["report"]["positive_label"]
    decided = model.model_.predict_proba(model.frame(rows))[:, 1] >= 0.5
    assert (decided != (rows["income"] == positive).to_numpy()).all()
    test = hardened["split"]["test"]
    originals = test.iloc[rows["_original_row"].to_numpy()]
    before = model.model_.predict_proba(model.frame(originals))[:, 1] >= 0.5
    assert (before == (originals["income"] == positive).to_numpy()).all()  # the originals were classified right


def test_retraining_lowers_the_success_rate(hardened: dict) -> None:
    report = hardened["report"]
    assert report["before"]["success_rate"] > 0.1
    assert report["after"]["success_rate"] < report["before"]["success_rate"]
    assert report["adversarial_rows_feasible"] == report["adversarial_rows"]
    added = hardened["added"][0]
    assert len(added) == report["rows_added"][0] > 0
    assert (added["income"] == report["attacked_class"]).all()  # correctly labelled: their class stays


def test_edge_cases_are_farther_from_the_training_rows(hardened: dict) -> None:
    edge = hardened["report"]["edge_cases"]
    assert edge["rows"] == len(hardened["edge_cases"]) == 40
    assert edge["nearest_training_distance_median"] > edge["pool_distance_median"]
    rows = hardened["edge_cases"]
    assert not ((rows["capital-gain"] > 0) & (rows["capital-loss"] > 0)).any()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"target": "salary"}, "--target column 'salary' is not in the table"),
        ({"target": "education"}, "the attack needs a binary label"),
        ({"target": "income", "immutable": ("gender",)}, "--immutable column 'gender' is not in the table"),
        ({"target": "income", "budget": 0}, "--budget must be in (0, 1]"),
        ({"target": "income", "attack_class": "rich"}, "--attack-class 'rich' is not a class of 'income'"),
    ],
)
def test_bad_options_are_one_line(adult: pd.DataFrame, options: dict, words: str) -> None:
    target = options.pop("target")
    with pytest.raises(InputError) as caught:
        harden(adult.head(500), target, edge_cases=0, **options)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_cli_writes_json_html_and_rows(tmp_path, capsys, adult: pd.DataFrame) -> None:
    table = tmp_path / "adult.csv"
    hostile = "<b>work</b>"  # a column name the HTML must escape
    adult.sample(1500, random_state=3).rename(columns={"workclass": hostile}).to_csv(table, index=False)
    code = cli(["adversarial", str(table), "--target", "income", "--immutable", "sex", "--rounds", "1",
                "--edge-cases", "0", "-o", str(tmp_path / "rob")])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    report = json.loads((tmp_path / "rob" / "robustness.json").read_text())
    assert f"{report['before']['success_rate']:.1%}" in printed
    html = (tmp_path / "rob" / "robustness.html").read_text()
    assert "Robustness report" in html and str(report["before"]["successes"]) in html
    assert hostile not in html and "&lt;b&gt;work&lt;/b&gt;" in html
    rows = pd.read_parquet(tmp_path / "rob" / "adversarial.parquet")
    assert len(rows) == report["adversarial_rows"]
    assert cli(["adversarial", str(table), "--target", "wage", "-o", str(tmp_path / "x")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
