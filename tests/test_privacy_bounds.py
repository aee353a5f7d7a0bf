"""Bounds of numeric columns estimated with a declared share of the privacy budget (issue 20): the budget still adds
up, the bounds cover the data at power-of-two resolution, the manifest says which domains were estimated, and a
column with neither a public domain nor a budget share is one clear error before anything is spent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.cli import run
from synthgov.errors import InputError
from synthgov.privacy import bounds, budget, rdp
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


@pytest.mark.parametrize("name", ["mst", "bayesnet"])
def test_the_bounds_line_is_the_declared_share_and_the_lines_still_add_up(name: str) -> None:
    model = synthgov.synthesizer(name, epsilon=1.0, delta=1e-6, bounds_share=0.1)
    lines = model.budget_lines(3, 2)
    total = cdp_rho(1.0, 1e-6)
    assert sum(line["rho"] for line in lines) == pytest.approx(total, rel=1e-12)
    assert lines[-1]["part"] == bounds.PART and lines[-1]["rho"] == pytest.approx(0.1 * total)
    assert model.budget_lines(3, 0) == synthgov.synthesizer(name, epsilon=1.0, delta=1e-6).budget_lines(3)


def test_dp_sgd_keeps_its_epsilon_with_a_bounds_line() -> None:
    pytest.importorskip("opacus")
    model = synthgov.synthesizer("autoregressive", epsilon=2.0, delta=1e-6, bounds_share=0.05)
    lines = model.budget_lines(3, 1)
    assert [line["part"] for line in lines] == ["one-way marginals", "training (DP-SGD)", bounds.PART]
    assert lines[-1]["rho"] == pytest.approx(0.05 * cdp_rho(2.0, 1e-6))
    assert 1.99 < rdp.composed(lines, 1e-6) <= 2.0
    # the network gets less of the budget, so more noise
    assert lines[1]["noise_multiplier"] > model.budget_lines(3, 0)[1]["noise_multiplier"]


def test_estimated_bounds_cover_the_data_at_power_of_two_resolution() -> None:
    frame = table()
    estimated = bounds.estimate(frame, undeclared(frame, "count", "amount"), ["count", "amount"], 0.01,
                                np.random.default_rng(1))  # fmt: skip
    count, amount = estimated["count"], estimated["amount"]
    assert (count.min, count.max) == (64.0, 1023.0)  # integers: [64, 1024) holds 100 .. 900
    assert (amount.min, amount.max) == (-4.0, 0.5)  # [-4, -2) is the lowest bucket, [0.25, 0.5) the highest
    assert count.public and amount.public
    assert not frame["count"].lt(count.min).any() and not frame["count"].gt(count.max).any()


def test_a_bucket_with_a_few_rows_stays_unseen() -> None:
    """40 rows at 1,000,000 against noise sd 32 (rho 0.0005; threshold 3.85 sd, 122 rows): their bucket does not
    pass, so the bounds do not reveal that they exist; 2,500 rows do."""
    frame = table(n=5000)
    few = frame.copy()
    few.loc[:39, "count"] = 1_000_000
    many = frame.copy()
    many.loc[:, "count"] = np.where(np.arange(len(many)) % 2 == 0, 1_000_000, many["count"])
    schema = undeclared(frame, "count")
    seen = [bounds.estimate(f, schema, ["count"], 0.0005, np.random.default_rng(2))["count"].max for f in (few, many)]
    assert seen == [1023.0, 1048575.0]


def test_the_release_states_which_domains_were_estimated(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "home"))
    frame = table(n=3000)
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    schema = undeclared(frame, "count").save(tmp_path / "schema.yaml")
    folder = tmp_path / "release"
    args = ["generate", str(data), "-g", "mst", "--epsilon", "1", "--delta", "1e-6", "--schema", str(schema)]
    assert run([*args, "--out", str(folder), "-p", "bounds_share=0.1", "-p", "iterations=100"]) == 0
    privacy = json.loads((folder / "manifest.json").read_text())["statement"]["predicate"]["privacy"]
    assert privacy["domains"]["count"].startswith("estimated (DP: Gaussian histogram")
    assert privacy["domains"]["kind"] == privacy["domains"]["amount"] == "schema (declared public)"
    assert privacy["lines"][-1]["part"] == bounds.PART
    assert sum(line["rho"] for line in privacy["lines"]) == pytest.approx(cdp_rho(1.0, 1e-6))
    [charge] = budget.charges(budget.source_key(frame))
    assert charge.lines == privacy["lines"]
    released = pd.read_parquet(folder / "synthetic.parquet")
    assert released["count"].between(64, 1023).all()


def test_without_a_domain_or_a_share_nothing_is_spent(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "home"))
    frame = table(n=3000)
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    cases = [
        (undeclared(frame, "count", "amount"), [], "'count', 'amount' have no public min and max"),
        (undeclared(frame, "kind"), ["-p", "bounds_share=0.1"], "column 'kind' has no public domain"),
        (undeclared(frame, "count"), ["-p", "bounds_share=1.5"], "bounds_share must lie strictly between 0 and 1"),
    ]
    for k, (schema, extra, message) in enumerate(cases):
        path = schema.save(tmp_path / f"schema{k}.yaml")
        args = ["generate", str(data), "-g", "mst", "--epsilon", "1", "--schema", str(path), *extra]
        assert run([*args, "--out", str(tmp_path / "never")]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert budget.sources() == []  # nothing charged
    with pytest.raises(InputError, match="have no public min and max"):
        synthgov.synthesizer("bayesnet", epsilon=1.0, delta=1e-6).fit(frame, undeclared(frame, "amount"))
