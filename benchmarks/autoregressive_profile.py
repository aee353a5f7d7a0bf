"""Benchmark: where a training step of the default (autoregressive) generator spends its time, as columns grow
(issue 23, item 4: "measure where a step's time goes").

    python benchmarks/autoregressive_profile.py                 # 15 and 40 columns, 20,000 rows, one epoch
    python benchmarks/autoregressive_profile.py --columns 15 40 100 --rows 20000

Tables as in ``benchmarks/scale.py`` (Adult lengthened and widened by noisy renamed copies). One epoch of the
default generator (no early stopping, no time budget) runs under ``torch.profiler`` (CPU); each operator's self
CPU time is summed into the parts of the network it belongs to, printed as seconds and shares of the epoch:
the regressors' batched products (``einsum``/``bmm``, forward and backward), the inputs' masking (known columns
times dropout), the per-column heads and cross-entropy, the optimiser, and the
rest. Also printed: seconds per epoch, and the multiply-adds per row of the regressors' first layer
(``D * D * embedding_dim * hidden``: quadratic in the columns by design, each column's regressor reading every
column).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PARTS = (  # (part, substrings of torch operator names), first match wins
    ("regressors' products", ("einsum", "bmm", "matmul", "mm")),
    ("masking and inputs", ("mul", "bitwise_and", "__and__", "logical_and", "expand", "flatten", "reshape",
                            "view", "copy_", "clone", "div", "where", "to_copy", "_to_copy", "unsqueeze")),
    ("heads and loss", ("linear", "addmm", "cross_entropy", "log_softmax", "nll_loss", "_log_softmax")),
    ("optimiser", ("adam", "_foreach", "lerp", "sqrt", "addcdiv", "addcmul")),
    ("activations", ("relu", "threshold")),
    ("embeddings", ("embedding", "index_select", "gather", "scatter")),
)  # fmt: skip


def part_of(name: str) -> str:
    lowered = name.lower()
    for part, needles in PARTS:
        if any(needle in lowered for needle in needles):
            return part
    return "other"


def profile(rows: int, columns: int) -> dict:
    import torch

    import synthgov
    from scale import make_table

    table = make_table(rows, columns)
    model = synthgov.synthesizer("autoregressive", seed=0, epochs=1, patience=None, max_seconds=None)
    started = time.perf_counter()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model.fit(table)
    wall = time.perf_counter() - started
    by_part: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        by_part[part_of(event.key)] += event.self_cpu_time_total / 1e6
    train = model.fit_steps_.get("train", wall)
    # numpy work (the dropout mask, batching) and Python are outside torch's operators
    by_part["outside torch operators"] = max(0.0, train - sum(by_part.values()))
    macs = columns * columns * model.embedding_dim * model.hidden
    return {
        "columns": columns,
        "rows": rows,
        "epoch_s": train,
        "fit_s": wall,
        "parts": dict(by_part),
        "macs_per_row": macs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--columns", nargs="*", type=int, default=[15, 40])
    args = parser.parse_args()
    results = [profile(args.rows, c) for c in args.columns]
    parts = [p for p, _ in PARTS] + ["other", "outside torch operators"]
    print(f"\nOne epoch of the default generator on {args.rows:,} rows (2 cores; profiler on)\n")
    head = " | ".join(f"{r['columns']} columns" for r in results)
    print(f"| | {head} |")
    print("|---|" + "---|" * len(results))
    print("| train step (epoch) s | " + " | ".join(f"{r['epoch_s']:.1f}" for r in results) + " |")
    print("| first layer multiply-adds per row | " + " | ".join(f"{r['macs_per_row']:,}" for r in results) + " |")
    for part in parts:
        cells = []
        for r in results:
            total = sum(r["parts"].values()) or 1.0
            cells.append(f"{r['parts'].get(part, 0.0):.1f} s ({r['parts'].get(part, 0.0) / total:.0%})")
        print(f"| {part} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
