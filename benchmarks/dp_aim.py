"""Benchmark: differentially private AIM on Adult against our MST and smartnoise-synth's AIM, in the same run.

    python benchmarks/dp_aim.py                 # our aim at epsilon 1 and 0.1, our mst at 1, smartnoise-synth's
                                                # aim at 1 (stopped after --peer-limit seconds, 600 by default)
    python benchmarks/dp_aim.py --no-peers      # ours only
    python benchmarks/dp_aim.py --json out.json
    python benchmarks/dp_aim.py --sweep --no-peers   # also aim at epsilon 1 with max_cells 100,000 and 1,000,000

Each fits on Adult's training table (32,561 rows, 15 columns) at delta = 1e-5 in its own process (peak RSS is its
own) and samples as many rows. Domains as in ``dp_mst.py``: ours declared public (the data's categories and
bounds), smartnoise-synth given the same bounds for free (its defaults otherwise: degree 2, max model size 80 MB,
10 equal-width bins per number), in its own venv (``.venv-smartnoise``, shared with ``dp_mst.py``).

The workload error AIM optimises: the average total-variation distance between real and synthetic k-way marginals
over every set of k columns (k = 1, 2, 3), numbers with more than 20 distinct values cut at the real deciles, the
others as they are (computed here, independently of the package). Beside it the judge of the other benchmarks:
SDMetrics Shapes / Pair Trends, train-on-synthetic AUC on ``test.csv`` and detection AUC.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dp_mst import DELTA, _load, ensure_venv, in_child, judge  # noqa: E402

OURS = [("aim", 1.0, None), ("mst", 1.0, None), ("aim", 0.1, None)]
SWEEP = [("aim", 1.0, 100_000), ("aim", 1.0, 1_000_000)]  # the model size budget (default 250,000)

PEER = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from snsynth import Synthesizer
from snsynth.transform import BinTransformer
train = pd.read_csv(sys.argv[1])
epsilon, delta, out = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
numeric = [c for c in train.columns if pd.api.types.is_numeric_dtype(train[c])]
categorical = [c for c in train.columns if c not in numeric]
bounds = {c: BinTransformer(lower=float(train[c].min()), upper=float(train[c].max()), bins=10) for c in numeric}
synth = Synthesizer.create("aim", epsilon=epsilon, delta=delta)
start = time.perf_counter()
synth.fit(train, transformer=bounds, categorical_columns=categorical, continuous_columns=numeric, preprocessor_eps=0.0,
          nullable=True)
fit = time.perf_counter() - start
pd.DataFrame(synth.sample(len(train)), columns=train.columns).to_csv(out, index=False)
print(json.dumps({"fit_s": fit, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def marginal_tv(real, synthetic, ks=(1, 2, 3)) -> dict[int, float]:
    """Average total-variation distance of the k-way marginals over every set of k columns."""
    import numpy as np
    import pandas as pd

    def coded(frame):
        out = {}
        for column in real.columns:
            values = real[column]
            if pd.api.types.is_numeric_dtype(values) and values.nunique() > 20:
                edges = np.unique(np.quantile(values.dropna(), np.linspace(0, 1, 11)))[1:-1]
                x = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
                out[column] = np.where(np.isnan(x), -1, np.digitize(x, edges))
            else:
                out[column] = frame[column].astype(str).to_numpy()
        return pd.DataFrame(out)

    a, b = coded(real), coded(synthetic)
    result = {}
    for k in ks:
        errors = []
        for columns in itertools.combinations(real.columns, k):
            p = a.groupby(list(columns)).size() / len(a)
            q = b.groupby(list(columns)).size() / len(b)
            errors.append(0.5 * p.sub(q, fill_value=0).abs().sum())
        result[k] = float(np.mean(errors))
    return result


def run_ours(name: str, epsilon: float, max_cells: int | None, out: str, queue) -> None:
    warnings.simplefilter("ignore")
    import synthgov
    from synthgov.privacy.domains import declare_domains
    from synthgov.table.infer import infer_schema

    train, _ = _load()
    schema = declare_domains(infer_schema(train), train)
    start = time.perf_counter()
    extra = {} if max_cells is None else {"max_cells": max_cells}
    model = synthgov.synthesizer(name, epsilon=epsilon, delta=DELTA, seed=0, **extra).fit(train, schema)
    fit = time.perf_counter() - start
    model.sample(len(train), seed=1).to_parquet(out)
    queue.put({"fit_s": fit, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def run_peer(epsilon: float, out: str, limit: float) -> dict | None:
    """smartnoise-synth's AIM in its venv; ``None`` when it has not finished within ``limit`` seconds."""
    python = ensure_venv()
    with tempfile.TemporaryDirectory() as folder:
        train, _ = _load()
        path = Path(folder) / "train.csv"
        train.to_csv(path, index=False)
        try:
            done = subprocess.run(
                [str(python), "-c", PEER, str(path), str(epsilon), str(DELTA), out],
                capture_output=True,
                text=True,
                timeout=limit,
            )
        except subprocess.TimeoutExpired:
            return None
    if done.returncode != 0:
        raise RuntimeError(f"smartnoise-synth failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--peer-limit", type=float, default=600.0, help="seconds before the peer is stopped")
    parser.add_argument("--sweep", action="store_true", help="also aim with other model size budgets")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import pandas as pd

    real, test = _load()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, epsilon, max_cells in OURS + (SWEEP if args.sweep else []):
            out = str(Path(folder) / f"ours-{name}-{epsilon}-{max_cells}.parquet")
            cost = in_child(run_ours, name, epsilon, max_cells, out)
            synthetic = pd.read_parquet(out)
            label = f"synthgov {name} (epsilon {epsilon:g}" + (f", max_cells {max_cells:,})" if max_cells else ")")
            rows.append({"name": label, **cost, **judge(real, test, synthetic)})
            rows[-1]["tv"] = marginal_tv(real, synthetic)
            print(rows[-1], flush=True)
        if not args.no_peers:
            out = str(Path(folder) / "peer-aim.csv")
            cost = run_peer(1.0, out, args.peer_limit)
            name = "smartnoise-synth 1.0.8 aim (epsilon 1), its defaults"
            if cost is None:
                rows.append({"name": name, "unfinished": args.peer_limit})
            else:
                peer = pd.read_csv(out)
                rows.append({"name": name, **cost, **judge(real, test, peer), "tv": marginal_tv(real, peer)})
            print(rows[-1], flush=True)
    print()
    header = "| delta 1e-5 | fit (s) | peak RSS (MiB) | 1-way TV | 2-way TV | 3-way TV |"
    print(header + " Shapes | Trends | AUC | detection |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "unfinished" in r:
            print(f"| {r['name']} | not finished after {r['unfinished']:.0f} s (stopped) | | | | | | | | |")
            continue
        tv = r["tv"]
        print(
            f"| {r['name']} | {r['fit_s']:.1f} | {r['peak_mib']:.0f} | {tv[1]:.4f} | {tv[2]:.4f} | {tv[3]:.4f} | "
            f"{r['shapes']:.3f} | {r['trends']:.3f} | {r['auc']:.3f} | {r['detection']:.3f} |"
        )
    aim, mst = rows[0], rows[1]
    print(
        f"\naim against mst at epsilon 1: 2-way TV {aim['tv'][2] / mst['tv'][2]:.2f}x, "
        f"3-way TV {aim['tv'][3] / mst['tv'][3]:.2f}x, fit {aim['fit_s'] / mst['fit_s']:.1f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
