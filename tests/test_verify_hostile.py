"""verify against manifests that lie (issue 24): the Merkle root is checked and domain-separated, paths never leave
the release folder, nothing is read after a bad signature, malformed fields are one clear error (exit 2)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthgov.cli.app import app
from synthgov.pipeline import generate
from synthgov.release import integrity, signing
from synthgov.release.keys import Keystore, raw_public, signing_key_id
from synthgov.release.manifest import field_digests

runner = CliRunner()


def rfc6962_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written from the RFC's recursive definition (split at the largest power of 2 < n)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + rfc6962_root(leaves[:k]) + rfc6962_root(leaves[k:])).digest()


@pytest.mark.parametrize("n", range(0, 18))
def test_merkle_root_is_rfc6962(n: int) -> None:
    leaves = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]
    assert integrity.merkle_root(leaves) == rfc6962_root([bytes.fromhex(h) for h in leaves]).hex()


def test_leaves_and_nodes_are_domain_separated() -> None:
    a, b, c = (hashlib.sha256(x).hexdigest() for x in (b"a", b"b", b"c"))
    node = hashlib.sha256(b"\x01" + bytes.fromhex(a) + bytes.fromhex(b)).hexdigest()
    legacy = integrity.LEGACY_MERKLE_SCHEME
    # the first tree let an inner node pass for a leaf, and a doubled last chunk leave the root unchanged
    assert integrity.merkle_root([a, b], legacy) == integrity.merkle_root([node], legacy)
    assert integrity.merkle_root([a, b, c], legacy) == integrity.merkle_root([a, b, c, c], legacy)
    assert integrity.merkle_root([a, b]) != integrity.merkle_root([node])
    assert integrity.merkle_root([a, b, c]) != integrity.merkle_root([a, b, c, c])


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, adult: pd.DataFrame) -> Path:
    os.environ["SYNTHGOV_HOME"] = str(tmp_path_factory.getbasetemp() / "synthgov-home")  # as conftest's
    folder = tmp_path_factory.mktemp("hostile") / "release"
    data = adult.sample(5000, random_state=0).reset_index(drop=True)
    generate(data, generator="copula", seed=3, out=folder)
    return folder


def edited(release: Path, tmp_path: Path, change: Any, resign: bool = True) -> Path:
    """A copy of the release whose manifest ``change(document)`` edited, signed again with the trusted key (so the
    signature holds and what is checked is the verifier's handling of the content)."""
    folder = tmp_path / "copy"
    shutil.copytree(release, folder)
    document = json.loads((folder / "manifest.json").read_text())
    change(document)
    if resign:
        key = Keystore.default().signing_key()
        key_id = signing_key_id(raw_public(key.public_key()))
        document["signatures"] = [signing.sign(document["statement"], key, key_id)]
        document["field_digests"] = field_digests(document["statement"]["predicate"])
    (folder / "manifest.json").write_text(json.dumps(document))
    return folder


def verify(folder: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["verify", str(folder)])
    return result.exit_code, result.output


def _files(document: dict) -> list[dict]:
    return document["statement"]["predicate"]["integrity"]["files"]


def test_an_intact_release_checks_its_merkle_root(release: Path) -> None:
    code, text = verify(release)
    assert code == 0 and "Merkle root matches" in text and "row-chunk digests match the rows" in text, text


def test_a_wrong_merkle_root_fails_even_when_signed(release: Path, tmp_path: Path) -> None:
    def change(document: dict) -> None:
        _files(document)[0]["merkle_root"] = hashlib.sha256(b"forged").hexdigest()

    code, text = verify(edited(release, tmp_path, change))
    assert code == 1 and "Merkle root does not match" in text


def test_chunk_digests_that_are_not_the_rows_fail(release: Path, tmp_path: Path) -> None:
    def change(document: dict) -> None:
        entry = _files(document)[0]
        entry["chunk_hashes"][0] = hashlib.sha256(b"other rows").hexdigest()
        entry["merkle_root"] = integrity.merkle_root(entry["chunk_hashes"])

    code, text = verify(edited(release, tmp_path, change))
    assert code == 1 and "not those of its rows" in text


@pytest.mark.parametrize("path", ["../outside.parquet", "/tmp/outside.parquet", "a/../../outside.parquet", ""])
def test_paths_outside_the_release_are_refused(release: Path, tmp_path: Path, path: str) -> None:
    # a file outside the release with the very bytes the manifest names: the old verifier followed the path
    outside = tmp_path / "outside.parquet"
    shutil.copy(release / "synthetic.parquet", outside)

    def change(document: dict) -> None:
        _files(document)[0]["path"] = path if not path.startswith("/") else str(outside)
        document["statement"]["subject"][0]["name"] = _files(document)[0]["path"]

    code, text = verify(edited(release, tmp_path, change))
    assert code == 2 and text.startswith("error:") and "release folder" in text and len(text.splitlines()) <= 2


def test_a_link_out_of_the_release_is_refused(release: Path, tmp_path: Path) -> None:
    folder = edited(release, tmp_path, lambda document: None)
    target = tmp_path / "elsewhere.parquet"
    (folder / "synthetic.parquet").rename(target)
    (folder / "synthetic.parquet").symlink_to(target)
    code, text = verify(folder)
    assert code == 2 and "leads outside the release folder" in text


def test_nothing_is_read_after_a_bad_signature(release: Path, tmp_path: Path, monkeypatch) -> None:
    def change(document: dict) -> None:
        document["statement"]["predicate"]["lineage"]["generation_depth"] = 0 + 7

    folder = edited(release, tmp_path, change, resign=False)
    opened: list[str] = []
    monkeypatch.setattr(integrity, "file_sha256", lambda path: opened.append(str(path)) or "0" * 64)
    monkeypatch.setattr(integrity, "read_data", lambda path: opened.append(str(path)) or pd.DataFrame())
    code, text = verify(folder)
    assert code == 1 and "does not match the manifest" in text and "not checked: the data files" in text
    assert opened == []


MALFORMED = {
    "chunk_rows zero": lambda d: _files(d)[0].update(chunk_rows=0),
    "rows negative": lambda d: _files(d)[0].update(rows=-1),
    "rows as text": lambda d: _files(d)[0].update(rows="5000"),
    "sha256 missing": lambda d: _files(d)[0].pop("sha256"),
    "sha256 not hex": lambda d: _files(d)[0].update(sha256="zz" * 32),
    "chunk list short": lambda d: _files(d)[0].update(chunk_hashes=[]),
    "chunk digest number": lambda d: _files(d)[0]["chunk_hashes"].__setitem__(0, 7),
    "files not a list": lambda d: d["statement"]["predicate"]["integrity"].update(files={"a": 1}),
    "file entry a string": lambda d: d["statement"]["predicate"]["integrity"].update(files=["synthetic.parquet"]),
    "integrity missing": lambda d: d["statement"]["predicate"].pop("integrity"),
    "subject not a list": lambda d: d["statement"].update(subject="x"),
    "unknown merkle scheme": lambda d: _files(d)[0].update(merkle_scheme="md5-tree"),
    "export without sha": lambda d: d["statement"]["predicate"]["integrity"]["exports"][0].pop("sha256"),
    "watermark a list": lambda d: d["statement"]["predicate"].update(watermark=[1]),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_fields_are_one_clear_error(release: Path, tmp_path: Path, case: str) -> None:
    code, text = verify(edited(release, tmp_path, MALFORMED[case]))
    assert code == 2, text
    assert text.startswith("error: manifest field") and len(text.strip().splitlines()) == 1, text
