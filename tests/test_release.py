"""Signed releases: keystore, manifest, canonical signing, and verification of intact and tampered releases."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthgov.cli.app import app
from synthgov.pipeline import generate
from synthgov.release import signing
from synthgov.release.keys import Keystore

runner = CliRunner()


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, adult: pd.DataFrame) -> Path:
    os.environ["SYNTHGOV_HOME"] = str(tmp_path_factory.getbasetemp() / "synthgov-home")  # as conftest
    folder = tmp_path_factory.mktemp("release")
    data = adult.sample(9000, random_state=0).reset_index(drop=True)
    generate(data, generator="copula", seed=3, out=folder, csv=True, party="Test team", source_licence="CC BY 4.0")
    return folder


def verify(folder: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["verify", str(folder), *extra])
    return result.exit_code, result.output


def copy(release: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(release, target)
    return target


def test_release_folder_is_complete_and_valid(release: Path) -> None:
    names = {p.name for p in release.iterdir()}
    assert {
        "synthetic.parquet",
        "synthetic.csv",
        "schema.yaml",
        "manifest.json",
        "datasheet.md",
        "provenance.prov.json",
        "croissant.json",
    } <= names
    code, text = verify(release)
    assert code == 0 and "VALID" in text
    doc = json.loads((release / "manifest.json").read_text())
    predicate = doc["statement"]["predicate"]
    for key in [
        "release",
        "accountable_party",
        "generator",
        "code",
        "seed_commitment",
        "source",
        "synthetic_category",
        "privacy",
        "evaluation",
        "watermark",
        "compute",
        "lineage",
        "use",
        "integrity",
    ]:
        assert key in predicate, key
    assert predicate["accountable_party"] == "Test team"
    assert predicate["lineage"]["generation_depth"] == 0
    assert predicate["generator"]["parameters"]["seed"] == 3
    assert predicate["source"]["rows"] == 9000 and predicate["source"]["licence"] == "CC BY 4.0"
    assert predicate["compute"]["cpu_seconds"] > 0 and predicate["compute"]["peak_memory_mb"] > 0
    assert "3" not in predicate["seed_commitment"].split(":")[0]  # a digest, not the seed


def test_secrets_stay_in_the_owner_only_keystore(release: Path) -> None:
    store = Keystore.default()
    for name in ("signing.pem", "watermark.key", "index.json"):
        assert stat.S_IMODE((store.folder / name).stat().st_mode) == 0o600, name
    secret_hex = store.watermark_secret().hex()
    private_pem = (store.folder / "signing.pem").read_text()
    for name in ("manifest.json", "datasheet.md"):
        text = (release / name).read_text()
        assert secret_hex not in text and "PRIVATE KEY" not in text and private_pem[40:80] not in text


def test_signature_is_dsse_over_the_canonical_statement(release: Path) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    doc = json.loads((release / "manifest.json").read_text())
    payload = signing.canonical(doc["statement"])
    key = load_pem_public_key(Keystore.default().public_pem())
    signature = base64.b64decode(doc["signatures"][0]["sig"])
    key.verify(signature, b"DSSEv1 %d %s %d %s" % (28, b"application/vnd.in-toto+json", len(payload), payload))
    assert doc["statement"]["_type"] == "https://in-toto.io/Statement/v1"
    # Reformatting the JSON keeps it valid (RFC 8785 canonical form is what is signed).
    assert payload == signing.canonical(json.loads(json.dumps(doc["statement"], indent=7, sort_keys=True)))


def test_reformatted_manifest_still_verifies(release: Path, tmp_path: Path) -> None:
    folder = copy(release, tmp_path)
    doc = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(doc, indent=None, sort_keys=True))
    assert verify(folder)[0] == 0


def test_a_changed_cell_names_its_chunk(release: Path, tmp_path: Path) -> None:
    folder = copy(release, tmp_path)
    data = pd.read_parquet(folder / "synthetic.parquet")
    data.loc[5000, "age"] = data.loc[5000, "age"] + 1
    data.to_parquet(folder / "synthetic.parquet", index=False)
    code, text = verify(folder)
    assert code == 1 and "synthetic.parquet" in text and "chunk 1 (rows 4096-8191)" in text


def test_a_deleted_row_is_found(release: Path, tmp_path: Path) -> None:
    folder = copy(release, tmp_path)
    data = pd.read_csv(folder / "synthetic.csv")
    data.drop(index=7000).to_csv(folder / "synthetic.csv", index=False)
    code, text = verify(folder)
    assert code == 1 and "8,999 rows where the manifest records 9,000" in text and "chunk 1" in text


def test_an_edited_field_is_named(release: Path, tmp_path: Path) -> None:
    folder = copy(release, tmp_path)
    doc = json.loads((folder / "manifest.json").read_text())
    doc["statement"]["predicate"]["privacy"]["epsilon"] = 1.0
    (folder / "manifest.json").write_text(json.dumps(doc))
    code, text = verify(folder)
    assert code == 1 and "manifest fields changed: privacy" in text


def test_a_swapped_signature_fails(release: Path, tmp_path: Path, adult: pd.DataFrame) -> None:
    other = tmp_path / "other"
    generate(adult.head(500), generator="copula", seed=9, out=other)
    folder = copy(release, tmp_path)
    doc = json.loads((folder / "manifest.json").read_text())
    doc["signatures"] = json.loads((other / "manifest.json").read_text())["signatures"]
    (folder / "manifest.json").write_text(json.dumps(doc))
    code, text = verify(folder)
    assert code == 1 and "does not match the manifest" in text


def test_a_wrong_public_key_fails(release: Path, tmp_path: Path) -> None:
    stranger = Keystore(tmp_path / "stranger" / "keys")
    stranger.init()
    pem = tmp_path / "stranger.pem"
    pem.write_bytes(stranger.public_pem())
    code, text = verify(release, "--public-key", str(pem))
    assert code == 1 and "not with the trusted key" in text
    own = tmp_path / "own.pem"
    assert runner.invoke(app, ["keys", "export-public", "--out", str(own)]).exit_code == 0
    assert verify(release, "--public-key", str(own))[0] == 0


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"statement": 3}', b"\x00\xff\xfe"])
def test_truncated_or_garbage_manifests_are_bad_input(release: Path, tmp_path: Path, content: bytes) -> None:
    folder = copy(release, tmp_path)
    (folder / "manifest.json").write_bytes(content)
    code, text = verify(folder)
    assert code == 2 and text.strip().startswith("error:")


def test_keys_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHGOV_HOME", str(tmp_path / "h"))
    result = runner.invoke(app, ["keys", "init"])
    assert result.exit_code == 0 and "ed25519:" in result.output
    again = runner.invoke(app, ["keys", "init"])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, ["keys", "init", "--force"]).exit_code == 0
    exported = runner.invoke(app, ["keys", "export-public"])
    assert exported.output.startswith("-----BEGIN PUBLIC KEY-----")
    assert verify(tmp_path / "nowhere")[0] == 2


def test_keystore_restores_a_given_watermark_secret(tmp_path: Path) -> None:
    from synthgov.errors import InputError
    from synthgov.release.keys import watermark_key_id

    secret = bytes(range(32))
    index = Keystore(tmp_path / "restored").init(watermark_secret=secret)
    assert Keystore(tmp_path / "restored").watermark_secret() == secret
    assert index["watermark_key_id"] == watermark_key_id(secret)
    drawn = Keystore(tmp_path / "drawn").init()  # without one, a fresh random secret
    assert drawn["watermark_key_id"] != index["watermark_key_id"]
    with pytest.raises(InputError, match="16 bytes"):
        Keystore(tmp_path / "short").init(watermark_secret=b"too short")
    assert not Keystore(tmp_path / "short").exists()


def test_prov_json_round_trips_through_prov(release: Path) -> None:
    from prov.model import ProvDocument

    text = (release / "provenance.prov.json").read_text()
    document = ProvDocument.deserialize(content=text, format="json")
    again = ProvDocument.deserialize(content=document.serialize(format="json"), format="json")
    assert document == again
    kinds = {type(r).__name__ for r in document.get_records()}
    assert {"ProvEntity", "ProvActivity", "ProvAgent", "ProvGeneration", "ProvUsage", "ProvDerivation"} <= kinds


def test_croissant_validates_with_mlcroissant(release: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlc = pytest.importorskip("mlcroissant")
    monkeypatch.chdir(release)
    dataset = mlc.Dataset(jsonld="croissant.json")
    assert dataset.metadata.issues.report() == ""
    record = next(iter(dataset.records("synthetic")))
    assert set(record) == {f"synthetic/{c}" for c in pd.read_parquet(release / "synthetic.parquet").columns}
    jsonld = json.loads((release / "croissant.json").read_text())
    assert jsonld["synthgov:isSynthetic"] is True and jsonld["rai:dataCollectionType"] == "Synthetic data"


def test_an_edited_export_is_found(release: Path, tmp_path: Path) -> None:
    folder = copy(release, tmp_path)
    jsonld = json.loads((folder / "croissant.json").read_text())
    jsonld["synthgov:isSynthetic"] = False
    (folder / "croissant.json").write_text(json.dumps(jsonld))
    code, text = verify(folder)
    assert code == 1 and "croissant.json: sha256 differs" in text


def test_the_manifest_states_where_the_fit_went_and_what_ended_training(tmp_path: Path, adult: pd.DataFrame) -> None:
    """The default generator under a time budget: the signed compute section names each step of the fit and that
    the budget (not the epochs) ended training; the datasheet says it in words; verify still passes."""
    from synthgov.cli import run

    data = tmp_path / "data.csv"
    adult.head(1500).to_csv(data, index=False)
    out = tmp_path / "release"
    params = ["--param", "epochs=100000", "--param", "max_seconds=1.5", "--param", "patience=null"]
    assert run(["generate", str(data), "-g", "autoregressive", *params, "--seed", "0", "--out", str(out)]) == 0
    compute = json.loads((out / "manifest.json").read_text())["statement"]["predicate"]["compute"]
    steps, training = compute["fit_steps"], compute["training"]
    assert {"analyze", "encode", "train"} <= set(steps) and "fit_steps" in compute["methods"]
    assert 1.5 <= steps["train"] <= compute["stages"]["fit"]["wall_seconds"] + 0.05
    assert training["stopped_by"] == "the time budget" and training["time_budget_seconds"] == 1.5
    assert 1 <= training["epochs_run"] < training["epochs_allowed"] == 100000
    datasheet = (out / "datasheet.md").read_text()
    assert "ended by the time budget, time budget 1.5 s" in datasheet and "the fit by step: analyze" in datasheet
    assert run(["verify", str(out)]) == 0
