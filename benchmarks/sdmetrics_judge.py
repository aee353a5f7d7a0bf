"""SDMetrics' QualityReport, run in an isolated virtual environment.

SDMetrics needs pandas < 3, while synthgov's tests and benchmarks run on the pandas a plain install resolves to
(3.x). So SDMetrics lives in its own venv, ``.venv-sdmetrics`` at the repository root (made on first use, pinned
to the version the docs quote); both tables travel as Parquet files and the scores come back as JSON.

    python benchmarks/sdmetrics_judge.py real.parquet synthetic.parquet metadata.json   # prints the scores
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("SYNTHGOV_SDMETRICS_VENV", ROOT / ".venv-sdmetrics"))
REQUIREMENTS = ["sdmetrics==0.32.0", "pandas<3", "pyarrow"]

CHILD = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import pandas as pd
from sdmetrics.reports.single_table import QualityReport
real, synthetic = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
with open(sys.argv[3]) as handle:
    metadata = json.load(handle)
report = QualityReport()
report.generate(real, synthetic, metadata, verbose=False)
props = report.get_properties().set_index("Property")["Score"]
print(json.dumps({"shapes": float(props["Column Shapes"]), "trends": float(props["Column Pair Trends"]),
                  "overall": float(report.get_score())}))
"""


def ensure_venv(path: Path = VENV) -> Path:
    """The venv's python, made (and SDMetrics installed) on first use; a half-made venv is made again."""
    python = path / "bin" / "python"
    done = path / ".synthgov-ready"
    if not done.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
        done.write_text(" ".join(REQUIREMENTS))
    return python


def quality_report_isolated(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict[str, Any]) -> dict[str, float]:
    python = ensure_venv()
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / name for name in ("real.parquet", "synthetic.parquet", "metadata.json")]
        real.to_parquet(paths[0])
        synthetic.to_parquet(paths[1])
        paths[2].write_text(json.dumps(metadata))
        done = subprocess.run(
            [str(python), "-c", CHILD, *map(str, paths)], capture_output=True, text=True, timeout=1800
        )
    if done.returncode != 0:
        raise RuntimeError(f"SDMetrics failed in {VENV}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    frames = [pd.read_parquet(p) for p in sys.argv[1:3]]
    print(json.dumps(quality_report_isolated(*frames, json.loads(Path(sys.argv[3]).read_text()))))
