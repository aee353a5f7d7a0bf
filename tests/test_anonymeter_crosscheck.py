"""Our singling-out, linkability and inference risks agree with anonymeter 1.1.0, run in its own venv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "crosscheck_anonymeter.py"


@pytest.mark.slow
def test_risks_agree_with_anonymeter(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", str(tmp_path / "x.json")], capture_output=True, text=True, timeout=1800
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("| yes |") == 6
