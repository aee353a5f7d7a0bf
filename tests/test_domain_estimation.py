"""Column domains estimated with a declared share of the privacy budget (issue 20): numeric bounds and categories.
The budget still composes to the declared guarantee (a second accountant agrees), the bounds cover the data at
power-of-two resolution, a category held by a few rows stays unseen while common ones are kept, the manifest says
which domains were estimated, and a column with neither a public domain nor a budget share is one clear error
before anything is spent."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.cli import run
from synthgov.errors import InputError
from synthgov.privacy import budget, rdp
from synthgov.privacy import domain_estimation as estimation
from synthgov.privacy.accounting import cdp_rho
from synthgov.privacy.domains import declare_domains
from synthgov.table.infer import infer_schema
from synthgov.table.schema import Schema


def table(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "count": rng.integers(100, 901, n),  # 100 .. 900
            "amount": np.round(rng.uniform(-3.0, 0.3, n), 3),  # [-3, 0.3)
            "kind": rng.choice(["a", "b", "c"], n),
        }
    )


def undeclared(frame: pd.DataFrame, *names: str) -> Schema:
    schema = declare_domains(infer_schema(frame), frame)
    for name in names:
        schema[name].public = False
    return schema


@pytest.mark.parametrize("name", ["mst", "aim", "bayesnet"])
def test_the_domain_line_is_the_declared_share_and_the_lines_still_compose(name: str) -> None:
    model = synthgov.synthesizer(name, epsilon=1.0, delta=1e-6, domain_share=0.1)
    numbers_only = model.budget_lines(3, 2, 0)
    total = cdp_rho(1.0, 1e-6)
    assert sum(line["rho"] for line in numbers_only) == pytest.approx(total, rel=1e-12)
    assert numbers_only[-1]["part"] == estimation.PART and numbers_only[-1]["rho"] == pytest.approx(0.1 * total)
    assert "delta" not in numbers_only[-1]  # pure zCDP
    assert model.budget_lines(3) == synthgov.synthesizer(name, epsilon=1.0, delta=1e-6).budget_lines(3)
    # categories: a tenth of delta goes to the thresholding, the rest of the lines are accounted at 0.9 delta
    with_categories = model.budget_lines(3, 1, 1)
    assert with_categories[-1]["delta"] == pytest.approx(1e-7)
    assert sum(line["rho"] for line in with_categories) == pytest.approx(cdp_rho(1.0, 0.9e-6), rel=1e-12)
    assert rdp.composed(with_categories, 1e-6) == pytest.approx(1.0, abs=1e-6)


def test_approximate_zcdp_lines_compose_by_adding_deltas() -> None:
    """Independent check of the composition with dp-accounting's RDP accountant on the zCDP part, the thresholding
    line's delta taken off first (Bun & Steinke 2016: approximate zCDP adds rhos and deltas)."""
    lines = [{"rho": 0.02}, {"rho": 0.01, "delta": 2e-7}]
    assert rdp.composed(lines, 1e-6) == pytest.approx(rdp.composed([{"rho": 0.03}], 8e-7))
    assert math.isinf(rdp.composed([{"rho": 0.01, "delta": 1e-6}], 1e-6))  # the whole delta used: no statement


def test_dp_sgd_keeps_its_epsilon_with_a_domain_line() -> None:
    pytest.importorskip("opacus")
    model = synthgov.synthesizer("autoregressive", epsilon=2.0, delta=1e-6, domain_share=0.05)
    lines = model.budget_lines(3, 1, 1)
    assert [line["part"] for line in lines] == ["one-way marginals", "training (DP-SGD)", estimation.PART]
    assert lines[-1]["rho"] == pytest.approx(0.05 * cdp_rho(2.0, 0.9e-6)) and lines[-1]["delta"] == pytest.approx(1e-7)
    assert 1.99 < rdp.composed(lines, 1e-6) <= 2.0
    assert lines[1]["noise_multiplier"] > model.budget_lines(3)[1]["noise_multiplier"]  # less budget, more noise


