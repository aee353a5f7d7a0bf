"""Benchmark: the generators on a large, wide table with high-cardinality columns (issue 23's 200,000 x 40 target).

    python benchmarks/wide_table.py                         # default generator, copula, bayesnet (about 20 minutes)
    python benchmarks/wide_table.py --only copula bayesnet --rows 50000

The table is built from the shipped Adult data (its 14 features and ``income``): 200,000 rows drawn from Adult's
training rows with replacement (seeded), plus 10 high-cardinality categorical columns, each the combination of two
of Adult's categorical columns and a binned number (``occupation|native-country|age/5``, ...) with 5% of rows
given another row's value (hundreds to over a thousand categories each), plus 15 noisy copies of Adult's columns
(numbers + Gaussian noise of a tenth of a standard deviation; categories swapped in 10% of rows): 40 columns. The
holdout is Adult's test rows widened by the same rules. Each generator runs in a fresh process (its peak RSS is its
own): fit (its default parameters; the default generator keeps its 10-minute training budget), then as many rows as
the table. Scores: Column Shapes and Column Pair Trends as SDMetrics' QualityReport defines them
(``synthgov.evaluation.fidelity``, tested equal to SDMetrics; every row, no subsample), and the ROC AUC on the
holdout of gradient boosting trained on the synthetic rows against the same model trained on the real rows
(``benchmarks/quality.py``'s ``tstr_auc``: categories beyond 255 per column are folded, as the model needs).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATA = HERE.parent.parent / "shared" / "datasets" / "adult"
HIGH = [  # (categorical, categorical, number binned by its width): the 10 high-cardinality columns
    ("occupation", "native-country", "age", 5),
    ("workclass", "occupation", "hours-per-week", 5),
    ("education", "occupation", "age", 10),
    ("marital-status", "occupation", "hours-per-week", 10),
    ("race", "native-country", "age", 5),
    ("relationship", "occupation", "age", 5),
    ("education", "native-country", "hours-per-week", 10),
    ("workclass", "education", "age", 5),
    ("occupation", "sex", "fnlwgt", 50_000),
    ("marital-status", "education", "age", 5),
]
COPIES = 15


def adult(split: str):
    import pandas as pd

    path = DATA / f"{split}.csv"
    if path.exists():
        return pd.read_csv(path)
    from synthgov import load_demo

    return load_demo("adult", split)


def widen(base, rows: int | None, seed: int):
    """Adult (resampled to ``rows`` when given) with the 10 high-cardinality columns and 15 noisy copies."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    table = base if rows is None else base.iloc[rng.integers(0, len(base), rows)]
    table = table.reset_index(drop=True)
    n = len(table)
    features = [c for c in table.columns if c != "income"]
    extra = {}
    for k, (a, b, number, width) in enumerate(HIGH):
        values = table[a].astype(str) + "|" + table[b].astype(str) + "|" + (table[number] // width).astype(str)
        swap = rng.random(n) < 0.05
        extra[f"high_{k}"] = values.where(~swap, values.to_numpy()[rng.permutation(n)])
    for k in range(COPIES):
        source = features[k % len(features)]
        values = table[source]
        if pd.api.types.is_numeric_dtype(values):
            noisy = values + rng.normal(0, 0.1 * float(values.std() or 1.0), n)
            extra[f"{source}_copy{k}"] = noisy.round().astype(values.dtype) if values.dtype.kind in "iu" else noisy
        else:
            swap = rng.random(n) < 0.1
            extra[f"{source}_copy{k}"] = values.where(~swap, values.to_numpy()[rng.permutation(n)])
    return pd.concat([table[features], pd.DataFrame(extra), table[["income"]]], axis=1)


def run_one(name: str, rows: int, scratch: str, queue: mp.Queue) -> None:
    import resource

    import synthgov

    train = widen(adult("train"), rows, seed=0)
    start = time.perf_counter()
    model = synthgov.synthesizer(name, seed=0).fit(train)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = model.sample(len(train), seed=1)
    sample = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = {k: round(v, 1) for k, v in (getattr(model, "fit_steps_", None) or {}).items()}
    training = getattr(model, "training_", None)
    stopped = getattr(training, "stopped", None)
    epochs = getattr(training, "epochs_run", None)
    path = Path(scratch) / f"{name}.parquet"  # the parent scores it (the child's peak RSS stays the fit's own)
    synthetic.to_parquet(path, index=False)
    queue.put({"name": name, "fit": fit, "sample": sample, "peak_mib": peak, "steps": steps, "stopped": stopped,
               "epochs": epochs, "path": str(path)})  # fmt: skip


def judge(train, test, synthetic) -> dict:
    from quality import tstr_auc
    from synthgov.evaluation.fidelity import quality_scores
    from synthgov.evaluation.prepare import load_tables
    from synthgov.table.infer import infer_schema

    scores = quality_scores(load_tables(train, synthetic, None, infer_schema(train)))
    return {
        "shapes": float(scores["column_shapes"]),
        "trends": float(scores["column_pair_trends"]),
        "auc": tstr_auc(synthetic, test, "income", ">50K"),
    }


def main() -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["autoregressive", "copula", "bayesnet"])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    train = widen(adult("train"), args.rows, seed=0)
    test = widen(adult("test"), None, seed=1)
    high = {c: train[c].nunique() for c in train.columns if c.startswith("high_")}
    print(f"table: {len(train):,} rows x {train.shape[1]} columns; high-cardinality columns' categories: "
          f"{min(high.values())}-{max(high.values())}", flush=True)  # fmt: skip
    from quality import tstr_auc

    real_auc = tstr_auc(train, test, "income", ">50K")
    results = []
    with tempfile.TemporaryDirectory(prefix="synthgov-wide-") as scratch:
        for name in args.only:
            queue: mp.Queue = mp.get_context("spawn").Queue()
            child = mp.get_context("spawn").Process(target=run_one, args=(name, args.rows, scratch, queue))
            child.start()
            result = queue.get()
            child.join()
            synthetic = pd.read_parquet(result.pop("path"))
            result.update(judge(train, test, synthetic))
            results.append(result)
            print(json.dumps(result), flush=True)
    print(f"\n{len(train):,} rows x {train.shape[1]} columns (10 high-cardinality), 2 cores; train-on-real AUC "
          f"{real_auc:.4f}\n")  # fmt: skip
    print(
        "| generator | fit s | sample s | peak RSS MiB | Column Shapes | Column Pair Trends | AUC (loss) | fit steps |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        steps = ", ".join(f"{k} {v}" for k, v in r["steps"].items())
        if r["stopped"]:
            steps += f"; {r['epochs']} epochs, stopped by {r['stopped']}"
        print(f"| {r['name']} | {r['fit']:.1f} | {r['sample']:.1f} | {r['peak_mib']:,.0f} | {r['shapes']:.4f} | "
              f"{r['trends']:.4f} | {r['auc']:.4f} ({real_auc - r['auc']:+.4f}) | {steps} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"real_auc": real_auc, "results": results}, indent=1))


if __name__ == "__main__":
    main()
