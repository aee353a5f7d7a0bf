"""``synthgov keys`` and ``synthgov verify``: the keystore and release verification."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthgov.cli.ui import err, out, user_errors

keys_app = typer.Typer(
    help="The local keystore: signing key and watermark secret ($SYNTHGOV_HOME).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("verify")(verify_command)


@keys_app.command("init")
def keys_init(
    force: bool = typer.Option(False, "--force", help="Replace an existing keystore."),
    encrypt: bool = typer.Option(
        False,
        "--encrypt",
        help="Encrypt the signing key under a passphrase ($SYNTHGOV_KEY_PASSPHRASE or asked).",
    ),
) -> None:
    """Create an Ed25519 signing key and a watermark secret (files readable by you only)."""
    from synthgov.release.keys import Keystore

    with user_errors():
        store = Keystore.default()
        index = store.init(force=force, encrypt=encrypt)
    out.print(
        f"keystore in [bold]{store.folder}[/]: signing key {index['signing_key_id']}, "
        f"watermark key {index['watermark_key_id']}"
    )


@keys_app.command("export-public")
def keys_export_public(
    out_path: Path = typer.Option(None, "--out", "-o", help="Write the PEM here instead of printing it."),
) -> None:
    """Print (or write) the public signing key, for others to verify your releases."""
    from synthgov.release.keys import Keystore

    with user_errors():
        pem = Keystore.default().public_pem()  # never creates a keystore: there is nothing to export without one
    if out_path:
        out_path.write_bytes(pem)
        out.print(f"wrote {out_path}")
    else:
        typer.echo(pem.decode("ascii"), nl=False)


DASK_HELP = (
    "Check the data files on a Dask cluster: 'local' (a LocalCluster on this machine) or the scheduler's address "
    "(its workers must reach the files; for the watermark they receive its key). Needs synthgov[dask]."
)


def verify_command(
    release: Path = typer.Argument(
        ..., help="A release folder (with manifest.json), or an audit certificate (.json).", metavar="RELEASE"
    ),
    public_key: Path = typer.Option(None, "--public-key", "-k", help="PEM public key to trust (default: yours)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    dask: str = typer.Option(None, "--dask", help=DASK_HELP, metavar="ADDRESS"),
    workers: int = typer.Option(2, "--workers", help="Worker processes of --dask local."),
) -> None:
    """Check a release: its signature, every signed file's sha256, the rows of each data file chunk by chunk, the
    embedded public key, and the watermark (when this keystore holds the release's key; a release too small to
    test is told apart from an altered one). Files the signature does not cover are listed. Given an audit
    certificate (synthgov audit), check its signature and that its release's manifest is unchanged. Exit 0
    valid, 1 tampered or forged, 2 bad input."""
    from synthgov.release.verify import verify_release

    if release.is_file() and release.name != "manifest.json":
        _verify_certificate(release, public_key, as_json)
    with user_errors():
        result = verify_release(release, public_key, dask=dask, workers=workers)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        for check in result.checks:
            out.print(f"[green]ok[/] {check}", highlight=False)
        for name in result.unsigned:
            out.print(
                f"[yellow]unsigned[/] {name}: not covered by the signature (added after signing?)", highlight=False
            )
        for problem in result.problems:
            err.print(f"[bold red]FAIL[/] {problem}", highlight=False, soft_wrap=True)
        verdict = "[bold green]VALID[/]" if result.valid else "[bold red]TAMPERED OR FORGED[/]"
        extra = f" ({len(result.unsigned)} file(s) beside it are not signed)" if result.unsigned else ""
        out.print(f"{verdict}: {release}{extra}", highlight=False)
    raise typer.Exit(code=0 if result.valid else 1)


def _verify_certificate(path: Path, public_key: Path | None, as_json: bool) -> None:
    from synthgov.governance.audit import verify_certificate

    with user_errors():
        valid, problems = verify_certificate(path, public_key)
    if as_json:
        typer.echo(json.dumps({"valid": valid, "problems": problems}))
    else:
        for problem in problems:
            err.print(f"[bold red]FAIL[/] {problem}", highlight=False, soft_wrap=True)
        verdict = "[bold green]VALID[/]" if valid else "[bold red]TAMPERED OR FORGED[/]"
        out.print(f"{verdict}: audit certificate {path}", highlight=False)
    raise typer.Exit(code=0 if valid else 1)
