"""Fit mostlyai-engine's TabularARGN (defaults) on Adult and print one JSON line: fit seconds, peak RSS, and the
path of the generated CSV. Run with the interpreter of an isolated venv that has mostlyai-engine (see
benchmarks/README.md); benchmarks/neural.py calls it.

    .venv-mostly/bin/python benchmarks/peer_tabularargn.py OUT.csv
    .venv-mostly/bin/python benchmarks/peer_tabularargn.py OUT.csv EPSILON   # its own DP-SGD, delta 1e-5
                                                                            # (benchmarks/dp_autoregressive.py)

With EPSILON: ``differential_privacy={"max_epsilon": EPSILON, "delta": 1e-5}``, its other DP settings at their
defaults (noise multiplier 1.5, clip 1, value protection spending 1.0 of the epsilon on the value ranges); its
training stops when its accountant reaches max_epsilon.
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
        dp = None
        if len(sys.argv) > 2:
            from mostlyai.engine.domain import DifferentialPrivacyConfig

            dp = DifferentialPrivacyConfig(max_epsilon=float(sys.argv[2]), delta=1e-5)
        model = TabularARGN(workspace_dir=workspace, random_state=0, device="cpu", differential_privacy=dp)
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
