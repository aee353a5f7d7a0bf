"""The synthetic-data guard: it names this issuer's releases (every generator, after half the rows are deleted)
by watermark and by its ledger, stays silent on real tables, refuses a synthetic training table unless allowed,
records depth and share in the new manifest, and enforces a policy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthgov.cli.app import app
from synthgov.errors import InputError, RefusedError
from synthgov.governance.guard import Policy, enforce, inspect_table
from synthgov.pipeline import generate

runner = CliRunner()
QUICK = {"ctgan": {"epochs": 2}, "tvae": {"epochs": 2}, "ddpm": {"epochs": 2}, "autoregressive": {"epochs": 2}}
GENERATORS = ["copula", "bayesnet", "autoregressive", "ctgan", "tvae", "ddpm"]


@pytest.fixture(scope="module")
def releases(adult: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    source = adult.sample(3000, random_state=4).reset_index(drop=True)
    out = {}
    with pytest.MonkeyPatch.context() as patch:  # the session's keystore (conftest), set before any test runs
        patch.setenv("SYNTHGOV_HOME", str(tmp_path_factory.getbasetemp() / "synthgov-home"))
        for name in GENERATORS:
            folder = tmp_path_factory.mktemp(f"guard-{name}")
            out[name] = generate(source, generator=name, seed=1, out=folder, params=QUICK.get(name)).data
        spec = Path(__file__).resolve().parents[1] / "examples" / "customers.yaml"
        out["rules"] = generate(spec, rows=3000, seed=1, out=tmp_path_factory.mktemp("guard-rules")).data
    return out


@pytest.mark.parametrize("name", [*GENERATORS, "rules"])
def test_every_generators_release_is_caught_after_deleting_half_its_rows(name: str, releases) -> None:
    for trial in range(3):
        half = releases[name].sample(frac=0.5, random_state=trial)
        verdict = inspect_table(half)
        kinds = {e.kind for e in verdict.evidence}
        assert verdict.synthetic and "watermark" in kinds and "ledger-rows" in kinds, verdict.describe()
        assert verdict.synthetic_share > 0.9 and verdict.generation_depth == 1
    if name == "rules":
        return
    # the watermark alone, once the rows are altered so that no row matches the ledger any more
    altered = releases[name].sample(frac=0.5, random_state=9).copy()
    altered["sex"] = np.where(altered["sex"] == "Male", "Female", "Male")
    assert {e.kind for e in inspect_table(altered).evidence} == {"watermark"}


def test_real_tables_raise_no_alarm(releases, adult: pd.DataFrame, german: pd.DataFrame) -> None:
    assert not inspect_table(adult).synthetic
    assert not inspect_table(german).synthetic
    rng = np.random.default_rng(0)
    for _ in range(100):
        rows = adult.sample(int(rng.integers(200, 5000)), random_state=int(rng.integers(2**31)))
        columns = [c for c in adult.columns if rng.random() < 0.8] or list(adult.columns)
        assert not inspect_table(rows[columns]).synthetic


def test_share_of_a_mixed_table_is_measured(releases, adult: pd.DataFrame) -> None:
    synthetic = releases["copula"].head(1500)
    mixed = pd.concat([adult.sample(1500, random_state=2), synthetic], ignore_index=True)
    verdict = inspect_table(mixed)
    assert verdict.synthetic and abs(verdict.synthetic_share - 0.5) <= 0.05
    marked_only = [e.share for e in verdict.evidence if e.kind == "watermark"]
    assert marked_only and abs(marked_only[0] - 0.5) <= 0.15  # the watermark's own estimate, without the ledger


def test_refused_unless_allowed_then_lineage_recorded(releases, tmp_path: Path) -> None:
    table = releases["copula"]
    with pytest.raises(RefusedError, match="allow-synthetic"):
        generate(table, generator="copula", seed=2, out=tmp_path / "no")
    child = generate(table, generator="copula", seed=2, out=tmp_path / "yes", allow_synthetic=True)
    lineage = child.manifest["statement"]["predicate"]["lineage"]
    assert lineage["generation_depth"] == 1 and lineage["synthetic_share_of_training"] > 0.9
    assert lineage["synthetic_input_allowed"] is True and lineage["parents"][0]["manifest_sha256"]
    grandchild = generate(child.data, generator="copula", seed=3, out=tmp_path / "deeper", allow_synthetic=True)
    assert grandchild.manifest["statement"]["predicate"]["lineage"]["generation_depth"] == 2
    with pytest.raises(RefusedError, match="generation depth 2 > policy maximum 1"):
        enforce(child.data, allow_synthetic=True, policy=Policy(max_generation_depth=1))
    with pytest.raises(RefusedError, match="synthetic share"):
        enforce(table, allow_synthetic=True, policy=Policy(max_synthetic_share=0.5))


def test_cli_guard_generate_refusal_policy_and_audit(releases, adult: pd.DataFrame, tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    adult.head(2000).to_csv(real, index=False)
    code = runner.invoke(app, ["generate", str(real), "-g", "copula", "--out", str(tmp_path / "r1")]).exit_code
    assert code == 0
    release_file = tmp_path / "r1" / "synthetic.parquet"
    result = runner.invoke(app, ["guard", str(release_file), "--json"])
    found = json.loads(result.stdout)
    assert result.exit_code == 1 and {"manifest", "ledger-file", "watermark"} <= {e["kind"] for e in found["evidence"]}
    assert runner.invoke(app, ["guard", str(real)]).exit_code == 0
    refused = runner.invoke(app, ["generate", str(release_file), "-g", "copula", "--out", str(tmp_path / "r2")])
    assert refused.exit_code == 3 and "refused" in refused.output and "--allow-synthetic" in refused.output
    assert runner.invoke(app, ["fit", str(release_file), "-g", "copula", "-m", str(tmp_path / "m")]).exit_code == 3
    policy = tmp_path / "policy.yaml"
    policy.write_text("max_generation_depth: 0\n")
    args = ["generate", str(release_file), "-g", "copula", "--allow-synthetic", "--policy", str(policy)]
    capped = runner.invoke(app, [*args, "--out", str(tmp_path / "r3")])
    assert capped.exit_code == 3 and "policy maximum 0" in capped.output
    policy.write_text("max_depth: 3\n")
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "r4")]).exit_code == 2  # a bad policy file
    allowed = runner.invoke(
        app, ["generate", str(release_file), "-g", "copula", "--allow-synthetic", "-o", str(tmp_path / "r5")]
    )
    assert allowed.exit_code == 0
    datasheet = (tmp_path / "r5" / "datasheet.md").read_text()
    assert "generation depth\n1" in datasheet or "generation depth 1" in datasheet.replace("\n", " ")
    from synthgov.config import home

    decisions = [json.loads(line) for line in (home() / "audit.jsonl").read_text().splitlines()]
    assert {"refused", "accepted"} <= {d["decision"] for d in decisions}


def test_bad_input() -> None:
    with pytest.raises(InputError):
        inspect_table([1, 2, 3])  # type: ignore[arg-type]


def test_a_forged_or_unsigned_manifest_is_evidence_of_nothing(adult: pd.DataFrame, tmp_path: Path) -> None:
    """Issue 24: a manifest beside a real table claiming depth 7 used to flow into the next signed manifest."""
    real = adult.sample(800, random_state=11).reset_index(drop=True)
    signed = tmp_path / "signed"
    generate(real, generator="copula", seed=2, out=signed)
    document = json.loads((signed / "manifest.json").read_text())
    document["statement"]["predicate"]["lineage"]["generation_depth"] = 7  # the signature no longer holds
    folder = tmp_path / "forged"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(document))
    real.to_csv(folder / "table.csv", index=False)
    verdict = inspect_table(real, folder / "table.csv")
    assert not verdict.synthetic and verdict.generation_depth == 0
    assert any("not signed by this keystore's key" in note for note in verdict.notes)
    child = generate(folder / "table.csv", generator="copula", seed=3, out=tmp_path / "child")
    assert child.manifest["statement"]["predicate"]["lineage"]["generation_depth"] == 0
    audit = [json.loads(line) for line in (Path(os.environ["SYNTHGOV_HOME"]) / "audit.jsonl").read_text().splitlines()]
    assert any("not signed by this keystore's key" in note for note in audit[-1]["not_evidence"])
    # the untouched, signed manifest still counts, with its verified depth
    (folder / "manifest.json").write_text((signed / "manifest.json").read_text())
    kinds = {e.kind: e for e in inspect_table(real, folder / "table.csv").evidence}
    assert kinds["manifest"].generation_depth == 0 and "signature verified" in kinds["manifest"].detail


def test_row_hashes_are_those_of_every_cell_as_text(adult: pd.DataFrame) -> None:
    # the ledger's row hashes (distinct values made text once) against the rule written cell by cell: numbers as
    # float64, everything else as pandas' "string" text with one marker for missing values; any dtype of a column
    from synthgov.release.ledger import row_hashes

    rng = np.random.default_rng(0)
    table = adult.head(3000).assign(
        flag=rng.choice([True, False], 3000),
        mixed=pd.Series(rng.choice(np.array([1, "1", None, 2.5], dtype=object), 3000)),
        kind=pd.Series(rng.choice(["x", "y", None], 3000)).astype("category"),
        count=pd.array(rng.choice([1, None], 3000), dtype="Int64"),
        day=pd.to_datetime(rng.choice(["2020-01-01", "2021-05-03", None], 3000)),
    )
    cells = {}
    for column in sorted(table.columns):
        series = table[column]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            cells[column] = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
        else:
            cells[column] = np.array([("\x00NA" if pd.isna(v) else v) for v in series.astype("string")], dtype=object)
    expected = pd.util.hash_pandas_object(pd.DataFrame(cells), index=False).to_numpy(dtype=np.uint64)
    assert (row_hashes(table) == expected).all()
    shuffled = table[list(reversed(table.columns))].astype({"education": "category", "sex": object})
    assert (row_hashes(shuffled) == expected).all()  # column order and a text column's dtype do not matter
