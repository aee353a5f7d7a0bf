"""Signed means measured (issue 24): copies measured before signing, the evaluation inside the signature, cost
figures with their methods, and the generate path as small named stages."""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthgov.pipeline as pipeline
from synthgov.cli.app import app
from synthgov.pipeline import cost, stages
from synthgov.pipeline.run import ReleaseOptions

runner = CliRunner()


def low_cardinality(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.integers(0, 5, n), "b": rng.choice(["x", "y"], n), "c": rng.choice(["p", "q"], n)})


@pytest.fixture(scope="module")
def small_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    os.environ["SYNTHGOV_HOME"] = str(tmp_path_factory.getbasetemp() / "synthgov-home")  # as conftest's
    folder = tmp_path_factory.mktemp("truthful")
    table = low_cardinality()
    table.to_csv(folder / "low.csv", index=False)
    result = runner.invoke(
        app,
        ["generate", str(folder / "low.csv"), "-g", "copula", "--seed", "1", "--out", str(folder / "r"), "--evaluate"],
    )
    assert result.exit_code == 0, result.output
    return folder / "r", table


def _predicate(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())["statement"]["predicate"]


def test_the_datasheet_states_the_measured_copy_share(small_release) -> None:
    folder, table = small_release
    released = pd.read_parquet(folder / "synthetic.parquet")
    keys = set(map(tuple, table.astype(str).to_numpy()))
    expected = sum(tuple(row) in keys for row in released.astype(str).to_numpy())  # counted independently here
    copies = _predicate(folder)["copies"]
    assert copies["exact_copies"] == expected and copies["released_rows"] == len(released)
    assert copies["training_distinct_rows"] == len(keys) and copies["small_support"] is True
    sheet = (folder / "datasheet.md").read_text()
    assert f"{expected:,} of {len(released):,} rows" in sheet and "by construction" not in sheet
    assert "an exact-copy count cannot tell such a value combination from memorisation" in sheet


def test_the_evaluation_is_signed_and_an_edited_report_fails_verify(small_release, tmp_path: Path) -> None:
    folder, _ = small_release
    evaluation = _predicate(folder)["evaluation"]
    report = json.loads((folder / "report" / "report.json").read_text())
    assert evaluation["figures"]["fidelity.overall"]["value"] == pytest.approx(report["fidelity"]["overall"])
    covered = {e["path"] for e in _predicate(folder)["integrity"]["reports"]}
    assert covered == {"report/report.json", "report/report.html"}
    assert runner.invoke(app, ["verify", str(folder)]).exit_code == 0
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    report["fidelity"]["overall"] = 0.99
    (copy / "report" / "report.json").write_text(json.dumps(report))
    result = runner.invoke(app, ["verify", str(copy)])
    assert result.exit_code == 1 and "report/report.json: sha256 differs" in result.output


def test_cost_is_measured_per_stage_with_its_methods(small_release) -> None:
    compute = _predicate(small_release[0])["compute"]
    assert list(compute["stages"]) == [
        "claim", "keys", "guard", "rules", "fairness", "charge", "fit", "sample", "privacy_filter", "watermark",
        "measure", "write", "evaluate"
    ]  # fmt: skip
    for stage in compute["stages"].values():
        assert stage["wall_seconds"] >= 0 and stage["cpu_seconds"] >= 0 and stage["gpu_seconds"] == 0
    assert compute["wall_seconds"] == pytest.approx(
        sum(s["wall_seconds"] for s in compute["stages"].values()), abs=0.01
    )
    assert compute["peak_memory_mb"] > 50  # a Python process with pandas and torch is larger than this
    assert {"wall_seconds", "cpu_seconds", "gpu_seconds", "peak_memory_mb", "energy_wh"} <= set(compute["methods"])


def test_gpu_seconds_are_the_stages_that_ran_on_cuda(monkeypatch) -> None:
    class OnCuda:
        device_ = "cuda:0"

    synced = []
    monkeypatch.setattr(cost, "_synchronize", lambda: synced.append(1))
    meter = cost.Meter()
    with meter.stage("fit", lambda: OnCuda()):
        pass
    with meter.stage("write", lambda: None):
        pass
    assert meter.stages["fit"]["gpu_seconds"] == meter.stages["fit"]["wall_seconds"] and synced == [1]
    assert meter.stages["write"]["gpu_seconds"] == 0.0


def test_peak_memory_without_getrusage(monkeypatch) -> None:
    # Windows has no `resource` module: the old code failed to import there
    monkeypatch.setitem(sys.modules, "resource", None)
    monkeypatch.setitem(sys.modules, "psutil", None)
    peak, method = cost.peak_memory_mb()
    assert peak is None and "not measured" in method
    monkeypatch.delitem(sys.modules, "resource")
    peak, method = cost.peak_memory_mb()
    assert peak > 0 and "ru_maxrss" in method


