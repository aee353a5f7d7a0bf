"""Benchmark: differentially private MST on Adult, ours against smartnoise-synth's, measured in the same run.

    python benchmarks/dp_mst.py                 # our mst at epsilon 1 and 0.1, bayesnet's PrivBayes mode at 1,
                                                # smartnoise-synth's MST at epsilon 1
    python benchmarks/dp_mst.py --no-peers      # ours only
    python benchmarks/dp_mst.py --json out.json

Both fit on Adult's training table (32,561 rows, 15 columns) at delta = 1e-5, each in its own process (peak RSS
is its own), and sample as many rows. Domains: ours are the schema's, declared public (categories and min/max as
``synthgov schema --domains`` reads them, i.e. the values of the data: the same knowledge smartnoise-synth takes
from the data for free); smartnoise-synth gets the same min/max as declared bounds for its numeric columns (no
budget spent on bounds; it learns its categories from the data), in two configurations: its default (10
equal-width bins per number) and one closer to ours (integer columns spanning at most 256 values as categories, 32
bins for the others).
smartnoise-synth 1.0.8 pins mbi < 2, opacus < 0.15 and pandas < 3, so it runs in its own venv
(``.venv-smartnoise`` at the repository root, made on first use).

Judge (as the other benchmarks): SDMetrics' QualityReport (Column Shapes, Column Pair Trends; in its own venv on
pandas 3), train-on-synthetic / test-on-real ROC AUC of gradient boosting for ``income`` on ``test.csv``, and
synthgov's detection AUC (a classifier telling real from synthetic rows; 0.5 = indistinguishable).
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
DATA = ROOT.parent / "shared" / "datasets" / "adult"
VENV = ROOT / ".venv-smartnoise"
PEER_REQUIREMENTS = ["torch==2.13.0", "smartnoise-synth==1.0.8"]
DELTA = 1e-5
OURS = [("mst", 1.0), ("mst", 0.1), ("bayesnet", 1.0)]
PEER_MODES = {
    "default": "10 equal-width bins per number (its default)",
    "exact": "small integer ranges exact, 32 bins for the others",
}
sys.path.insert(0, str(HERE))

PEER = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from snsynth import Synthesizer
from snsynth.transform import BinTransformer
train = pd.read_csv(sys.argv[1])
epsilon, delta, out, mode = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
numeric = [c for c in train.columns if pd.api.types.is_numeric_dtype(train[c])]
if mode == "exact":  # small integer ranges as categories (one cell per value), 32 bins for the wide ones
    exact = [c for c in numeric if train[c].max() - train[c].min() <= 255]
    numeric = [c for c in numeric if c not in exact]
bins = 32 if mode == "exact" else 10
categorical = [c for c in train.columns if c not in numeric]
bounds = {c: BinTransformer(lower=float(train[c].min()), upper=float(train[c].max()), bins=bins) for c in numeric}
synth = Synthesizer.create("mst", epsilon=epsilon, delta=delta)
start = time.perf_counter()
synth.fit(train, transformer=bounds, categorical_columns=categorical, continuous_columns=numeric, preprocessor_eps=0.0,
          nullable=True)
fit = time.perf_counter() - start
rows = synth.sample(len(train))
frame = pd.DataFrame(rows, columns=train.columns)
frame.to_csv(out, index=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"fit_s": fit, "peak_mib": peak}))
"""


def ensure_venv(path: Path = VENV) -> Path:
    python = path / "bin" / "python"
    done = path / ".synthgov-ready"
    if not done.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        for requirement in PEER_REQUIREMENTS:  # torch first: the CPU build, not the CUDA one a resolver picks
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement], check=True)
        done.write_text(" ".join(PEER_REQUIREMENTS))
    return python


def _load():
    import pandas as pd

    if (DATA / "train.csv").exists():
        return pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "test.csv")
    from synthgov import load_demo

    return load_demo("adult", "train"), load_demo("adult", "test")


def run_ours(name: str, epsilon: float, out: str, queue: mp.Queue) -> None:
    warnings.simplefilter("ignore")
    import synthgov
    from synthgov.privacy.domains import declare_domains
    from synthgov.table.infer import infer_schema

    train, _ = _load()
    schema = declare_domains(infer_schema(train), train)
    start = time.perf_counter()
    model = synthgov.synthesizer(name, epsilon=epsilon, delta=DELTA, seed=0).fit(train, schema)
    fit = time.perf_counter() - start
    model.sample(len(train), seed=1).to_parquet(out)
    queue.put({"fit_s": fit, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def run_peer(epsilon: float, out: str, mode: str) -> dict:
    python = ensure_venv()
    with tempfile.TemporaryDirectory() as folder:
        train, _ = _load()
        path = Path(folder) / "train.csv"
        train.to_csv(path, index=False)
        done = subprocess.run(
            [str(python), "-c", PEER, str(path), str(epsilon), str(DELTA), out, mode], capture_output=True, text=True
        )
    if done.returncode != 0:
        raise RuntimeError(f"smartnoise-synth failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def judge(real, test, synthetic) -> dict:
    from quality import detection_and_dcr, quality_report, tstr_auc
    from synthgov.table.infer import infer_schema

    scores = quality_report(real, synthetic, infer_schema(real))
    return {
        "shapes": scores["shapes"],
        "trends": scores["trends"],
        "auc": tstr_auc(synthetic, test, "income", ">50K"),
        "detection": detection_and_dcr(real, test, synthetic)["detection_auc"],
    }


def in_child(target, *args) -> dict:
    """``target(*args, queue)`` in a fresh process (so its peak RSS is its own); what it put on the queue."""
    queue: mp.Queue = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(target=target, args=(*args, queue))
    child.start()
    child.join()
    return queue.get()


def print_table(title: str, rows: list[dict]) -> None:
    print()
    print(f"| {title} | fit (s) | peak RSS (MiB) | Shapes | Trends | AUC | detection AUC |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['fit_s']:.1f} | {r['peak_mib']:.0f} | {r['shapes']:.3f} | {r['trends']:.3f} | "
            f"{r['auc']:.3f} | {r['detection']:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import pandas as pd

    real, test = _load()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, epsilon in OURS:
            out = str(Path(folder) / f"ours-{name}-{epsilon}.parquet")
            cost = in_child(run_ours, name, epsilon, out)
            label = "mst" if name == "mst" else "bayesnet, PrivBayes mode"
            scores = judge(real, test, pd.read_parquet(out))
            rows.append({"name": f"synthgov {label} (epsilon {epsilon:g})", **cost, **scores})
            print(rows[-1], flush=True)
        for mode, label in PEER_MODES.items():
            if args.no_peers:
                break
            out = str(Path(folder) / f"peer-{mode}.csv")
            cost = run_peer(1.0, out, mode)
            peer = pd.read_csv(out)
            rows.append({"name": f"smartnoise-synth 1.0.8 mst (epsilon 1), {label}", **cost, **judge(real, test, peer)})
            print(rows[-1], flush=True)
    print_table("MST, delta 1e-5", rows)
    for peer in rows[len(OURS) :]:
        ours = rows[0]
        print(f"{peer['name']}: fit time {peer['fit_s'] / ours['fit_s']:.1f}x ours, "
              f"peak memory {peer['peak_mib'] / ours['peak_mib']:.1f}x ours")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