def test_estimated_bounds_cover_the_data_at_power_of_two_resolution() -> None:
    frame = table()
    line = {"rho": 0.01}
    estimated = estimation.estimate(
        frame, undeclared(frame, "count", "amount"), ["count", "amount"], [], line, np.random.default_rng(1)
    )
    count, amount = estimated["count"], estimated["amount"]
    assert (count.min, count.max) == (64.0, 1023.0)  # integers: [64, 1024) holds 100 .. 900
    assert (amount.min, amount.max) == (-4.0, 0.5)  # [-4, -2) is the lowest bucket, [0.25, 0.5) the highest
    assert count.public and amount.public


def test_a_value_range_or_a_category_held_by_few_rows_stays_unseen() -> None:
    """rho 0.0005 on one column: noise sd 32 rows. 40 rows at 1,000,000 do not pass the bucket threshold (3.85 sd,
    122 rows), 2,500 do; a category held by 40 rows does not pass the thresholding at delta 1e-7 (1 + 5.2 sd, 166
    rows), one held by 1,000 rows does."""
    frame = table(n=5000)
    few, many = frame.copy(), frame.copy()
    few.loc[:39, "count"] = 1_000_000
    many.loc[:, "count"] = np.where(np.arange(len(many)) % 2 == 0, 1_000_000, many["count"])
    schema = undeclared(frame, "count", "kind")
    line = {"rho": 0.0005, "delta": 1e-7}
    seen = [
        estimation.estimate(f, schema, ["count"], [], line, np.random.default_rng(2))["count"].max for f in (few, many)
    ]
    assert seen == [1023.0, 1048575.0]
    rare = frame.copy()
    rare.loc[:39, "kind"] = "rare"
    rare.loc[40:1039, "kind"] = "common"
    categories = estimation.estimate(rare, schema, [], ["kind"], line, np.random.default_rng(3))["kind"].categories
    assert "common" in categories and "rare" not in categories and set(categories) <= {"a", "b", "c", "common"}


def test_the_release_states_which_domains_were_estimated(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "home"))
    frame = table(n=3000)
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    schema = undeclared(frame, "count", "kind").save(tmp_path / "schema.yaml")
    folder = tmp_path / "release"
    args = ["generate", str(data), "-g", "mst", "--epsilon", "1", "--delta", "1e-6", "--schema", str(schema)]
    assert run([*args, "--out", str(folder), "-p", "domain_share=0.1", "-p", "iterations=100"]) == 0
    privacy = json.loads((folder / "manifest.json").read_text())["statement"]["predicate"]["privacy"]
    assert privacy["domains"]["count"].startswith("estimated (DP: ")
    assert privacy["domains"]["kind"].startswith("estimated (DP: ")
    assert privacy["domains"]["amount"] == "schema (declared public)"
    assert privacy["lines"][-1]["part"] == estimation.PART and privacy["lines"][-1]["delta"] == pytest.approx(1e-7)
    assert rdp.composed(privacy["lines"], 1e-6) == pytest.approx(1.0, abs=1e-6)
    [charge] = budget.charges(budget.source_key(frame))
    assert charge.lines == privacy["lines"]
    datasheet = (folder / "datasheet.md").read_text()
    assert "domains: count, kind estimated with DP (their own budget line), the others declared public" in datasheet
    released = pd.read_parquet(folder / "synthetic.parquet")
    assert released["count"].between(64, 1023).all() and set(released["kind"].dropna()) <= {"a", "b", "c"}


def test_without_a_domain_or_a_share_nothing_is_spent(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "home"))
    frame = table(n=3000)
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    cases = [
        (undeclared(frame, "count", "kind"), [], "'count', 'kind' have no public domain"),
        (undeclared(frame, "count"), ["-p", "domain_share=1.5"], "domain_share must lie strictly between 0 and 1"),
    ]
    for k, (schema, extra, message) in enumerate(cases):
        path = schema.save(tmp_path / f"schema{k}.yaml")
        args = ["generate", str(data), "-g", "mst", "--epsilon", "1", "--schema", str(path), *extra]
        assert run([*args, "--out", str(tmp_path / "never")]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert budget.sources() == []  # nothing charged
    with pytest.raises(InputError, match="have no public domain"):
        synthgov.synthesizer("bayesnet", epsilon=1.0, delta=1e-6).fit(frame, undeclared(frame, "amount"))
