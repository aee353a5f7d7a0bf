"""The registry service's commands: ``serve``, ``users``, ``tokens``, ``audit-log`` (on the server's host) and
``push`` / ``pull`` / ``share`` / ``jobs`` (clients). They need the ``synthgov[service]`` extra."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthgov.cli.ui import out, user_errors

DB_HELP = "Database URL (default: SQLite file registry.db in $SYNTHGOV_HOME; postgresql+psycopg://... for teams)."
users_app = typer.Typer(help="Registry users (on the server's host).", no_args_is_help=True)
tokens_app = typer.Typer(help="Registry API tokens (on the server's host).", no_args_is_help=True)
audit_log_app = typer.Typer(help="The registry's hash-chained audit trail.", no_args_is_help=True)
jobs_app = typer.Typer(help="Releases made by the registry service from your sources (client).", no_args_is_help=True)
SERVER_HELP = "Registry URL (default: $SYNTHGOV_SERVER)."
TOKEN_HELP = "API token (default: $SYNTHGOV_TOKEN)."


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("push")(push_command)
    app.command("pull")(pull_command)
    app.command("share")(share_command)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(audit_log_app, name="audit-log")
    app.add_typer(jobs_app, name="jobs")
    app.command("registry-gc")(gc_command)


def _needs_extra() -> None:
    from synthgov.errors import InputError

    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise InputError("the registry needs the service extra: pip install 'synthgov[service]'") from None


def _admin(db: str | None):
    _needs_extra()
    from synthgov.release.keys import Keystore
    from synthgov.service.admin import Admin
    from synthgov.service.database import make_engine, migrate, sessions
    from synthgov.service.settings import Settings

    settings = Settings.default(database=db)
    engine = make_engine(settings.database)
    migrate(engine)
    keystore = Keystore(settings.home / "keys").ensure()
    return Admin(sessions(engine), {"keystore": keystore, "checkpoint_every": settings.checkpoint_every})


def serve_command(
    db: str = typer.Option(None, "--db", help=DB_HELP),
    store: Path = typer.Option(None, "--store", help="Folder of the stored files (default: $SYNTHGOV_HOME/store)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    lineage: str = typer.Option(
        None, "--lineage", help="Send OpenLineage run events to this URL (Marquez, DataHub) or append them to a file."
    ),
    policy: str = typer.Option(
        None, "--policy", help="Audit every upload against this policy (shipped name or file); refuse what fails."
    ),
    executor: str = typer.Option(
        "process",
        "--executor",
        help="Where jobs run: process (a worker process each), dask:local (a Dask LocalCluster) or "
        "dask:tcp://HOST:PORT (a Dask scheduler; needs synthgov[dask]).",
    ),
) -> None:
    """Run the registry service (REST API) until stopped."""
    with user_errors():
        _needs_extra()
        import uvicorn

        from synthgov.errors import InputError
        from synthgov.service.app import create_app
        from synthgov.service.settings import Settings

        if policy is not None:
            from synthgov.governance.audit import AuditPolicy

            AuditPolicy.load(policy)  # a bad policy is one clear error now, not a refusal of every upload
        from synthgov.service.executors import executor_for

        executor_for(executor)  # an unknown name: one line, now (nothing connects before the first job)
        if executor.startswith("dask:"):
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise InputError("--executor dask:... needs the dask extra: pip install 'synthgov[dask]'") from None
        settings = Settings.default(database=db, store=store, lineage=lineage, upload_policy=policy, executor=executor)
        app = create_app(settings)
    out.print(f"synthgov registry on http://{host}:{port} (Ctrl+C stops it)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="info")


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="User name (letters, digits, . _ @ -)."),
    role: str = typer.Option(..., "--role", help="owner (publishes, shares), auditor (reads all), consumer."),
    public_key: Path = typer.Option(None, "--public-key", help="An owner's signing key (PEM): their releases'."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Add a user."""
    with user_errors():
        user = _admin(db).add_user(name, role, public_key)
    out.print(f"user {user.name} ({user.role}) added; give them a token: synthgov tokens create {user.name}")


