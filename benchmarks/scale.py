"""Benchmark: how the cost of each step grows with rows and with columns (issue 23's cost curves).

    python benchmarks/scale.py                          # the default grid (about 50 minutes on 2 cores)
    python benchmarks/scale.py --only copula bayesnet   # some generators (and `evaluate`)
    python benchmarks/scale.py --rows 10000 100000 --columns 15 --cap 120
    python benchmarks/scale.py --plot docs/scale-rows.svg --json scale.json

Tables come from the shipped Adult data (32,561 rows x 15 columns): lengthened by drawing rows with replacement
(seeded), widened by renamed copies of its columns with noise (numbers + Gaussian noise of a tenth of the column's
standard deviation; categories replaced by a random value of the column in 10% of rows) or narrowed to the first
columns (``income`` kept). Each measurement runs in a fresh process (so its peak resident memory is its own) under a
time cap: a run past the cap is killed and shown as ``> cap``. Per run: fit seconds, sampling seconds and rows per
second (as many rows as the table has), peak RSS (``getrusage``); for ``evaluate``: the full evaluation of a
copula release of the same size against the table (target ``income``), no holdout.

The neural generators run a fixed number of epochs (``--epochs``, 2 by default, no early stopping) so that their
curves measure the cost of an epoch, not how fast each converges; the default generator's complete fit on a large
table is measured apart (``benchmarks/neural.py --widen``). The DP generators run at epsilon 1 (delta the smaller
of 1e-5 and 0.1/n) on domains declared public from the table (as ``synthgov schema --domains`` declares them). The
fitted exponent of a step is the least-squares slope of log(seconds) against log(rows) (or log(columns)) over the
points measured within the cap.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "datasets" / "adult" / "train.csv"
NEURAL = ("autoregressive", "ctgan", "tvae", "ddpm")
PRIVATE = ("mst", "aim")
DEFAULT_ROWS = (10_000, 100_000, 1_000_000)
DEFAULT_COLUMNS = (15, 50, 200)


def adult():
    import pandas as pd

    if DATA.exists():
        return pd.read_csv(DATA)
    from synthgov import load_demo

    return load_demo("adult", "train")


def make_table(rows: int, columns: int, seed: int = 0):
    """Adult lengthened to ``rows`` and widened or narrowed to ``columns`` (``income`` always kept, last)."""
    import numpy as np
    import pandas as pd

    base = adult()
    rng = np.random.default_rng(seed)
    table = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    features = [c for c in table.columns if c != "income"]
    if columns <= len(features):
        return table[[*features[: columns - 1], "income"]]
    extra = {}
    for k in range(columns - len(features) - 1):
        source = features[k % len(features)]
        values = table[source]
        name = f"{source}_copy{k // len(features) + 1}"
        if pd.api.types.is_numeric_dtype(values):
            noisy = values + rng.normal(0, 0.1 * float(values.std() or 1.0), rows)
            extra[name] = noisy.round().astype(values.dtype) if values.dtype.kind in "iu" else noisy
        else:
            swap = rng.random(rows) < 0.1
            extra[name] = values.where(~swap, values.to_numpy()[rng.permutation(rows)])
    return pd.concat([table[features], pd.DataFrame(extra), table[["income"]]], axis=1)


def peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, rows: int, columns: int, epochs: int) -> dict:
    """One run (in its own process): fit, sample and peak memory of generator ``name``, or ``evaluate``."""
    import warnings

    warnings.simplefilter("ignore")
    import synthgov

    table = make_table(rows, columns)
    result: dict = {"step": name, "rows": rows, "columns": columns}
    params: dict = {"seed": 0}
    if name in NEURAL:
        params.update(epochs=epochs, patience=None)
    schema = None
    if name in PRIVATE:
        from synthgov.privacy.domains import declare_domains
        from synthgov.table.infer import infer_schema

        params.update(epsilon=1.0, delta=min(1e-5, 0.1 / rows))  # delta below 1/n, as DP requires
        schema = declare_domains(infer_schema(table), table)  # as `synthgov schema --domains` declares them
    if name == "evaluate":
        model = synthgov.synthesizer("copula", seed=0).fit(table)
        synthetic = model.sample(rows)
        start = time.perf_counter()
        synthgov.evaluate(table, synthetic, target="income")
        result["evaluate_s"] = time.perf_counter() - start
    else:
        start = time.perf_counter()
        model = synthgov.synthesizer(name, **params).fit(table, schema)
        result["fit_s"] = time.perf_counter() - start
        start = time.perf_counter()
        model.sample(rows)
        result["sample_s"] = time.perf_counter() - start
        result["rows_per_s"] = rows / result["sample_s"]
    result["peak_mib"] = peak_mib()
    return result


def run_one(name: str, rows: int, columns: int, epochs: int, cap: float) -> dict:
    command = [sys.executable, __file__, "--one", json.dumps([name, rows, columns, epochs])]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=cap)
    except subprocess.TimeoutExpired:
        return {"step": name, "rows": rows, "columns": columns, "over_cap": cap}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        return {"step": name, "rows": rows, "columns": columns, "error": tail[0][:200]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - started
    return result


def exponent(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) on log(x); None with fewer than two points."""
    points = [(x, y) for x, y in points if y and y > 0]
    if len(points) < 2:
        return None
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else None


