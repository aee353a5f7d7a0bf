"""``synthgov detect TABLE``: is this table one of our watermarked releases, and whose copy is it?"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthgov.cli.ui import out, user_errors

THRESHOLD = 1e-6  # watermark.detect.DETECTION_THRESHOLD, not imported here: the CLI starts light


def register(app: typer.Typer) -> None:
    app.command("detect")(detect_command)


def detect_command(
    table: Path = typer.Argument(
        ..., help="Suspect table (CSV or Parquet, or a folder of part-*.parquet), or a release folder.", metavar="TABLE"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (p_value, key_id, payload, rows, ...)."),
    threshold: float = typer.Option(THRESHOLD, "--threshold", help="p-value at or below which the mark is found."),
    server: str = typer.Option(
        None, "--server", help="Ask a registry (synthgov serve) instead: was this one of its copies, and whose?"
    ),
    token: str = typer.Option(None, "--token", help="With --server: your API token (default: $SYNTHGOV_TOKEN)."),
    dask: str = typer.Option(
        None,
        "--dask",
        help="Read a partitioned table's files on a Dask cluster: 'local' (a LocalCluster) or the scheduler's "
        "address (its workers must reach the files and receive the watermark key). Needs synthgov[dask].",
        metavar="ADDRESS",
    ),
    workers: int = typer.Option(2, "--workers", help="Worker processes of --dask local."),
) -> None:
    """Test TABLE for the watermark of the keys in $SYNTHGOV_HOME (or of a registry's copies with --server).
    Exit 0 found, 1 not found, 2 bad input."""
    if server is not None:
        _detect_remote(table, server, token, as_json)
        return
    from synthgov.release.keys import Keystore, watermark_key_id
    from synthgov.table.io import read_chunks, release_data
    from synthgov.watermark import registry
    from synthgov.watermark.detect import detect_chunks

    with user_errors():
        path = release_data(table)
        store = Keystore.default()
        if not store.exists():
            from synthgov.errors import InputError

            raise InputError(f"no keystore in {store.folder}: detection needs the watermark key (synthgov keys init)")
        secret = store.watermark_secret()
        key_id = watermark_key_id(secret)
        plans = registry.plans_for(key_id)
        if dask is not None:  # each file's evidence on a worker, added here in file order
            from synthgov.release.on_dask import detect_files
            from synthgov.table.io import table_files

            result = detect_files(table_files(path), plans, secret, key_id, dask, workers)
        else:
            # read in parts (a partitioned release's partitions, a Parquet file's row groups): bounded memory, and
            # the same answer as the whole table in memory (watermark.evidence)
            result = detect_chunks(read_chunks(path), plans, secret, key_id)
    found = result.p_value <= threshold
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "found": found, "threshold": threshold}))
    elif found:
        who = f"recipient {result.recipient}" if result.recipient else "no recipient named"
        out.print(
            f"[bold green]WATERMARK FOUND[/]: p = {result.p_value:.2e} from {result.rows:,} rows; key {result.key_id}, "
            f"release {result.release_id}, {who}",
            highlight=False,
        )
        out.print(result.payload_line(), highlight=False)
    else:
        out.print(
            f"[bold]no watermark of key {key_id}[/]: p = {result.p_value:.2g} from {result.rows:,} rows "
            f"({result.plans_tested} release plan(s) tested)",
            highlight=False,
        )
    raise typer.Exit(code=0 if found else 1)


def _detect_remote(table: Path, server: str, token: str | None, as_json: bool) -> None:
    from synthgov.cli.service import _needs_extra

    with user_errors():
        _needs_extra()
        from synthgov.service.client import detect

        result = detect(table, server, token)
    if as_json:
        typer.echo(json.dumps(result))
    elif result["found"]:
        who = f"recipient {result['recipient']}" if result.get("recipient") else "no recipient named"
        out.print(f"[bold green]COPY FOUND[/]: p = {result['p_value']:.2e}; release {result['release_id']}, {who}",
                  highlight=False)  # fmt: skip
    else:
        out.print(f"[bold]not one of this registry's copies[/]: p = {result['p_value']:.2g}", highlight=False)
    raise typer.Exit(code=0 if result["found"] else 1)
