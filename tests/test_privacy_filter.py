"""``--privacy-filter`` (issue 20): released rows closer to a training row than real holdout rows' 5th percentile
are drawn again, then dropped; the manifest says how many and what it cost in fidelity. The distances are checked
with an independent brute-force computation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthgov.cli import run


def table(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, n)
    return pd.DataFrame({"x": x, "y": np.round(x * 2.0 + rng.normal(0, 1, n), 3), "kind": rng.choice(["a", "b"], n)})


def nearest(rows: pd.DataFrame, training: pd.DataFrame) -> np.ndarray:
    """Gower-style distance to the nearest training row, by brute force: numbers scaled by the training range (L1),
    a category 1 when it differs."""
    total = np.zeros((len(rows), len(training)))
    for col in ("x", "y"):
        span = training[col].max() - training[col].min()
        total += np.abs(rows[col].to_numpy()[:, None] - training[col].to_numpy()[None, :]) / span
    total += rows["kind"].to_numpy()[:, None] != training["kind"].to_numpy()[None, :]
    return total.min(axis=1)


@pytest.fixture
def files(tmp_path):
    train, holdout = tmp_path / "train.csv", tmp_path / "holdout.csv"
    table(0).to_csv(train, index=False)
    table(1).to_csv(holdout, index=False)
    return train, holdout


def test_the_filter_leaves_no_row_closer_than_the_threshold(files, tmp_path) -> None:
    train, holdout = files
    folder = tmp_path / "release"
    code = run(["generate", str(train), "-g", "bayesnet", "--seed", "1", "--holdout", str(holdout),
                "--privacy-filter", "--no-watermark", "--out", str(folder)])  # fmt: skip
    assert code == 0
    predicate = json.loads((folder / "manifest.json").read_text())["statement"]["predicate"]
    section = predicate["privacy_filter"]
    training, released = pd.read_csv(train), pd.read_parquet(folder / "synthetic.parquet")
    expected = np.quantile(nearest(pd.read_csv(holdout).sample(1500, random_state=0), training), 0.05)
    assert section["threshold"] == pytest.approx(expected, abs=1e-6)
    assert section["rows_close_at_first"] > 0  # this table has close rows to filter
    assert section["rows_drawn_again"] >= section["rows_close_at_first"]
    assert section["rows_released"] == len(released) == 1500 - section["rows_dropped"]
    assert (nearest(released, training) >= section["threshold"] - 1e-6).all()
    assert 0 < section["fidelity_overall_after"] <= 1 and 0 < section["fidelity_overall_before"] <= 1
    assert "Privacy filter:" in (folder / "datasheet.md").read_text()


def test_the_filter_needs_a_threshold(files, tmp_path, capsys) -> None:
    train, _ = files
    code = run(["generate", str(train), "-g", "copula", "--privacy-filter", "--out", str(tmp_path / "r")])
    assert code == 2 and "needs a threshold" in capsys.readouterr().err
    policy = tmp_path / "policy.yaml"
    policy.write_text("privacy_filter_distance: 0.05\n")
    folder = tmp_path / "r2"
    code = run(["generate", str(train), "-g", "copula", "--privacy-filter", "--policy", str(policy), "--out",
                str(folder)])  # fmt: skip
    assert code == 0
    section = json.loads((folder / "manifest.json").read_text())["statement"]["predicate"]["privacy_filter"]
    assert section["threshold"] == 0.05 and "policy" in section["threshold_source"]