def seconds(result: dict) -> float | None:
    return result.get("fit_s", result.get("evaluate_s"))


def cell(result: dict, key: str, fmt: str) -> str:
    value = result.get(key)
    return "-" if value is None else format(value, fmt)


def stopped(result: dict) -> str | None:
    """How a run that measured nothing is shown (past the cap, or its error)."""
    if "over_cap" in result:
        return f"stopped at the {result['over_cap']:.0f} s cap"
    if "error" in result:
        return f"error: {result['error'][:60]}"
    return None


def last_decade(points: list[tuple[float, float]]) -> float | None:
    """The slope between the two largest sizes measured: the cost's growth where fixed costs no longer hide it."""
    points = sorted((x, y) for x, y in points if y)
    return exponent(points[-2:]) if len(points) >= 2 else None


def _exponents(points: list[tuple[float, float]]) -> str:
    every, top = exponent(points), last_decade(points)
    if every is None:
        return "-"
    return f"{every:.2f} / {top:.2f}"


def print_tables(results: list[dict], rows: list[int], columns: list[int], base_columns: int, base_rows: int) -> None:
    steps = list(dict.fromkeys(r["step"] for r in results))
    print(f"\n### Rows grow ({base_columns} columns)\n")
    head = " | ".join(f"{n:,} rows: fit (evaluate) s / sampled rows per s / peak MiB" for n in rows)
    print(f"| step | {head} | exponent in rows, fit: all points / last decade | same, sampling |")
    print("|---|" + "---|" * (len(rows) + 2))
    for step in steps:
        mine = {r["rows"]: r for r in results if r["step"] == step and r["columns"] == base_columns}
        cells = []
        for n in rows:
            r = mine.get(n)
            if r is None:
                cells.append("")
                continue
            key = "evaluate_s" if step == "evaluate" else "fit_s"
            cells.append(stopped(r) or f"{cell(r, key, '.1f')} / {cell(r, 'rows_per_s', ',.0f')} / "
                         f"{cell(r, 'peak_mib', '.0f')}")  # fmt: skip
        fits = [(n, seconds(r)) for n, r in mine.items() if seconds(r)]
        samples = [(n, r.get("sample_s")) for n, r in mine.items() if r.get("sample_s")]
        print(f"| {step} | {' | '.join(cells)} | {_exponents(fits)} | {_exponents(samples)} |")
    print(f"\n### Columns grow ({base_rows:,} rows)\n")
    head = " | ".join(f"{c} columns: fit (evaluate) s / peak MiB" for c in columns)
    print(f"| step | {head} | exponent in columns, fit: all points / last step |")
    print("|---|" + "---|" * (len(columns) + 1))
    for step in steps:
        mine = {r["columns"]: r for r in results if r["step"] == step and r["rows"] == base_rows}
        cells = []
        for c in columns:
            r = mine.get(c)
            key = "evaluate_s" if step == "evaluate" else "fit_s"
            cells.append("" if r is None else stopped(r) or f"{cell(r, key, '.1f')} / {cell(r, 'peak_mib', '.0f')}")
        fits = [(c, seconds(r)) for c, r in mine.items() if seconds(r)]
        print(f"| {step} | {' | '.join(cells)} | {_exponents(fits)} |")


