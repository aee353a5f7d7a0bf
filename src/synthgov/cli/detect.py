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
    table: Path = typer.Argument(..., help="Suspect table (CSV or Parquet), or a release folder.", metavar="TABLE"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (p_value, key_id, payload, rows, ...)."),
    threshold: float = typer.Option(THRESHOLD, "--threshold", help="p-value at or below which the mark is found."),
) -> None:
    """Test TABLE for the watermark of the keys in $SYNTHGOV_HOME. Exit 0 found, 1 not found, 2 bad input."""
    from synthgov.release.keys import Keystore, watermark_key_id
    from synthgov.table.io import read_table
    from synthgov.watermark import detect, registry

    with user_errors():
        path = table / "synthetic.parquet" if table.is_dir() else table
        frame = read_table(path)
        store = Keystore.default()
        if not store.exists():
            from synthgov.errors import InputError

            raise InputError(f"no keystore in {store.folder}: detection needs the watermark key (synthgov keys init)")
        secret = store.watermark_secret()
        key_id = watermark_key_id(secret)
        result = detect(frame, registry.plans_for(key_id), secret, key_id)
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
