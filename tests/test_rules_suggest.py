"""``synthgov rules suggest`` (issue 21): rules found in the training rows hold on the real test rows; the known
Adult dependencies are found; nothing is read off a single column's minimum or maximum."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from synthgov.cli import run as cli
from synthgov.constraints.discovery import suggest, to_yaml
from synthgov.constraints.preflight import check_rules
from synthgov.constraints.value_rules import load_rules


@pytest.fixture(scope="module")
def suggested(adult: pd.DataFrame, tmp_path_factory) -> tuple[list, object]:
    found = suggest(adult)
    path = tmp_path_factory.mktemp("rules") / "adult.rules.yaml"
    path.write_text(to_yaml(found, "train.csv", len(adult)))
    return found, load_rules(path)


def test_finds_the_known_adult_dependencies(suggested) -> None:
    found, _ = suggested
    allowed = [s.entry["allowed"] for s in found if "allowed" in s.entry]
    education = [a for a in allowed if set(a["columns"]) == {"education", "education-num"}]
    assert len(education) == 1
    pairs = {(e, n) for e, n in education[0]["values"]}
    assert len(pairs) == 16 and ("Bachelors", 13) in pairs and ("Doctorate", 16) in pairs
    implications = {(s.entry["if"], s.entry["then"]): s for s in found if "if" in s.entry}
    husband = implications[("relationship == 'Husband'", "sex == 'Male'")]
    assert (husband.applies, husband.exceptions) == (13193, 1)  # flagged: the one Husband recorded as Female
    married = "`marital-status` in ['Married-AF-spouse', 'Married-civ-spouse']"
    assert ("relationship == 'Husband'", married) in implications
    assert ("relationship == 'Wife'", married) in implications
    assert ("`capital-gain` > 0", "`capital-loss` == 0") in implications


def test_no_proposed_rule_breaks_on_the_real_test_rows(suggested, adult_test: pd.DataFrame) -> None:
    _, rules = suggested
    rates = check_rules(rules, adult_test).real_violation_rate
    assert max(rates.values()) <= 0.001, {k: v for k, v in rates.items() if v > 0.001}


def test_stated_support_matches_the_rows(suggested, adult: pd.DataFrame) -> None:
    found, rules = suggested
    rates = check_rules(rules, adult).real_violation_rate
    for s in found:
        assert rates[s.entry["name"]] == pytest.approx(s.exceptions / len(adult), abs=1e-12), s.entry["name"]


def test_datetime_order_and_no_rule_from_one_columns_extremes() -> None:
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 400, 2000), unit="D")
    table = pd.DataFrame(
        {
            "start": start,
            "end": start + pd.to_timedelta(rng.integers(0, 90, 2000), unit="D"),
            "score": rng.normal(50, 10, 2000),
            "group": rng.choice(["a", "b", "c"], 2000),
        }
    )
    found = suggest(table)
    checks = [s.entry.get("check") for s in found]
    assert "end >= start" in checks
    assert not [s for s in found if "range" in s.entry and s.entry["range"]["column"] == "score"]  # may be < 0
    assert not [s for s in found if "range" in s.entry and ("max" in s.entry["range"] or s.entry["range"]["min"])]


def test_cli_writes_an_editable_file_and_check_exits_1_on_breaks(tmp_path, adult: pd.DataFrame, capsys) -> None:
    table = tmp_path / "adult.csv"
    adult.sample(3000, random_state=0).to_csv(table, index=False)
    assert cli(["rules", "suggest", str(table), "-o", str(tmp_path / "r.yaml")]) == 0
    document = yaml.safe_load((tmp_path / "r.yaml").read_text())
    assert document["version"] == 1 and len(document["rules"]) >= 5
    assert cli(["rules", "check", str(table), "--rules", str(tmp_path / "r.yaml")]) in (0, 1)
    broken = tmp_path / "broken.csv"
    frame = adult.head(200).copy()
    frame.loc[0, "capital-loss"], frame.loc[0, "capital-gain"] = 100, 100
    frame.to_csv(broken, index=False)
    (tmp_path / "one.yaml").write_text("rules: [{if: '`capital-gain` > 0', then: '`capital-loss` == 0'}]\n")
    capsys.readouterr()
    assert cli(["rules", "check", str(broken), "--rules", str(tmp_path / "one.yaml")]) == 1
    assert "0.5000%" in capsys.readouterr().out
    assert cli(["rules", "suggest", str(table), "--min-rate", "2"]) == 2
