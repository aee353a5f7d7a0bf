"""Benchmark: where a training step of the default (autoregressive) generator spends its time, as columns grow
(issue 23, item 4: "measure where a step's time goes").

    python benchmarks/autoregressive_profile.py                 # 15 and 40 columns, 20,000 rows, one epoch
    python benchmarks/autoregressive_profile.py --columns 15 40 100 --rows 20000
    python benchmarks/autoregressive_profile.py --sampling-chunks   # sampling throughput by chunk size
    python benchmarks/autoregressive_profile.py --passes 200        # a 512-row batch's time by rows per pass

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


def sampling_chunks(columns: int = 15) -> None:
    """Rows per second of sampling by chunk size (``SAMPLE_CHUNK`` of the neural generators), at 10,000 and
    100,000 rows, for the default generator, ctgan and tvae (each fitted on 10,000 rows, one epoch)."""
    import synthgov
    from scale import make_table
    from synthgov.generators.neural import autoregressive, base

    table = make_table(10_000, columns)
    print(f"\nSampling throughput by chunk size ({columns} columns)\n")
    print("| generator | rows per chunk | 10,000 rows: rows per s | 100,000 rows: rows per s |")
    print("|---|---|---|---|")
    for name in ("autoregressive", "ctgan", "tvae"):
        model = synthgov.synthesizer(name, seed=0, epochs=1, patience=None).fit(table)
        for chunk in (4_096, 16_384, 65_536):
            autoregressive.SAMPLE_CHUNK = base.SAMPLE_CHUNK = chunk
            cells = []
            for n in (10_000, 100_000):
                started = time.perf_counter()
                model.sample(n, seed=1)
                cells.append(f"{n / (time.perf_counter() - started):,.0f}")
            print(f"| {name} | {chunk:,} | {' | '.join(cells)} |", flush=True)


def passes(columns: int, batch: int = 512) -> None:
    """Seconds of one training step (forward, backward, AdamW) on a ``batch``-row batch of ``columns`` columns of
    20 tokens each, by rows per forward pass (the gradients of the passes summed, as training does)."""
    import numpy as np
    import torch
    from torch.nn import functional

    from synthgov.generators.neural.autoregressive import _network, dropout_masks

    net = _network([20] * columns, [np.full(20, 1 / 20)] * columns, 16, 64, 0.1)
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3)
    keep = dropout_masks(0.1, 16, np.random.default_rng(0), torch.Generator().manual_seed(0), torch.device("cpu"))
    tokens = torch.randint(0, 20, (batch, columns), generator=torch.Generator().manual_seed(1))
    ranks = torch.rand(batch, columns).argsort(1).argsort(1)
    known = ranks.unsqueeze(1) < ranks.unsqueeze(2)

    def loss_of(x, k, kept):
        h = net.hidden_state(net.embeddings(x), k, keep=kept)
        return sum(functional.cross_entropy(head(h[:, j]), x[:, j]) for j, head in enumerate(net.heads)) / columns

    print(f"\nOne training step of a {batch}-row batch, {columns} columns, by rows per forward pass (best of 2)\n")
    print("| rows per pass | seconds per step |")
    print("|---|---|")
    for per in (26, 64, 128, 256, batch):
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            optimiser.zero_grad()
            for start in range(0, batch, per):
                part = slice(start, min(batch, start + per))
                rows = part.stop - part.start
                (loss_of(tokens[part], known[part], keep(rows, columns)) * (rows / batch)).backward()
            optimiser.step()
            best = min(best, time.perf_counter() - started)
        print(f"| {per} | {best:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--columns", nargs="*", type=int, default=[15, 40])
    parser.add_argument("--sampling-chunks", action="store_true", help="sampling throughput by chunk size instead")
    parser.add_argument("--passes", type=int, metavar="COLUMNS", help="a batch's step time by rows per pass instead")
    args = parser.parse_args()
    if args.sampling_chunks:
        sampling_chunks()
        return
    if args.passes:
        passes(args.passes)
        return
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
