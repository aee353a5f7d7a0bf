"""Partially synthetic releases (issue 20): real rows with the chosen columns drawn from the model given the row's
other values, direct identifiers as keyed pseudonyms, the real values of the kept columns untouched (the
watermark included), and no more disclosure on the replaced columns than a fully synthetic release."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthgov
from synthgov.cli import run
from synthgov.evaluation.attacks import inference
from synthgov.evaluation.prepare import Encoding, load_tables

REPLACED = ["sex", "race", "native-country"]


def same(a: pd.Series, b: pd.Series) -> np.ndarray:
    return (
        a.astype(object).where(a.notna(), "\x00NA").to_numpy() == b.astype(object).where(b.notna(), "\x00NA").to_numpy()
    )


@pytest.fixture(scope="module")
def adult_release(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("partial")
    train = synthgov.load_demo("adult").sample(4000, random_state=0).reset_index(drop=True)
    data = folder / "train.csv"
    train.to_csv(data, index=False)
    release = folder / "release"
    args = ["generate", str(data), "--mode", "partial", "--seed", "1", "--save-model", "--out", str(release)]
    for column in REPLACED:
        args += ["--replace", column]
    assert run(args) == 0
    return {"train": pd.read_csv(data), "release": release, "data": pd.read_parquet(release / "synthetic.parquet")}


def test_kept_columns_are_the_real_rows_and_the_manifest_says_which(adult_release) -> None:
    train, data = adult_release["train"], adult_release["data"]
    assert list(data.columns) == list(train.columns) and len(data) == len(train)
    kept = [c for c in train.columns if c not in REPLACED]
    for column in kept:
        assert same(train[column], data[column]).all(), column  # untouched, the watermark included
    predicate = json.loads((adult_release["release"] / "manifest.json").read_text())["statement"]["predicate"]
    assert predicate["synthetic_category"] == "partially synthetic"
    assert sorted(predicate["partial"]["replaced"]) == sorted(REPLACED)
    assert predicate["partial"]["kept"] == kept and predicate["partial"]["pseudonymised"] == []
    assert "drawn from the model given its other values" in (adult_release["release"] / "datasheet.md").read_text()
    for column in REPLACED:  # replaced, not copied: a share of the values differ from the real ones
        assert 1 - same(train[column], data[column]).mean() > 0.02


def test_replaced_values_match_the_real_ones_no_more_often_than_the_model_would(adult_release) -> None:
    """A second, independent draw from the same conditional model (the release's saved model, same kept values)
    is the yardstick: the release agrees with the real values no more often than it does, within 3 standard
    errors."""
    train, data = adult_release["train"], adult_release["data"]
    model = synthgov.load(adult_release["release"] / "model.synthgov")
    kept = [c for c in train.columns if c not in REPLACED]
    again = model.sample(len(train), seed=99, conditions=train[kept])
    for column in REPLACED:
        released = same(train[column], data[column]).mean()
        yardstick = same(train[column], again[column]).mean()
        se = np.sqrt(2 * yardstick * (1 - yardstick) / len(train))
        assert released <= yardstick + 3 * se, (column, released, yardstick)


def test_inference_risk_on_replaced_columns_is_no_higher_than_fully_synthetic(adult_release) -> None:
    """The anonymeter-method inference attack (holdout rows as control) on each replaced column: the partial
    release against a fully synthetic release of the same model, within the attack's 95% interval."""
    train, data = adult_release["train"], adult_release["data"]
    model = synthgov.load(adult_release["release"] / "model.synthgov")
    full = model.sample(len(train), seed=5)
    control = synthgov.load_demo("adult", "test").sample(2000, random_state=1).reset_index(drop=True)
    for column in REPLACED:
        found = {}
        for name, released in (("partial", data), ("full", full)):
            tables = load_tables(train, released, control, model.schema_)
            encoding = Encoding.fit(tables)
            ori = train.sample(2000, random_state=2)
            found[name] = inference(ori, tables.synthetic, tables.holdout, tables, encoding, column,
                                    np.random.default_rng(0), n_attacks=1000)  # fmt: skip
        assert found["partial"]["risk"] <= found["full"]["ci"][1] + 0.01, (column, found)


def identifiers(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Goran", "Hana", "Ines", "Jamal", "Kofi", "Lena"]
    last = ["Ng", "Okafor", "Smith", "Garcia", "Novak", "Tanaka", "Ivanova", "Dubois", "Kowalski", "Haddad"]
    people = rng.integers(0, 120, n)  # people appear more than once: the same identifiers repeat
    return pd.DataFrame(
        {
            "name": [f"{first[p % 12]} {last[p // 12]}" for p in people],
            "email": [f"person{p}@mail.example.org" for p in people],
            "phone": [f"+44 20 7946 {p:04d}" for p in people],
            "age": rng.integers(18, 80, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "spend": np.round(rng.gamma(2, 30, n), 2),
        }
    )


def test_no_real_identifier_survives_and_pseudonyms_are_consistent(tmp_path, monkeypatch) -> None:
    table = identifiers()
    data = tmp_path / "people.csv"
    table.to_csv(data, index=False)

    def release(home: Path, name: str) -> pd.DataFrame:
        monkeypatch.setenv("SYNTHGOV_HOME", str(home))
        folder = tmp_path / name
        args = ["generate", str(data), "-g", "bayesnet", "--mode", "partial", "--replace", "spend", "--seed", "0"]
        assert run([*args, "--out", str(folder)]) == 0
        return pd.read_parquet(folder / "synthetic.parquet")

    out = release(tmp_path / "home-a", "a")
    real_ids = set(table["name"]) | set(table["email"]) | set(table["phone"])
    assert set(out.columns) == set(table.columns)
    text = " ".join(str(v) for v in out.to_numpy().ravel())
    assert not any(identifier in text for identifier in real_ids)
    assert not re.search(r"mail\.example\.org|7946", text)
    for column in ("name", "email", "phone"):
        pairs = pd.DataFrame({"real": table[column], "pseudonym": out[column]})
        assert (pairs.groupby("real")["pseudonym"].nunique() == 1).all()  # one pseudonym per real value
        assert pairs["pseudonym"].nunique() == pairs["real"].nunique()  # and distinct values stay distinct
    assert out["email"].str.endswith("@pseudonym.invalid").all()
    assert (out[["age", "plan"]].to_numpy() == table[["age", "plan"]].to_numpy()).all()
    other = release(tmp_path / "home-b", "b")  # another issuer, another key
    assert not set(other["email"]) & set(out["email"])


def test_bad_partial_requests_are_one_clear_line(tmp_path, capsys) -> None:
    data = tmp_path / "people.csv"
    identifiers().to_csv(data, index=False)
    cases = [
        (["--mode", "partial", "--replace", "nope"], "unknown column(s) nope"),
        (["--replace", "spend"], "add --mode partial"),
        (["--mode", "partial"], "needs the columns to replace"),
        (["--mode", "sideways", "--replace", "spend"], "--mode must be one of"),
        (["--mode", "partial", "--replace", "spend", "-c", "plan=pro"], "cannot be added"),
    ]
    for args, message in cases:
        assert run(["generate", str(data), "-g", "copula", *args, "--out", str(tmp_path / "never")]) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (args, err)
        assert not (tmp_path / "never").exists()
