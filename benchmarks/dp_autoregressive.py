"""Benchmark: the default ``autoregressive`` generator trained by DP-SGD, against mostlyai-engine's TabularARGN with
its own DP-SGD, on Adult, measured in the same run.

    python benchmarks/dp_autoregressive.py               # ours at epsilon 3 and 1, TabularARGN at epsilon 3
    python benchmarks/dp_autoregressive.py --no-peers    # ours only
    python benchmarks/dp_autoregressive.py --json out.json

Both fit on Adult's training table (32,561 rows, 15 columns) at delta = 1e-5, each in its own process (peak RSS is
its own), and sample as many rows. Ours: the schema's domains declared public (``synthgov schema --domains``), the
defaults of the private mode (20 expected epochs at Poisson rate 0.05, clip 1, a tenth of the budget's rho on the
one-way marginals), every step accounted. TabularARGN (mostlyai-engine 2.7.3, in ``.venv-mostly`` as for
benchmarks/neural.py; see benchmarks/README.md): ``differential_privacy={"max_epsilon": 3, "delta": 1e-5}``, its
other settings at their defaults (it spends 1.0 of the epsilon on value ranges and stops training when its
accountant reaches the rest).

Judge: as benchmarks/dp_mst.py (SDMetrics Column Shapes and Pair Trends, train-on-synthetic AUC for ``income`` on
``test.csv``, detection AUC).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
DELTA = 1e-5
OURS = (3.0, 1.0)
PEER_EPSILON = 3.0


def run_ours(epsilon: float, out: str, queue: mp.Queue) -> None:
    warnings.simplefilter("ignore")
    import synthgov
    from dp_mst import _load
    from synthgov.privacy.domains import declare_domains
    from synthgov.table.infer import infer_schema

    train, _ = _load()
    schema = declare_domains(infer_schema(train), train)
    start = time.perf_counter()
    model = synthgov.synthesizer("autoregressive", epsilon=epsilon, delta=DELTA, seed=0).fit(train, schema)
    fit = time.perf_counter() - start
    model.sample(len(train), seed=1).to_parquet(out)
    sgd = model.budget_lines_[1]
    queue.put(
        {
            "fit_s": fit,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "accounted_epsilon": model.privacy()["accounted_epsilon"],
            "noise_multiplier": sgd["noise_multiplier"],
            "steps": sgd["steps"],
        }
    )


def run_peer(epsilon: float, out: str) -> dict:
    python = ROOT / ".venv-mostly" / "bin" / "python"
    if not python.exists():
        raise SystemExit("TabularARGN not run: create .venv-mostly as in benchmarks/README.md (or pass --no-peers)")
    done = subprocess.run(
        [str(python), str(HERE / "peer_tabularargn.py"), out, str(epsilon)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"TabularARGN failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import pandas as pd

    from dp_mst import _load, in_child, judge, print_table

    real, test = _load()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for epsilon in OURS:
            out = str(Path(folder) / f"ours-{epsilon}.parquet")
            cost = in_child(run_ours, epsilon, out)
            rows.append({"name": f"synthgov autoregressive, DP-SGD (epsilon {epsilon:g})", **cost,
                         **judge(real, test, pd.read_parquet(out))})  # fmt: skip
            print(rows[-1], flush=True)
        if not args.no_peers:
            out = str(Path(folder) / "peer.csv")
            cost = run_peer(PEER_EPSILON, out)
            rows.append({"name": f"mostlyai-engine 2.7.3 TabularARGN, its DP-SGD (epsilon {PEER_EPSILON:g})", **cost,
                         **judge(real, test, pd.read_csv(out))})  # fmt: skip
            print(rows[-1], flush=True)
    print_table("DP, delta 1e-5", rows)
    if len(rows) > len(OURS):
        ours, peer = rows[0], rows[-1]
        print(f"TabularARGN at epsilon {PEER_EPSILON:g}: fit time {peer['fit_s'] / ours['fit_s']:.1f}x ours, "
              f"AUC {peer['auc'] - ours['auc']:+.3f} against ours")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