def plot(results: list[dict], base_columns: int, base_rows: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_rows, by_columns) = plt.subplots(1, 2, figsize=(11, 4.5))
    for step in dict.fromkeys(r["step"] for r in results):
        points = sorted((r["rows"], seconds(r)) for r in results
                        if r["step"] == step and r["columns"] == base_columns and seconds(r))  # fmt: skip
        if points:
            by_rows.plot(*zip(*points, strict=True), marker="o", label=step)
        points = sorted((r["columns"], seconds(r)) for r in results
                        if r["step"] == step and r["rows"] == base_rows and seconds(r))  # fmt: skip
        if points:
            by_columns.plot(*zip(*points, strict=True), marker="o", label=step)
    for axis, label in ((by_rows, f"rows ({base_columns} columns)"), (by_columns, f"columns ({base_rows:,} rows)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel(label)
        axis.set_ylabel("fit (evaluate) seconds")
        axis.grid(True, which="both", alpha=0.3)
    by_rows.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    print(f"curves drawn in {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="steps to run: generator names and/or evaluate (default: all)")
    parser.add_argument("--rows", nargs="*", type=int, default=list(DEFAULT_ROWS))
    parser.add_argument("--columns", nargs="*", type=int, default=list(DEFAULT_COLUMNS))
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the neural generators (fixed)")
    parser.add_argument("--cap", type=float, default=300.0, help="seconds a run may take before it is stopped")
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    parser.add_argument("--plot", type=Path, help="draw the log-log curves into this SVG/PNG")
    parser.add_argument("--from", dest="saved", nargs="*", type=Path,
                        help="print (and plot) results saved by --json instead of measuring; a later file's run of "
                        "a step at the same size replaces an earlier one's")  # fmt: skip
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(*json.loads(args.one))))
        return
    if args.saved:
        merged: dict[tuple, dict] = {}
        for path in args.saved:  # a later file's run of the same step, rows and columns replaces an earlier one's
            merged.update({(r["step"], r["rows"], r["columns"]): r for r in json.loads(path.read_text())})
        results = list(merged.values())
        print_tables(results, args.rows, args.columns, args.columns[0], args.rows[0])
        if args.plot:
            plot(results, args.columns[0], args.rows[0], args.plot)
        return
    from synthgov.generators import registry

    steps = args.only or [*[g for g in registry.available() if g != "rules"], "evaluate"]
    base_columns, base_rows = args.columns[0], args.rows[0]
    results = []
    for step in steps:
        stopped_rows = False
        for n in args.rows:  # rows grow; past the cap, larger sizes are not tried
            if stopped_rows:
                results.append({"step": step, "rows": n, "columns": base_columns, "over_cap": args.cap})
                continue
            result = run_one(step, n, base_columns, args.epochs, args.cap)
            print(json.dumps(result), flush=True)
            results.append(result)
            stopped_rows = "over_cap" in result
        stopped_columns = False
        for c in args.columns[1:]:
            if stopped_columns:
                results.append({"step": step, "rows": base_rows, "columns": c, "over_cap": args.cap})
                continue
            result = run_one(step, base_rows, c, args.epochs, args.cap)
            print(json.dumps(result), flush=True)
            results.append(result)
            stopped_columns = "over_cap" in result
    print_tables(results, args.rows, args.columns, base_columns, base_rows)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.plot:
        plot(results, base_columns, base_rows, args.plot)


if __name__ == "__main__":
    main()
