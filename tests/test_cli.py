"""The command line: the generate contract, schema/fit/sample/demo, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthgov.cli.app import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def table(tmp_path: Path, mixed: pd.DataFrame) -> Path:
    path = tmp_path / "data.csv"
    mixed.to_csv(path, index=False)
    return path


def test_generate_writes_the_release_folder(tmp_path: Path, table: Path, mixed: pd.DataFrame) -> None:
    out = tmp_path / "rel"
    code, text = run("generate", str(table), "--out", str(out), "--seed", "3", "--csv")
    assert code == 0, text
    data = pd.read_parquet(out / "synthetic.parquet")
    assert len(data) == len(mixed) and list(data.columns) == list(mixed.columns)
    assert (out / "synthetic.csv").exists() and (out / "schema.yaml").exists()
    again = tmp_path / "rel2"
    assert run("generate", str(table), "--out", str(again), "--seed", "3")[0] == 0
    assert pd.read_parquet(again / "synthetic.parquet").equals(data)  # same seed, same data


def test_generate_options(tmp_path: Path, table: Path) -> None:
    out = tmp_path / "rel"
    code, text = run(
        "generate", str(table), "-g", "bayesnet", "--rows", "77", "--out", str(out), "-c", "group=rare", "--save-model"
    )
    assert code == 0, text
    data = pd.read_parquet(out / "synthetic.parquet")
    assert len(data) == 77 and (data["group"] == "rare").all()
    code, text = run("sample", str(out / "model.synthgov"), "--rows", "10", "--out", str(tmp_path / "s.csv"))
    assert code == 0, text
    assert len(pd.read_csv(tmp_path / "s.csv")) == 10


def test_generate_from_a_rules_spec(tmp_path: Path) -> None:
    spec = Path(__file__).resolve().parents[1] / "examples" / "customers.yaml"
    code, text = run("generate", str(spec), "--rows", "500", "--out", str(tmp_path / "r"))
    assert code == 0, text
    assert len(pd.read_parquet(tmp_path / "r" / "synthetic.parquet")) == 500
    code, text = run("generate", str(spec), "-g", "copula", "--out", str(tmp_path / "x"))
    assert code == 2 and "rules spec" in text


def test_schema_fit_sample(tmp_path: Path, table: Path) -> None:
    schema_path = tmp_path / "schema.yaml"
    code, text = run("schema", str(table), "--out", str(schema_path))
    assert code == 0, text
    assert "record_id" in schema_path.read_text()
    model = tmp_path / "m.synthgov"
    code, text = run("fit", str(table), "--schema", str(schema_path), "--model", str(model), "--seed", "1")
    assert code == 0, text
    code, text = run("sample", str(model), "-n", "25", "-o", str(tmp_path / "out.parquet"), "--seed", "2")
    assert code == 0, text
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 25


def test_demo_and_generators(tmp_path: Path) -> None:
    code, text = run("demo", "--out", str(tmp_path / "demo"))
    assert code == 0, text
    data = pd.read_parquet(tmp_path / "demo" / "synthetic.parquet")
    assert len(data) == 32_561 and "income" in data.columns
    assert str(tmp_path / "demo") in text.replace("\n", "")
    # the demo's evaluation runs before signing: its report is covered and its figures are in the manifest
    predicate = json.loads((tmp_path / "demo" / "manifest.json").read_text())["statement"]["predicate"]
    assert {e["path"] for e in predicate["integrity"]["reports"]} == {"report/report.json", "report/report.html"}
    report = json.loads((tmp_path / "demo" / "report" / "report.json").read_text())
    assert predicate["evaluation"]["figures"]["utility.tstr_auc"]["value"] == report["utility"]["tstr_auc"]
    assert predicate["evaluation"]["holdout_rows"] == report["inputs"]["holdout_rows"] > 0
    assert run("verify", str(tmp_path / "demo"))[0] == 0
    code, text = run("generators")
    assert code == 0 and "copula" in text and "bayesnet" in text and "rules" in text


def _one_line_error(code: int, text: str, needle: str) -> None:
    assert code == 2, text
    # without a terminal, the steps that ran before the error print their progress lines ("step ...", "done in")
    lines = [line for line in text.strip().splitlines() if line.strip() and not _progress_line(line)]
    assert len(lines) == 1 and lines[0].startswith("error:"), text
    assert needle in lines[0], text
    assert "Traceback" not in text


def _progress_line(line: str) -> bool:
    return line.endswith(" ...") or ": done in " in line


def test_bad_input_gives_one_line_and_exit_code_2(tmp_path: Path, table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthgov.cli import ui

    # a narrow console (CI logs are 80 columns or less): long progress and error lines must not wrap
    monkeypatch.setattr(ui.err, "width", 40)
    _one_line_error(*run("generate", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")), "file not found")
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x81\x82\x00\x00binary")
    _one_line_error(*run("generate", str(garbage), "--out", str(tmp_path / "o")), "cannot read CSV")
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b,c\n")
    _one_line_error(*run("generate", str(empty), "--out", str(tmp_path / "o")), "empty")
    _one_line_error(*run("generate", str(table), "-c", "nope=1", "--out", str(tmp_path / "o")), "unknown column")
    _one_line_error(*run("generate", str(table), "-c", "group=zzz", "--out", str(tmp_path / "o")), "never appears")
    schema = tmp_path / "s.yaml"
    run("schema", str(table), "--out", str(schema))
    other = tmp_path / "other.csv"
    pd.read_csv(table).drop(columns=["x"]).to_csv(other, index=False)
    _one_line_error(
        *run("generate", str(other), "--schema", str(schema), "--out", str(tmp_path / "o")), "schema does not match"
    )
    _one_line_error(*run("generate", str(table), "-g", "nope", "--out", str(tmp_path / "o")), "unknown generator")
    _one_line_error(*run("generate", str(table), "--rows", "0", "--out", str(tmp_path / "o")), "--rows")
    _one_line_error(*run("sample", str(tmp_path / "nomodel.synthgov"), "-n", "5"), "model file not found")


def test_help_does_not_import_the_heavy_libraries() -> None:
    code = (
        "import sys; from synthgov.cli.app import app; "
        "print(sorted(m for m in ('pandas', 'numpy', 'scipy', 'sklearn', 'torch', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_evaluate_command(tmp_path: Path, mixed: pd.DataFrame) -> None:
    real, synth = tmp_path / "real.csv", tmp_path / "synth.parquet"
    mixed.to_csv(real, index=False)
    code, text = run("generate", str(real), "--out", str(tmp_path / "rel"), "--seed", "1")
    assert code == 0, text
    synth = tmp_path / "rel" / "synthetic.parquet"
    code, text = run("evaluate", str(real), str(synth), "--target", "flag", "--quick", "--out", str(tmp_path / "rep"))
    assert code == 0, text
    assert (tmp_path / "rep" / "report.json").exists() and (tmp_path / "rep" / "report.html").exists()
    assert "Column Shapes" in text
    _one_line_error(
        *run("evaluate", str(real), str(synth), "--target", "nope", "--out", str(tmp_path / "r2")),
        "unknown column 'nope'",
    )
    _one_line_error(*run("evaluate", str(real), str(tmp_path / "missing.parquet")), "file not found")
