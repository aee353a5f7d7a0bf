"""Release writes are atomic and locked (issue 26, case 2): a killed or concurrent `generate` never leaves a
release that fails verify, a second run gets one clear line, no stale file survives, and `--out` never destroys
an input or a folder that is not a release. Every file of a release is signed, and verify flags the rest (case 3).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthgov.atomic import clean_leftovers, staging_folder, swap_in, write_bytes
from synthgov.cli import run
from synthgov.release.verify import verify_release


def _table(path: Path, rows: int = 400, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    pd.DataFrame({"x": rng.normal(50, 10, rows).round(2), "g": rng.choice(["a", "b", "c"], rows)}).to_csv(
        path, index=False
    )
    return path


def _generate(source: Path, out: Path, *extra: str, seed: int = 1) -> int:
    return run(["generate", str(source), "-g", "copula", "--seed", str(seed), "--out", str(out), *extra])


def _cli(*args: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "SYNTHGOV_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "synthgov", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return _table(tmp_path / "data.csv")


def test_a_new_release_leaves_no_stale_file_of_an_earlier_one(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "release"
    assert _generate(source, out, "--csv") == 0
    assert (out / "synthetic.csv").is_file()
    assert _generate(source, out, seed=2) == 0
    assert not (out / "synthetic.csv").exists()  # it was beside a release that verified VALID before the fix
    assert verify_release(out).valid and verify_release(out).unsigned == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging or lock left behind


def test_out_refuses_a_folder_that_is_not_a_release_unless_overwrite(source: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "notes"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert _generate(source, out) == 2
    assert "not a synthgov release" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep me"
    assert _generate(source, out, "--overwrite") == 0
    assert not (out / "mine.txt").exists() and verify_release(out).valid


def test_out_refuses_the_folder_that_holds_the_input(tmp_path: Path, capsys) -> None:
    out = tmp_path / "release"
    assert _generate(_table(tmp_path / "data.csv"), out) == 0
    before = (out / "synthetic.parquet").read_bytes()
    assert _generate(out / "synthetic.parquet", out, "--allow-synthetic") == 2
    assert "would replace it" in capsys.readouterr().err
    assert (out / "synthetic.parquet").read_bytes() == before


def test_out_expands_a_quoted_tilde(source: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _generate(source, Path("~/made")) == 0
    assert verify_release(tmp_path / "home" / "made").valid
    assert not Path("~").exists()


def test_the_saved_model_is_signed_with_the_release(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "release"
    assert _generate(source, out, "--save-model") == 0
    assert "model.synthgov: sha256 matches" in verify_release(out).checks
    with open(out / "model.synthgov", "ab") as handle:
        handle.write(b"\0")
    assert any(p.startswith("model.synthgov: sha256 differs") for p in verify_release(out).problems)


def test_verify_lists_files_the_signature_does_not_cover(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "release"
    assert _generate(source, out) == 0
    (out / "report").mkdir()
    (out / "report" / "fake.html").write_text("<p>all good</p>")
    result = verify_release(out)
    assert result.valid and result.unsigned == ["report/fake.html"]


def test_an_edited_embedded_public_key_fails_verify(source: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    out = tmp_path / "release"
    assert _generate(source, out) == 0
    assert "public_key: the embedded copy is the signing key" in verify_release(out).checks
    document = json.loads((out / "manifest.json").read_text())
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    document["public_key"] = other.decode()
    (out / "manifest.json").write_text(json.dumps(document))
    result = verify_release(out)
    assert not result.valid and any(p.startswith("public_key: the manifest embeds key") for p in result.problems)


def test_write_bytes_keeps_the_old_content_when_the_rename_fails(tmp_path: Path, monkeypatch) -> None:
    path = write_bytes(tmp_path / "f.json", b"old", 0o600)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OSError):
        write_bytes(path, b"new", 0o600)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_swap_in_replaces_a_folder_whole(tmp_path: Path, monkeypatch, exchange: bool) -> None:
    import synthgov.atomic as atomic

    if not exchange:
        monkeypatch.setattr(atomic, "_renameat2", lambda: None)
    target = tmp_path / "release"
    target.mkdir()
    (target / "old.txt").write_text("old")
    staging = staging_folder(target)
    (staging / "new.txt").write_text("new")
    swap_in(staging, target)
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]


def test_a_crash_between_two_renames_is_repaired_by_the_next_run(tmp_path: Path) -> None:
    target = tmp_path / "release"
    old = tmp_path / ".release.synthgov-old-0badc0de"  # what a crash after the first of two renames leaves
    old.mkdir()
    (old / "manifest.json").write_text("{}")
    stale = tmp_path / ".release.synthgov-new-deadbeef"
    stale.mkdir()
    clean_leftovers(target)
    assert (target / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]


def test_two_runs_into_one_folder_one_waits_none_breaks(source: Path, tmp_path: Path) -> None:
    _concurrent_pairs(source, tmp_path, pairs=3)


@pytest.mark.slow
def test_ten_concurrent_pairs(source: Path, tmp_path: Path) -> None:
    _concurrent_pairs(source, tmp_path, pairs=10)


def _concurrent_pairs(source: Path, tmp_path: Path, pairs: int) -> None:
    """Concurrent runs, each pair on a fresh home (so the keystore is raced too): every run ends in success or one
    clear line (exit 2), never a traceback, and the folder holds a release that verifies."""
    out = tmp_path / "release"
    for pair in range(pairs):
        home = tmp_path / f"home{pair}"
        runs = [
            _cli("generate", str(source), "-g", "copula", "--seed", str(i), "--out", str(out), home=home)
            for i in range(2)
        ]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
        for code, text in results:
            assert "Traceback" not in text and "internal error" not in text, text
            assert code in (0, 2), text
            if code == 2:
                assert "in use by another synthgov run" in text, text
        assert any(code == 0 for code, _ in results)
        env = {**os.environ, "SYNTHGOV_HOME": str(home)}
        check = subprocess.run([sys.executable, "-m", "synthgov", "verify", str(out)], env=env, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _kill_during_generate(source: Path, out: Path, home: Path, delay: float) -> None:
    process = _cli("generate", str(source), "-g", "copula", "--seed", "9", "--out", str(out), home=home)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    process.stderr.close()


def _kill_moments(source: Path, tmp_path: Path, moments: int) -> None:
    home = tmp_path / "home"
    out = tmp_path / "release"
    env = {**os.environ, "SYNTHGOV_HOME": str(home)}
    command = [sys.executable, "-m", "synthgov", "generate", str(source), "-g", "copula", "--out", str(out)]
    first = subprocess.run(command, env=env, capture_output=True)
    assert first.returncode == 0, first.stderr
    started = time.monotonic()
    subprocess.run(command, env=env, capture_output=True)  # a whole run: how long the kill moments can range over
    whole = time.monotonic() - started
    rng = np.random.default_rng(0)
    for delay in rng.uniform(0.0, whole, moments):
        _kill_during_generate(source, out, home, float(delay))
        check = subprocess.run([sys.executable, "-m", "synthgov", "verify", str(out)], env=env, capture_output=True)
        assert check.returncode == 0, f"killed after {delay:.2f} s: {check.stdout!r} {check.stderr!r}"


def test_kill_9_during_generate_leaves_a_release_that_verifies(source: Path, tmp_path: Path) -> None:
    _kill_moments(source, tmp_path, moments=4)


@pytest.mark.slow
def test_kill_9_at_twenty_moments(source: Path, tmp_path: Path) -> None:
    _kill_moments(source, tmp_path, moments=20)
