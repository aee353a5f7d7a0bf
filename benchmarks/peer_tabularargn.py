"""Fit mostlyai-engine's TabularARGN (defaults) on Adult and print one JSON line: fit seconds, peak RSS, and the
path of the generated CSV. Run with the interpreter of an isolated venv that has mostlyai-engine (see
benchmarks/README.md); benchmarks/neural.py calls it.

    .venv-mostly/bin/python benchmarks/peer_tabularargn.py OUT.csv
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "adult"


def main() -> None:
    warnings.simplefilter("ignore")
    import pandas as pd
    from mostlyai.engine import TabularARGN

    out = Path(sys.argv[1])
    real = pd.read_csv(DATA / "train.csv")
    with tempfile.TemporaryDirectory() as workspace:
        start = time.perf_counter()
        model = TabularARGN(workspace_dir=workspace, random_state=0, device="cpu")
        model.fit(real)
        fit = time.perf_counter() - start
        start = time.perf_counter()
        synthetic = model.sample(n_samples=len(real))
        sample = time.perf_counter() - start
    synthetic.to_csv(out, index=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"fit_s": fit, "sample_s": sample, "peak_mib": peak, "csv": str(out)}))


if __name__ == "__main__":
    main()
