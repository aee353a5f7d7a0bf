"""``synthgov generate | fit | sample | demo | generators``: making synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from synthgov.release.folder import Release

from synthgov.cli.params import parse_params, with_privacy
from synthgov.cli.ui import err, fail, out, parse_conditions, progress_bars, user_errors

GENERATOR_HELP = "Generator name (see `synthgov generators`); default: the best quality per second synthgov has."
ALLOW_HELP = "Train on a table that is synthetic (one of our releases); the manifest records depth and share."
PARAM_HELP = "A generator parameter, e.g. epochs=50 (repeatable; see the generator's docs for its parameters)."
POLICY_HELP = (
    "Policy file (YAML: max_generation_depth, max_synthetic_share, max_epsilon); default $SYNTHGOV_HOME/policy.yaml."
)
EPSILON_HELP = "Differential privacy: the release's epsilon (a DP generator, e.g. mst; charged to the source's budget)."
DELTA_HELP = "Differential privacy: the release's delta (default 1e-5; below 1/rows)."


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command)
    app.command("fit")(fit_command)
    app.command("sample")(sample_command)
    app.command("demo")(demo_command)
    app.command("generators")(generators_command)


def _check_rows(rows: int | None) -> None:
    if rows is not None and rows < 1:
        fail(f"--rows must be a positive integer, got {rows}")


def generate_command(
    source: Path = typer.Argument(
        ..., help="CSV or Parquet table to learn from, or a rules spec (.yaml).", metavar="SOURCE"
    ),
    generator: str = typer.Option(None, "--generator", "-g", help=GENERATOR_HELP),
    param: list[str] = typer.Option(None, "--param", "-p", help=PARAM_HELP, metavar="KEY=VALUE"),
    epsilon: float = typer.Option(None, "--epsilon", help=EPSILON_HELP),
    delta: float = typer.Option(None, "--delta", help=DELTA_HELP),
    rows: int = typer.Option(None, "--rows", "-n", help="Rows to generate (default: as many as the input)."),
    seed: int = typer.Option(None, "--seed", help="Seed of every random step (default: fresh, recorded)."),
    out_dir: Path = typer.Option(Path("synthgov-release"), "--out", "-o", help="Release folder to write."),
    csv: bool = typer.Option(False, "--csv", help="Also write synthetic.csv."),
    partition_rows: int = typer.Option(
        None,
        "--partition-rows",
        help="Write synthetic/part-*.parquet of this many rows, one in memory at a time (the default above "
        "1,000,000 rows, with 250,000-row partitions).",
    ),
    dask: str = typer.Option(
        None,
        "--dask",
        help="Write the release in partitions drawn on a Dask cluster: 'local' (a LocalCluster on this machine) or "
        "the scheduler's address (its workers must reach the output folder and receive the watermark key). Needs "
        "synthgov[dask].",
        metavar="ADDRESS",
    ),
    workers: int = typer.Option(2, "--workers", help="Worker processes of --dask local."),
    schema: Path = typer.Option(None, "--schema", help="Schema file (from `synthgov schema`) overriding inference."),
    condition: list[str] = typer.Option(
        None, "--condition", "-c", help="COLUMN=VALUE every row must have (repeatable).", metavar="COLUMN=VALUE"
    ),
    rules: Path = typer.Option(
        None,
        "--rules",
        help="Value rules every released row satisfies (YAML; `synthgov rules suggest` writes one).",
    ),
    save_model: bool = typer.Option(
        False,
        "--save-model",
        help="Also save the fitted model in the release (model.synthgov, signed with it).",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace a non-empty --out folder that is not a release (its files are lost).",
    ),
    mode: str = typer.Option(
        "full",
        "--mode",
        help="full: every row generated; partial: real rows, the --replace columns generated; hybrid: real and "
        "generated rows mixed (--real-share).",
    ),
    real_share: float = typer.Option(None, "--real-share", help="With --mode hybrid: the share of real rows."),
    replace: list[str] = typer.Option(
        None, "--replace", help="With --mode partial: a column to replace (repeatable).", metavar="COLUMN"
    ),
    privacy_filter: bool = typer.Option(
        False,
        "--privacy-filter",
        help="Draw again (then drop) rows closer to a training row than holdout rows' 5th percentile (--holdout).",
    ),
    party: str = typer.Option(None, "--party", help="Accountable party recorded in the signed manifest."),
    source_licence: str = typer.Option(None, "--source-licence", help="Licence of the source data, for the manifest."),
    no_watermark: bool = typer.Option(
        False,
        "--no-watermark",
        help="Release unmarked (to measure the watermark's cost); the manifest says so.",
    ),
    recipient: str = typer.Option(
        None, "--recipient", help="Who receives this copy: its 32-bit id is embedded and decoded from a leak."
    ),
    allow_synthetic: bool = typer.Option(False, "--allow-synthetic", help=ALLOW_HELP),
    policy: Path = typer.Option(None, "--policy", help=POLICY_HELP),
    evaluate: bool = typer.Option(
        False,
        "--evaluate",
        help="Evaluate before signing: report/ in the release, its figures in the manifest.",
    ),
    holdout: Path = typer.Option(
        None,
        "--holdout",
        help="Real rows never trained on: DCR share in the manifest, privacy attacks with --evaluate.",
    ),
    fair: list[str] = typer.Option(
        None,
        "--fair",
        help="Bias mitigation: a sensitive column (or a split such as 'age>=25'); repeat or comma-separate.",
        metavar="SENSITIVE",
    ),
    strategy: str = typer.Option(
        None,
        "--strategy",
        help="With --fair: rebalance (group shares), parity (equal label rates; default with --target) or "
        "counterfactual (pairs).",
    ),
    shares: str = typer.Option(
        None, "--shares", help="With --strategy rebalance: GROUP=SHARE,... (default: equal shares)."
    ),
    descendants: list[str] = typer.Option(
        None,
        "--descendants",
        help="With --strategy counterfactual: the columns the sensitive one causes (default: the target).",
        metavar="COLUMN",
    ),
    target: str = typer.Option(
        None, "--target", help="The label: what --fair equalises, and what --evaluate measures utility on."
    ),
    sensitive: list[str] = typer.Option(
        None, "--sensitive", help="With --evaluate: a column for the bias metrics.", metavar="COLUMN"
    ),
) -> None:
    """Fit a generator on SOURCE and write a signed, watermarked release folder (synthetic.parquet, manifest)."""
    from synthgov.pipeline import generate, is_rules_spec

    _check_rows(rows)
    named = generator or ("rules" if is_rules_spec(source) else None)
    if sensitive and not evaluate:
        fail("--sensitive is an option of the evaluation: add --evaluate (bias mitigation is --fair)")
    if target and not (evaluate or fair):
        fail("--target is an option of --fair and --evaluate: add one of them")
    with user_errors(), progress_bars():
        release = generate(
            source,
            generator=generator,
            params=with_privacy(generator, parse_params(named, param), epsilon, delta),
            rows=rows,
            seed=seed,
            out=out_dir,
            csv=csv,
            schema=schema,
            conditions=parse_conditions(condition),
            rules=rules,
            party=party,
            source_licence=source_licence,
            watermark=not no_watermark,
            recipient=recipient,
            allow_synthetic=allow_synthetic,
            policy=policy,
            evaluate=evaluate,
            holdout=holdout,
            target=target,
            sensitive=tuple(sensitive or ()),
            overwrite=overwrite,
            save_model=save_model,
            privacy_filter=privacy_filter,
            mode=mode,
            replace=tuple(replace or ()),
            real_share=real_share,
            fair=tuple(fair or ()),
            strategy=strategy,
            shares=shares,
            descendants=tuple(descendants or ()),
            partition_rows=partition_rows,
            dask=dask,
            workers=workers,
        )
    _report(release)
    _report_rules(release)
    _report_fairness(release)


def _report_fairness(release: Release) -> None:
    section = (release.manifest or {}).get("statement", {}).get("predicate", {}).get("fairness")
    if not section:
        return
    before = section["before"] if isinstance(section["before"], dict) else {}
    for name, after in section["after"].items():
        shares = ", ".join(f"{group} {v['share']:.1%}" for group, v in after["groups"].items())
        line = f"fair ({section['strategy']}) {name}: shares {shares}"
        if "demographic_parity_difference" in after:
            was = before.get(name, {}).get("demographic_parity_difference")
            line += f"; label-rate gap {after['demographic_parity_difference']:.3f}"
            line += f" (training rows {was:.3f})" if was is not None else ""
        out.print(line, markup=False, highlight=False)
    if section["strategy"] == "counterfactual":
        out.print(f"fair: {section['pairs']:,} counterfactual pairs (rows 2k, 2k+1)", markup=False)


def _report_rules(release: Release) -> None:
    section = (release.manifest or {}).get("statement", {}).get("predicate", {}).get("value_rules")
    if not section:
        return
    out.print(
        f"value rules: {len(section['rules'])} rules, 0 violations in {section['checked_rows']:,} rows "
        f"({section['rows_drawn_again']:,} drawn again under rule-satisfying conditions)"
    )
    for rule in section["rules"]:
        if rule.get("real_violation_rate"):
            out.print(
                f"[yellow]rule {rule['name']!r} is broken by {100 * rule['real_violation_rate']:.3g}% of the real "
                "rows[/]: the release reinforces it (drop the rule to keep the data's own exceptions)"
            )


def _report(release: Release) -> None:
    from rich.table import Table

    rows = release.rows if release.rows is not None else len(release.data)
    predicate = (release.manifest or {}).get("statement", {}).get("predicate", {})
    width = len(predicate["integrity"]["files"][0]["columns"]) if predicate else release.data.shape[1]
    out.print(
        f"[bold green]done[/]: {rows:,} synthetic rows x {width} columns with "
        f"[bold]{release.generator}[/] (seed {release.seed}) in "
        f"{release.fit_seconds:.1f} s fit + {release.sample_seconds:.1f} s sample"
    )
    marking = (release.manifest or {}).get("statement", {}).get("predicate", {}).get("watermark", {})
    if marking.get("embedded"):
        carriers = ", ".join(marking.get("carriers", {}))
        out.print(f"watermarked with key {marking['key_id']} (carriers: {carriers}); check with `synthgov detect`")
    elif release.manifest is not None:
        out.print(f"[yellow]not watermarked[/]: {marking.get('note', '')}")
    view = Table(title=f"release folder {release.folder.resolve()}")
    view.add_column("file")
    view.add_column("size", justify="right")
    parts = [path for path in release.files if path.parent.name == "synthetic" and path.name.startswith("part-")]
    if parts:
        size = sum(path.stat().st_size for path in parts)
        view.add_row(f"{parts[0].parent}/part-*.parquet ({len(parts)} partitions)", f"{size / 1024:,.0f} KiB")
    for path in release.files:
        if path not in parts:
            view.add_row(str(path), f"{path.stat().st_size / 1024:,.0f} KiB")
    out.print(view)


def fit_command(
    source: Path = typer.Argument(..., help="CSV or Parquet table, or a rules spec (.yaml).", metavar="SOURCE"),
    generator: str = typer.Option(None, "--generator", "-g", help=GENERATOR_HELP),
    param: list[str] = typer.Option(None, "--param", "-p", help=PARAM_HELP, metavar="KEY=VALUE"),
    epsilon: float = typer.Option(None, "--epsilon", help=EPSILON_HELP),
    delta: float = typer.Option(None, "--delta", help=DELTA_HELP),
    seed: int = typer.Option(None, "--seed", help="Seed of every random step (default: fresh, recorded)."),
    model_path: Path = typer.Option(Path("model.synthgov"), "--model", "-m", help="Where to save the fitted model."),
    schema: Path = typer.Option(None, "--schema", help="Schema file overriding inference."),
    allow_synthetic: bool = typer.Option(False, "--allow-synthetic", help=ALLOW_HELP),
    policy: Path = typer.Option(None, "--policy", help=POLICY_HELP),
) -> None:
    """Fit a generator on SOURCE and save the model (JSON + npz, no pickle)."""
    import uuid

    from synthgov.pipeline import MODEL_STAGES, ReleaseOptions, ReleaseRun, run_stages, stages

    with user_errors(), progress_bars():
        options = ReleaseOptions(
            generator=generator,
            seed=seed,
            schema=schema,
            allow_synthetic=allow_synthetic,
            policy=policy,
            params=with_privacy(generator, parse_params(generator, param), epsilon, delta),
            model_path=model_path,
        )
        run = ReleaseRun(source, options, release_id=str(uuid.uuid4()))
        try:
            run_stages(run, MODEL_STAGES)  # the guard, the budget charge and the fit of `generate`
            name, model = run.generator, run.model
            model.save(model_path)
            stages.settle(run)  # a DP model file is what its budget was spent on
        finally:
            run.close()
    out.print(f"[bold green]saved[/] {name} model to [bold]{model_path}[/] (seed {model.seed_})")


def sample_command(
    model_path: Path = typer.Argument(..., help="A model saved by `synthgov fit`.", metavar="MODEL_PATH"),
    rows: int = typer.Option(..., "--rows", "-n", help="Rows to generate."),
    seed: int = typer.Option(None, "--seed", help="Seed of this draw (default: from the model's seed)."),
    out_path: Path = typer.Option(
        Path("synthetic.parquet"),
        "--out",
        "-o",
        help="Output table (.parquet or .csv), or a folder (no suffix): a partitioned Parquet dataset.",
    ),
    condition: list[str] = typer.Option(
        None, "--condition", "-c", help="COLUMN=VALUE every row must have (repeatable).", metavar="COLUMN=VALUE"
    ),
    partition_rows: int = typer.Option(
        250_000, "--partition-rows", help="Rows per partition of a folder output (one partition in memory at a time)."
    ),
    dask: str = typer.Option(
        None,
        "--dask",
        help="Draw the partitions on a Dask cluster: 'local' (a LocalCluster on this machine) or the scheduler's "
        "address (tcp://host:8786; its workers must reach the output folder). Needs synthgov[dask].",
        metavar="ADDRESS",
    ),
    workers: int = typer.Option(2, "--workers", help="Worker processes of --dask local."),
    rules: Path = typer.Option(None, "--rules", help="Value rules every row satisfies (YAML)."),
) -> None:
    """Sample ROWS rows from a saved model into a Parquet or CSV file, or a partitioned Parquet folder.

    A folder's partitions each draw from their own seed stream, (seed, partition): the same seed gives the same
    bytes whether this process or any number of Dask workers draw them."""
    from synthgov.generators.base import Synthesizer
    from synthgov.table.io import write_table

    _check_rows(rows)
    partitioned = out_path.is_dir() or not out_path.suffix  # a folder: a partitioned dataset
    if dask is not None and not partitioned:
        fail(f"--dask writes a partitioned dataset: give --out a folder, not the file {out_path}")
    if partition_rows < 1:
        fail(f"--partition-rows must be a positive integer, got {partition_rows}")
    with user_errors(), progress_bars():
        model = Synthesizer.load(model_path)
        if partitioned:
            from synthgov.partitions import sample_partitioned

            index = sample_partitioned(model, rows, out_path, seed=seed, conditions=parse_conditions(condition),
                                       partition_rows=partition_rows, dask=dask, workers=workers,
                                       rules=rules)  # fmt: skip
            count = len(index["partitions"])
            out.print(f"[bold green]wrote[/] {rows:,} rows in {count} partition(s) to [bold]{out_path}[/]")
            return
        if rules is not None:
            from synthgov.constraints.enforcement import sample_satisfying
            from synthgov.constraints.value_rules import load_rules

            data, _ = sample_satisfying(model, rows, load_rules(rules), seed=seed,
                                        conditions=parse_conditions(condition))  # fmt: skip
        else:
            data = model.sample(rows, seed=seed, conditions=parse_conditions(condition))
        write_table(data, out_path)
    out.print(f"[bold green]wrote[/] {len(data):,} rows x {data.shape[1]} columns to [bold]{out_path}[/]")


def demo_command(
    out_dir: Path = typer.Option(Path("synthgov-demo"), "--out", "-o", help="Release folder to write."),
    generator: str = typer.Option(None, "--generator", "-g", help=GENERATOR_HELP),
    seed: int = typer.Option(0, "--seed", help="Seed of every random step."),
) -> None:
    """Run the main job on the shipped demo data (UCI Adult, CC BY 4.0) and write a release folder."""
    from synthgov.demo import load_demo
    from synthgov.pipeline import generate

    with user_errors(), progress_bars():
        real = load_demo("adult")
        err.print(f"demo: learning from the Adult census table ({len(real):,} rows x {real.shape[1]} columns)")
        release = generate(
            real,
            generator=generator,
            seed=seed,
            out=out_dir,
            csv=True,
            source_licence="CC BY 4.0 (UCI Adult, Becker & Kohavi 1996)",
            evaluate=True,
            holdout=load_demo("adult", "test"),
            target="income",
            sensitive=("sex", "race"),
        )
    figures = release.manifest["statement"]["predicate"]["evaluation"]["figures"]
    _report(release)
    out.print(
        f"quality (SDMetrics): {figures['fidelity.overall']['value']:.3f}; train-on-synthetic AUC "
        f"{figures['utility.tstr_auc']['value']:.3f} (real: {figures['utility.trtr_auc']['value']:.3f}); "
        f"signed with the release, full report in {out_dir / 'report' / 'report.html'}"
    )
    out.print(release.data.head(5).to_string(max_cols=8), soft_wrap=True, highlight=False)
    out.print(
        f"\nopen [bold]{out_dir / 'synthetic.csv'}[/] to look at the data; "
        "[bold]schema.yaml[/] says how each column was treated."
    )


def generators_command() -> None:
    """List the available generators."""
    from synthgov.generators import registry

    for name, summary in registry.available().items():
        default = " (default)" if name == registry.DEFAULT_GENERATOR else ""
        out.print(f"[bold]{name}[/]{default}: {summary}")
