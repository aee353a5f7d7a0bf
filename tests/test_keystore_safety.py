"""The keystore and the issuer's records (issue 24): private modes whatever the umask, a warning for secrets
others can read, export-public that creates nothing, an encrypted signing key, damaged files as clear errors."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthgov.cli import run
from synthgov.release.keys import Keystore


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home" / "synthgov"  # its parent does not exist either
    monkeypatch.setenv("SYNTHGOV_HOME", str(home))
    monkeypatch.delenv("SYNTHGOV_KEY_PASSPHRASE", raising=False)
    old = os.umask(0o022)  # a common, permissive umask: modes must not depend on it
    yield home
    os.umask(old)


@pytest.fixture
def table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": rng.normal(size=300).round(3), "g": rng.choice(["a", "b"], 300)}).to_csv(path, index=False)
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_home_records_and_secrets_are_private(fresh_home: Path, table: Path, tmp_path: Path) -> None:
    assert run(["generate", str(table), "-g", "copula", "--seed", "1", "--out", str(tmp_path / "r")]) == 0
    assert (
        run(["generate", str(tmp_path / "r" / "synthetic.parquet"), "-g", "copula", "--out", str(tmp_path / "s")]) == 3
    )
    assert mode(fresh_home) == 0o700
    for folder in ("keys", "releases", "commitments", "watermarks"):
        assert mode(fresh_home / folder) == 0o700, folder
    private = [p for p in fresh_home.rglob("*") if p.is_file() and p.name != "signing.pub.pem"]
    assert {p.suffix for p in private} >= {".json", ".npz", ".jsonl", ".pem", ".key"}
    assert all(mode(p) == 0o600 for p in private), sorted((str(p), oct(mode(p))) for p in private if mode(p) != 0o600)


def test_a_secret_others_can_read_is_warned_about(fresh_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Keystore.default()
    store.init()
    os.chmod(store.folder / "signing.pem", 0o644)
    with caplog.at_level(logging.WARNING):
        store.signing_key()
    assert "signing.pem can be read or written by others (mode 0644)" in caplog.text


def test_export_public_creates_no_keystore(fresh_home: Path, capsys) -> None:
    assert run(["keys", "export-public"]) == 2
    assert "no keystore" in capsys.readouterr().err
    assert not fresh_home.exists()


def test_an_encrypted_signing_key(fresh_home: Path, table: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SYNTHGOV_KEY_PASSPHRASE", "correct horse battery staple")
    assert run(["keys", "init", "--encrypt"]) == 0
    assert b"ENCRYPTED PRIVATE KEY" in (fresh_home / "keys" / "signing.pem").read_bytes()
    assert run(["generate", str(table), "-g", "copula", "--out", str(tmp_path / "r")]) == 0
    assert run(["verify", str(tmp_path / "r")]) == 0
    monkeypatch.setenv("SYNTHGOV_KEY_PASSPHRASE", "wrong")
    capsys.readouterr()
    assert run(["generate", str(table), "-g", "copula", "--out", str(tmp_path / "r2")]) == 2
    assert "wrong passphrase" in capsys.readouterr().err
    monkeypatch.delenv("SYNTHGOV_KEY_PASSPHRASE")
    assert run(["generate", str(table), "-g", "copula", "--out", str(tmp_path / "r3")]) == 2
    assert "set SYNTHGOV_KEY_PASSPHRASE" in capsys.readouterr().err


@pytest.mark.parametrize("damaged", ["watermark.key", "signing.pem", "index.json"])
def test_damaged_keystore_files_are_one_line(
    fresh_home: Path, table: Path, tmp_path: Path, damaged: str, capsys
) -> None:
    Keystore.default().init()
    (fresh_home / "keys" / damaged).write_bytes(b"\x00garbage")
    commands = [["generate", str(table), "-g", "copula", "--out", str(tmp_path / "r")]]
    if damaged != "signing.pem":  # detect needs the watermark secret, not the signing key
        commands.append(["detect", str(table)])
    for argv in commands:
        code = run(argv)
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith("error:") and "damaged" in err
    assert not (tmp_path / "r").exists()  # checked before anything is written: no half release
