"""Hybrid releases (issue 20): real and generated rows in a declared, exact ratio; the key holder recovers every
row's origin; without the key a classifier cannot tell them apart; the stated copies are the generated rows'."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.cli import run
from synthgov.evaluation.detection import detection_auc
from synthgov.evaluation.prepare import Encoding, load_tables
from synthgov.pipeline import generate
from synthgov.pipeline.hybrid import origin_key, real_positions, recover_origin
from synthgov.release.ledger import row_hashes


@pytest.fixture(scope="module")
def adult_10k() -> pd.DataFrame:
    return synthgov.load_demo("adult").sample(10_000, random_state=0).reset_index(drop=True)


def test_the_ratio_is_exact_and_the_key_holder_recovers_every_origin(adult_10k, tmp_path, capsys) -> None:
    """Unmarked, so the real rows can be matched byte for byte with the training rows."""
    data = tmp_path / "train.csv"
    adult_10k.iloc[:3000].to_csv(data, index=False)
    folder = tmp_path / "hybrid"
    args = ["generate", str(data), "-g", "bayesnet", "--mode", "hybrid", "--real-share", "0.3", "--seed", "2"]
    assert run([*args, "--no-watermark", "--out", str(folder)]) == 0
    predicate = json.loads((folder / "manifest.json").read_text())["statement"]["predicate"]
    section = predicate["hybrid"]
    assert section["real_rows"] == 900 and section["synthetic_rows"] == 2100 and section["real_share"] == 0.3
    assert predicate["synthetic_category"] == "hybrid (real and synthetic rows)"
    croissant = json.loads((folder / "croissant.json").read_text())
    assert "900 real rows of the source table" in croissant["rai:dataCollection"]  # not "no row was collected"
    capsys.readouterr()
    assert run(["origin", str(folder), "--out", str(tmp_path / "origin.csv")]) == 0
    assert "900 of 3,000 rows are real" in capsys.readouterr().out
    real = pd.read_csv(tmp_path / "origin.csv")["real"].to_numpy()
    released = pd.read_parquet(folder / "synthetic.parquet")
    in_training = np.isin(row_hashes(released), row_hashes(pd.read_csv(data)))
    assert in_training[real].all()  # every row the key calls real is a training row
    assert not in_training[~real].any()  # and no generated row is (this generator copies none here)
    assert predicate["copies"]["released_rows"] == 2100 and predicate["copies"]["declared_real_rows"] == 900
    assert len(set(row_hashes(released[real]))) == 900  # drawn without replacement


def test_without_the_key_the_origin_cannot_be_predicted(adult_10k, tmp_path) -> None:
    """The default generator, watermarked (in every row): a gradient-boosting classifier told the generated rows
    from the real ones at AUC 0.515 (the mark in the generated rows alone gave 0.71). Another issuer's key gives
    an origin no better than a guess of the same ratio."""
    release = generate(adult_10k, seed=1, mode="hybrid", real_share=0.3, out=tmp_path / "hybrid")
    real = recover_origin(tmp_path / "hybrid").to_numpy()
    data = release.data
    tables = load_tables(data[real], data[~real], None, None)
    assert detection_auc(tables, Encoding.fit(tables), np.random.default_rng(0))["detection_auc"] <= 0.55
    key = origin_key(b"another issuer's secret", release.manifest["statement"]["predicate"]["release"]["id"])
    guessed = real_positions(key, len(real), int(real.sum()))
    assert guessed.sum() == real.sum()
    assert (guessed == real).mean() < 0.7  # chance agreement is 0.3^2 + 0.7^2 = 0.58


def test_the_guard_and_the_evaluation_read_a_hybrid_release_as_declared(
    adult_10k, tmp_path, capsys, monkeypatch
) -> None:
    """The guard counts a hybrid release as 70% synthetic (its declared share), and never takes the source table
    for a release (the real rows stay out of the release ledger's row sketch). The evaluation, run by the key
    holder, measures the privacy risks on the generated rows and reports the declared real rows apart; without
    the origin it says that the risks count them."""
    from synthgov.evaluation import evaluate
    from synthgov.governance.guard import inspect_table

    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "home"))  # a ledger of its own: no other release's rows
    data, holdout = tmp_path / "train.csv", tmp_path / "holdout.csv"
    adult_10k.iloc[:3000].to_csv(data, index=False)
    adult_10k.iloc[3000:6000].to_csv(holdout, index=False)
    folder = tmp_path / "hybrid"
    args = ["generate", str(data), "-g", "bayesnet", "--mode", "hybrid", "--real-share", "0.3", "--seed", "2"]
    assert run([*args, "--no-watermark", "--out", str(folder)]) == 0
    released = folder / "synthetic.parquet"
    verdict = inspect_table(pd.read_parquet(released), released)
    assert verdict.synthetic and verdict.synthetic_share == pytest.approx(0.7)
    assert not inspect_table(pd.read_csv(data), data).synthetic  # 30% of its rows are in the release, as real rows
    capsys.readouterr()
    assert run(["evaluate", str(data), str(released), "--holdout", str(holdout), "-o", str(tmp_path / "r")]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    section = report["privacy"]["hybrid"]
    assert section["declared_real_rows"] == 900 and section["generated_rows"] == 2100 and section["origin_known"]
    assert section["declared_real_rows_found_in_training"] == 1.0  # the real rows are real, as declared
    assert report["privacy"]["exact_copies"] == 0  # the generated rows copy none
    assert report["privacy"]["close_to_training_share"] <= 0.06
    assert any("measured on its 2,100 generated rows" in note for note in report["notes"])
    blind = evaluate(data, released, holdout, hybrid={"real_rows": 900, "synthetic_rows": 2100, "origin": None})
    assert blind.report["privacy"]["exact_copies"] == 900  # every declared real row reads as a copy
    assert blind.report["privacy"]["close_to_training_share"] >= 0.29
    assert any("count them as leaks" in note for note in blind.report["notes"])


def test_bad_hybrid_requests_are_one_clear_line(tmp_path, capsys) -> None:
    data = tmp_path / "t.csv"
    pd.DataFrame({"a": range(100), "b": ["x", "y"] * 50}).to_csv(data, index=False)
    schema = tmp_path / "s.yaml"
    cases = [
        (["--real-share", "0.3"], "add --mode hybrid"),
        (["--mode", "hybrid"], "needs --real-share between 0 and 1"),
        (["--mode", "hybrid", "--real-share", "1.5"], "needs --real-share between 0 and 1"),
        (["--mode", "hybrid", "--real-share", "0.5", "--rows", "500"], "needs 250 real rows; the table has 100"),
        (["--mode", "hybrid", "--real-share", "0.5", "-c", "b=x"], "cannot take --condition"),
        (["--mode", "hybrid", "--real-share", "0.5", "--replace", "a"], "add --mode partial"),
    ]
    for args, message in cases:
        assert run(["generate", str(data), "-g", "copula", *args, "--out", str(tmp_path / "never")]) == 2, args
        err = " ".join(capsys.readouterr().err.split())
        assert message in err and "Traceback" not in err, (args, err)
        assert not (tmp_path / "never").exists()
    assert run(["schema", str(data), "--domains", "-o", str(schema)]) == 0
    args = ["generate", str(data), "-g", "mst", "--epsilon", "1", "--schema", str(schema), "--mode", "hybrid"]
    assert run([*args, "--real-share", "0.5", "--out", str(tmp_path / "never")]) == 2
    assert "no privacy budget covers" in capsys.readouterr().err