def test_a_holdout_adds_the_dcr_share(tmp_path: Path, adult: pd.DataFrame, adult_test: pd.DataFrame) -> None:
    release = pipeline.generate(
        adult.sample(2000, random_state=1),
        generator="copula",
        seed=0,
        out=tmp_path / "r",
        holdout=adult_test.head(2000),
    )
    copies = release.manifest["statement"]["predicate"]["copies"]
    assert 0.3 < copies["dcr_share"] < 0.7 and "DCR share" in copies["dcr_method"]
    from synthgov.evaluation.privacy import DCR_SYNTHETIC_ROWS

    assert f"up to {DCR_SYNTHETIC_ROWS:,})" in copies["dcr_method"]  # the method names the sample really drawn
    assert 0.3 < copies["closer_than_typical_holdout_share"] < 0.7 and copies["typical_holdout_distance"] > 0
    assert "closer to a training row than to a holdout row" in (tmp_path / "r" / "datasheet.md").read_text()
    # rows copied from the training table sit closer than unseen real rows do: the measure says so
    real = adult.sample(2000, random_state=1)
    fresh = pipeline.generate(real, generator="copula", seed=0, out=tmp_path / "r2", holdout=adult_test.head(2000))
    measured = fresh.manifest["statement"]["predicate"]["copies"]
    from synthgov.evaluation.prepare import Encoding, load_tables
    from synthgov.pipeline.copies import closer_than_typical_holdout

    tables = load_tables(real, real.sample(frac=1.0, random_state=2), adult_test.head(2000))
    copied = closer_than_typical_holdout(tables, Encoding.fit(tables), np.random.default_rng(0))
    assert copied["closer_than_typical_holdout_share"] > 0.95 > measured["closer_than_typical_holdout_share"]


def test_unknown_options_are_a_clear_error() -> None:
    from synthgov.errors import InputError

    with pytest.raises(InputError, match="unknown option"):
        pipeline.generate(low_cardinality(), rows_count=5)


def test_generate_and_every_stage_are_short() -> None:
    functions = [pipeline.generate, pipeline.run_stages, *pipeline.MODEL_STAGES, *pipeline.SAMPLE_STAGES]
    functions += list(pipeline.RELEASE_STAGES)
    assert [f.__name__ for f in functions[2:]] == [
        "guard", "rules", "fairness", "charge", "fit", "sample", "privacy_filter", "watermark", "measure", "write",
        "evaluate", "sign", "record", "publish", "settle"
    ]  # fmt: skip
    for function in functions:
        assert len(inspect.getsource(function).splitlines()) < 40, function.__name__
    assert set(inspect.signature(ReleaseOptions).parameters) >= {"evaluate", "holdout", "target", "sensitive"}
    assert all(inspect.getmodule(f) is stages for f in functions[2:])


def test_a_rules_spec_mapping_runs_through_the_stages(tmp_path: Path) -> None:
    spec = {"columns": {"a": {"type": "uniform", "low": 0, "high": 1}}}
    release = pipeline.generate(spec, generator="rules", rows=50, seed=1, out=tmp_path / "r")
    assert release.generator == "rules" and len(release.data) == 50 and release.data["a"].between(0, 1).all()
    predicate = release.manifest["statement"]["predicate"]
    assert predicate["copies"] is None and "no real rows" in (tmp_path / "r" / "datasheet.md").read_text()
    assert "guard" in predicate["compute"]["stages"] and "measure" in predicate["compute"]["stages"]


def test_an_edited_datasheet_or_schema_fails_verify(small_release, tmp_path: Path) -> None:
    import shutil

    folder, _ = small_release
    documents = {e["path"] for e in _predicate(folder)["integrity"]["documents"]}
    assert documents == {"datasheet.md", "schema.yaml"}
    for name, old, new in [("datasheet.md", "400 of 400 rows", "0 of 400 rows"), ("schema.yaml", "kind:", "kind: ")]:
        copy = tmp_path / name
        shutil.copytree(folder, copy)
        text = (copy / name).read_text()
        assert old in text
        (copy / name).write_text(text.replace(old, new, 1))
        result = runner.invoke(app, ["verify", str(copy)])
        assert result.exit_code == 1 and f"{name}: sha256 differs" in result.output, result.output


def test_fresh_columns_are_measured(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import make_mixed

    real = make_mixed(300, seed=2)
    release = pipeline.generate(real, generator="copula", seed=1, out=tmp_path / "r")
    copies = release.manifest["statement"]["predicate"]["copies"]
    released = release.data["record_id"]
    expected = int(sum(v in set(real["record_id"]) for v in released))  # counted here, value by value
    assert copies["fresh_columns"] == {"record_id": expected} and expected == 0  # ids continue after the largest
    assert (
        "Column 'record_id': 0 released values equal a training value." in (tmp_path / "r" / "datasheet.md").read_text()
    )
