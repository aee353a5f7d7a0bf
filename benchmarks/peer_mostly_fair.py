"""Fit mostlyai-engine's TabularARGN (defaults) once and sample it twice: plainly and with its FairnessConfig
(statistical parity of the target across the sensitive columns). Prints one JSON line with the two CSV paths and
the fit time. Run with the interpreter of the isolated venv `.venv-mostly` (benchmarks/README.md);
benchmarks/fairness.py calls it.

    .venv-mostly/bin/python benchmarks/peer_mostly_fair.py TRAIN.csv TARGET SENSITIVE OUT_PREFIX SEED
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings


def main() -> None:
    warnings.simplefilter("ignore")
    import pandas as pd
    from mostlyai.engine import TabularARGN

    train, target, sensitive, prefix, seed = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    real = pd.read_csv(train)
    with tempfile.TemporaryDirectory() as workspace:
        start = time.perf_counter()
        model = TabularARGN(workspace_dir=workspace, random_state=seed, device="cpu")
        model.fit(real)
        fit = time.perf_counter() - start
        start = time.perf_counter()
        plain = model.sample(n_samples=len(real))
        fair = model.sample(n_samples=len(real), fairness={"target_column": target, "sensitive_columns": [sensitive]})
        sample = time.perf_counter() - start
    plain.to_csv(f"{prefix}-plain.csv", index=False)
    fair.to_csv(f"{prefix}-fair.csv", index=False)
    print(json.dumps({"fit_s": fit, "sample_s": sample, "plain": f"{prefix}-plain.csv", "fair": f"{prefix}-fair.csv"}))


if __name__ == "__main__":
    main()
