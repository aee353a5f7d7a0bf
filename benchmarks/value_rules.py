"""Benchmark: value rules on every data-driven generator (issue 21's "must show" for rules).

    python benchmarks/value_rules.py                        # Adult and customers, every generator, 100,000 rows
    python benchmarks/value_rules.py --only copula bayesnet --rows 20000 --epochs 5

Tables: Adult (../shared/datasets/adult/train.csv, 32,561 rows) with the ten rules of examples/adult-rules.yaml,
and a customers table with datetimes (20,000 rows made by the rules generator from examples/customers.yaml, seed
0) with examples/customers-rules.yaml (``last_purchase >= signup_date + days(1)`` among them). Each generator is
fitted once per table; from the same fitted model it samples ``--rows`` rows without rules and with them (same
seed). Printed per generator and table: violations in the plain sample and in the ruled one (counted by the rule
checker, and for Adult also by pandas masks written out in tests/test_value_rules.py), synthgov's Column Shapes
and Column Pair Trends (the SDMetrics-equal fidelity of the evaluation suite) of each against the real table and
their drop, and the time: fit + sample without rules, fit + rule check + sample with rules, and the growth.

Neural generators train ``--epochs`` epochs (default: their own defaults, with the default generator's 10-minute
budget); the DP ones run at epsilon 1 on domains declared public from the table (``synthgov schema --domains``),
on Adult only (they do not model datetime columns).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ADULT = ROOT.parent / "shared" / "datasets" / "adult" / "train.csv"
GENERATORS = ("copula", "bayesnet", "autoregressive", "ctgan", "tvae", "ddpm", "mst", "aim")
NEURAL = ("autoregressive", "ctgan", "tvae", "ddpm")
PRIVATE = ("mst", "aim")


def tables() -> dict[str, tuple[pd.DataFrame, Path]]:
    import synthgov

    customers = synthgov.synthesizer("rules", spec=str(ROOT / "examples" / "customers.yaml"), seed=0).fit()
    frame = customers.sample(20_000, seed=0).drop(columns=["customer_id", "name", "city"])
    return {
        "adult": (pd.read_csv(ADULT), ROOT / "examples" / "adult-rules.yaml"),
        "customers": (frame, ROOT / "examples" / "customers-rules.yaml"),
    }


def measure(name: str, table: pd.DataFrame, rules_path: Path, rows: int, epochs: int | None) -> dict:
    import synthgov
    from synthgov.constraints.enforcement import sample_satisfying
    from synthgov.constraints.preflight import check_rules
    from synthgov.constraints.value_rules import load_rules
    from synthgov.evaluation.fidelity import quality_scores
    from synthgov.evaluation.prepare import load_tables
    from synthgov.privacy.domains import declare_domains
    from synthgov.table.infer import infer_schema

    schema = infer_schema(table)
    params: dict = {}
    if name in PRIVATE:
        schema = declare_domains(schema, table)
        params = {"epsilon": 1.0}
    elif name in NEURAL and epochs is not None:
        params = {"epochs": epochs}
    started = time.perf_counter()
    model = synthgov.synthesizer(name, seed=0, **params).fit(table, schema)
    fit = time.perf_counter() - started
    started = time.perf_counter()
    plain = model.sample(rows, seed=1)
    plain_seconds = time.perf_counter() - started
    rules = load_rules(rules_path)
    started = time.perf_counter()
    if name not in PRIVATE:  # a DP release checks its rules against the declared categories only
        check_rules(rules, table)
    ruled, report = sample_satisfying(model, rows, rules, seed=1)
    ruled_seconds = time.perf_counter() - started
    before = quality_scores(load_tables(table, plain, None, model.schema_))
    after = quality_scores(load_tables(table, ruled, None, model.schema_))
    extra = {}
    if "relationship" in table.columns:
        sys.path.insert(0, str(ROOT / "tests"))
        from test_value_rules import by_hand

        extra = {
            "pandas_violations_plain": int((~by_hand(plain).all(axis=1)).sum()),
            "pandas_violations_ruled": int((~by_hand(ruled).all(axis=1)).sum()),
        }
    return {
        "generator": name,
        "rows": rows,
        "violating_rows_plain": int((~rules.satisfied(plain)).sum()),
        "violating_rows_ruled": int((~rules.satisfied(ruled)).sum()),
        **extra,
        "rows_drawn_again": report["rows_drawn_again"],
        "shapes_plain": before["column_shapes"],
        "shapes_ruled": after["column_shapes"],
        "trends_plain": before["column_pair_trends"],
        "trends_ruled": after["column_pair_trends"],
        "fit_seconds": fit,
        "plain_seconds": fit + plain_seconds,
        "ruled_seconds": fit + ruled_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=list(GENERATORS), choices=GENERATORS)
    parser.add_argument("--tables", nargs="+", default=["adult", "customers"], choices=["adult", "customers"])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = []
    for table_name, (table, rules_path) in tables().items():
        if table_name not in args.tables:
            continue
        for name in args.only:
            if name in PRIVATE and any(pd.api.types.is_datetime64_any_dtype(t) for t in table.dtypes):
                print(f"{name} on {table_name}: skipped (the DP generators do not model datetime columns)")
                continue
            result = {"table": table_name, **measure(name, table, rules_path, args.rows, args.epochs)}
            results.append(result)
            print(json.dumps(result), flush=True)
    print()
    print(
        "| table | generator | violating rows without rules | with rules | Shapes without / with | "
        "Trends without / with | time without / with (s) | growth |"
    )
    print("|---|---|---:|---:|---|---|---|---:|")
    for r in results:
        print(
            f"| {r['table']} | {r['generator']} | {r['violating_rows_plain']:,} | {r['violating_rows_ruled']:,} | "
            f"{r['shapes_plain']:.4f} / {r['shapes_ruled']:.4f} | {r['trends_plain']:.4f} / {r['trends_ruled']:.4f} "
            f"| {r['plain_seconds']:.1f} / {r['ruled_seconds']:.1f} | "
            f"{100 * (r['ruled_seconds'] / r['plain_seconds'] - 1):+.0f}% |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
