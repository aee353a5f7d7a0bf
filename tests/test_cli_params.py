"""``--param KEY=VALUE`` sets any generator parameter from the command line (issue 20): the value reaches the
model and the signed manifest; a wrong key, a wrong type or a malformed item is one line, exit 2, before any work."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import synthgov
from synthgov.cli import run
from synthgov.cli.params import parse_params
from synthgov.errors import InputError


@pytest.fixture
def table(tmp_path) -> str:
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": range(60), "b": ["x", "y", "z"] * 20, "c": [i * 0.5 for i in range(60)]}).to_csv(
        path, index=False
    )
    return str(path)


def _manifest_params(folder) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    return manifest["statement"]["predicate"]["generator"]["parameters"]


def test_a_param_reaches_the_model_and_the_signed_manifest(table: str, tmp_path) -> None:
    folder = tmp_path / "r"
    code = run(["generate", table, "-g", "bayesnet", "--param", "bins=7", "-p", "degree=1", "--seed", "1",
                "--out", str(folder)])  # fmt: skip
    assert code == 0
    params = _manifest_params(folder)
    assert params["bins"] == 7 and params["degree"] == 1
    assert params["oversample"] == synthgov.synthesizer("bayesnet").oversample  # the others keep their defaults


def test_fit_takes_params_too(table: str, tmp_path) -> None:
    model_path = tmp_path / "m.synthgov"
    assert run(["fit", table, "-g", "copula", "--param", "category_order=frequency", "--model", str(model_path)]) == 0
    assert synthgov.load(model_path).category_order == "frequency"


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("nope=1", "generator 'bayesnet' has no parameter 'nope'; its parameters: degree, bins"),
        ("bins=seven", "parameter 'bins' must be an integer (default 20), got 'seven'"),
        ("bins=2.5", "parameter 'bins' must be an integer (default 20), got 2.5"),
        ("bins", "a generator parameter must look like KEY=VALUE, got 'bins'"),
        ("seed=3", "'seed' has its own option: use --seed"),
    ],
)
def test_bad_params_are_one_line_before_any_work(table: str, tmp_path, capsys, item: str, words: str) -> None:
    folder = tmp_path / "r"
    assert run(["generate", table, "-g", "bayesnet", "--param", item, "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert words in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not folder.exists()


def test_values_are_read_as_yaml_scalars() -> None:
    params = parse_params("autoregressive", ["epochs=3", "patience=null", "validation=0.2"])
    assert params == {"epochs": 3, "patience": None, "validation": 0.2}
    assert type(params["epochs"]) is int and type(params["validation"]) is float
    assert parse_params("autoregressive", ["validation=1"]) == {"validation": 1}  # an int is a number
    with pytest.raises(InputError, match="'epochs' must be an integer"):
        parse_params("autoregressive", ["epochs=null"])  # epochs is not optional
    with pytest.raises(InputError, match="given twice"):
        parse_params("copula", ["oversample=2", "oversample=3"])
    assert parse_params("copula", None) is None