@users_app.command("set-key")
def users_set_key(
    name: str = typer.Argument(..., help="The owner."),
    public_key: Path = typer.Option(..., "--public-key", help="Their new signing key (PEM)."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Give an owner a new signing key: their next uploads must be signed with it; releases signed with the old
    key stay verifiable (the registry keeps it)."""
    with user_errors():
        old, new = _admin(db).set_key(name, public_key)
    out.print(f"{name}'s signing key: {old} -> {new}", highlight=False)


@users_app.command("list")
def users_list(db: str = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """List users and roles."""
    with user_errors():
        for user in _admin(db).users():
            out.print(f"{user.name}\t{user.role}", highlight=False)


@tokens_app.command("create")
def tokens_create(
    name: str = typer.Argument(..., help="Whose token."),
    label: str = typer.Option("", "--label", help="What the token is for."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Create an API token. It is printed once and stored only as its digest."""
    with user_errors():
        token = _admin(db).create_token(name, label)
    typer.echo(token)


@tokens_app.command("revoke")
def tokens_revoke(
    name: str = typer.Argument(..., help="Whose tokens."),
    prefix: str = typer.Option(None, "--prefix", help="Only the token starting with this (default: all)."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Revoke a user's tokens."""
    with user_errors():
        count = _admin(db).revoke_tokens(name, prefix)
    out.print(f"{count} token(s) of {name} revoked")


@audit_log_app.command("verify")
def audit_log_verify(
    db: str = typer.Option(None, "--db", help=DB_HELP),
    public_key: Path = typer.Option(None, "--public-key", help="The service's public key (default: its keystore)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Recompute the audit chain from the database. Exit 0 intact, 1 tampered, 2 bad input."""
    with user_errors():
        _needs_extra()
        from synthgov.release.keys import Keystore, public_key_from_pem
        from synthgov.service import audit_log
        from synthgov.service.database import make_engine, sessions
        from synthgov.service.settings import Settings

        settings = Settings.default(database=db)
        key = (
            public_key_from_pem(public_key.read_bytes())
            if public_key is not None
            else Keystore(settings.home / "keys").public_key()
        )
        with sessions(make_engine(settings.database))() as session:
            report = audit_log.verify(session, key)
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
    elif report.valid:
        out.print(f"[bold green]audit chain intact[/]: {report.entries} entries, {report.checkpoints} signed "
                  f"checkpoints, head {report.head[:16]}", highlight=False)  # fmt: skip
    else:
        out.print(f"[bold red]audit chain broken[/]: {len(report.problems)} problem(s)", highlight=False)
        for problem in report.problems:
            out.print(f"  {problem}", highlight=False)
    raise typer.Exit(code=0 if report.valid else 1)


def push_command(
    folder: Path = typer.Argument(..., help="The release folder to upload."),
    server: str = typer.Option(None, "--server", help="Registry URL (default: $SYNTHGOV_SERVER)."),
    token: str = typer.Option(None, "--token", help="API token (default: $SYNTHGOV_TOKEN)."),
) -> None:
    """Upload a release to the registry (verified there against your registered key)."""
    with user_errors():
        _needs_extra()
        from synthgov.service.client import push

        result = push(folder, server, token)
    out.print(f"release {result['id']} stored ({result['rows']:,} rows, {result['generator']})", highlight=False)


def pull_command(
    release_id: str = typer.Argument(..., help="The release id."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder to write your copy into."),
    server: str = typer.Option(None, "--server", help="Registry URL (default: $SYNTHGOV_SERVER)."),
    token: str = typer.Option(None, "--token", help="API token (default: $SYNTHGOV_TOKEN)."),
) -> None:
    """Download your copy of a release shared with you (watermarked with your name, signed by the service)."""
    with user_errors():
        _needs_extra()
        from synthgov.service.client import pull

        folder = pull(release_id, out_dir, server, token)
    out.print(f"your copy of {release_id} is in {folder}", highlight=False)


def share_command(
    release_id: str = typer.Argument(..., help="The release id (yours)."),
    user: str = typer.Argument(..., help="Who may download it."),
    server: str = typer.Option(None, "--server", help="Registry URL (default: $SYNTHGOV_SERVER)."),
    token: str = typer.Option(None, "--token", help="API token (default: $SYNTHGOV_TOKEN)."),
) -> None:
    """Share a release of yours with a registry user (they download their own marked copy)."""
    with user_errors():
        _needs_extra()
        from synthgov.service.client import share

        share(release_id, user, server, token)
    out.print(f"release {release_id} shared with {user}", highlight=False)


def gc_command(
    db: str = typer.Option(None, "--db", help=DB_HELP),
    store: Path = typer.Option(None, "--store", help="Folder of the stored files (default: $SYNTHGOV_HOME/store)."),
    older_than: float = typer.Option(3600.0, "--older-than", help="Only leftovers older than this many seconds."),
) -> None:
    """Remove what a crash left in the registry's store: files no release refers to, abandoned uploads."""
    with user_errors():
        from synthgov.service.settings import Settings
        from synthgov.service.store import Store

        settings = Settings.default(database=db, store=store)
        removed = _admin(db).collect_garbage(Store(settings.store), older_than)
    out.print(f"removed {removed['objects']} unreferenced file(s) and {removed['uploads']} abandoned upload(s)")


def _show_job(job: dict) -> None:
    spec = job["spec"]
    where = f"release {job['release']}" if job["release"] else (job["error"] or f"{job['step']} {job['progress']:.0%}")
    out.print(f"{job['id']}  {job['state']:<7} attempt {job['attempt']}  {spec.get('generator')}  {where}",
              highlight=False, soft_wrap=True)  # fmt: skip


def _follow(job_id: str, server: str | None, token: str | None, timeout: float | None) -> None:
    from synthgov.cli.ui import progress_bars
    from synthgov.service.client import wait_for_job

    with progress_bars():
        job = wait_for_job(job_id, server, token, timeout=timeout)
    if job["state"] == "done":
        out.print(f"job {job_id} done: release {job['release']}", highlight=False, soft_wrap=True)
        return
    from synthgov.cli.ui import err

    err.print(f"[bold red]job {job_id} failed:[/] {job['error']}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


@jobs_app.command("submit")
def jobs_submit(
    source: str = typer.Argument(..., help="A CSV or Parquet table to register as your source, or a source's id."),
    generator: str = typer.Option("autoregressive", "--generator", "-g", help="Generator name."),
    param: list[str] = typer.Option(
        None, "--param", "-p", help="A generator parameter KEY=VALUE (repeatable).", metavar="KEY=VALUE"
    ),
    epsilon: float = typer.Option(None, "--epsilon", help="Differential privacy: the release's epsilon."),
    delta: float = typer.Option(None, "--delta", help="Differential privacy: the release's delta."),
    rows: int = typer.Option(None, "--rows", "-n", help="Rows to generate (default: as many as the source)."),
    seed: int = typer.Option(None, "--seed", help="Seed of every random step (default: fresh, recorded)."),
    evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate", help="Write the evaluation report."),
    target: str = typer.Option(None, "--target", help="The label column of the report's utility figures."),
    sensitive: list[str] = typer.Option(None, "--sensitive", help="A column the bias figures group by (repeatable)."),
    policy: str = typer.Option(None, "--policy", help="Audit the release against this shipped policy."),
    schema: Path = typer.Option(
        None, "--schema", help="The source's schema file (synthgov schema; --domains for the DP generators)."
    ),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the job's progress until it ends."),
    timeout: float = typer.Option(None, "--timeout", help="Stop following after this many seconds."),
    server: str = typer.Option(None, "--server", help=SERVER_HELP),
    token: str = typer.Option(None, "--token", help=TOKEN_HELP),
) -> None:
    """Ask the registry for a release made from your table; exit 1 if the job fails."""
    import re

    with user_errors():
        _needs_extra()
        from synthgov.cli.params import parse_params, with_privacy
        from synthgov.service import client

        params = parse_params(generator, param) or {}
        if epsilon is not None or delta is not None:
            params = with_privacy(generator, params, epsilon, delta)
        if re.fullmatch(r"[0-9a-f]{64}", source):
            source_id = source
        else:
            registered = client.add_source(Path(source), server, token)
            source_id = registered["id"]
            out.print(f"source {registered['name']} registered as {source_id}", highlight=False, soft_wrap=True)
        spec = {
            "source": source_id,
            "generator": generator,
            "rows": rows,
            "seed": seed,
            "params": params,
            "evaluate": evaluate,
            "target": target,
            "sensitive": list(sensitive or []),
            "policy": policy,
        }
        if schema is not None:
            from synthgov.table.schema import Schema

            spec["schema"] = Schema.load(schema).to_dict()
        job = client.submit_job(spec, server, token)
        out.print(f"job {job['id']} queued", highlight=False, soft_wrap=True)
        if wait:
            _follow(job["id"], server, token, timeout)


@jobs_app.command("list")
def jobs_list(
    server: str = typer.Option(None, "--server", help=SERVER_HELP),
    token: str = typer.Option(None, "--token", help=TOKEN_HELP),
) -> None:
    """Your jobs (an auditor: every job), oldest first."""
    with user_errors():
        _needs_extra()
        from synthgov.service.client import jobs

        for job in jobs(server, token):
            _show_job(job)


@jobs_app.command("show")
def jobs_show(
    job_id: str = typer.Argument(..., help="The job's id."),
    wait: bool = typer.Option(False, "--wait", help="Follow its progress until it ends (exit 1 if it fails)."),
    timeout: float = typer.Option(None, "--timeout", help="Stop following after this many seconds."),
    server: str = typer.Option(None, "--server", help=SERVER_HELP),
    token: str = typer.Option(None, "--token", help=TOKEN_HELP),
) -> None:
    """One job: its state, step and progress, and its release or error."""
    with user_errors():
        _needs_extra()
        from synthgov.service.client import job

        if wait:
            _follow(job_id, server, token, timeout)
        else:
            _show_job(job(job_id, server, token))


@jobs_app.command("retry")
def jobs_retry(
    job_id: str = typer.Argument(..., help="The failed job's id."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the new attempt until it ends."),
    server: str = typer.Option(None, "--server", help=SERVER_HELP),
    token: str = typer.Option(None, "--token", help=TOKEN_HELP),
) -> None:
    """Run a failed job again as a new attempt."""
    with user_errors():
        _needs_extra()
        from synthgov.service.client import retry_job

        job = retry_job(job_id, server, token)
        out.print(f"job {job_id}: attempt {job['attempt']} queued", highlight=False, soft_wrap=True)
        if wait:
            _follow(job_id, server, token, None)
