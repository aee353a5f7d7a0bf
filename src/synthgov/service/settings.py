"""Where the registry keeps its database, files and keys, and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthgov.config import home

MAX_UPLOAD_BYTES = 512 * 2**20  # a release zip, as sent
MAX_UNPACKED_BYTES = 4 * 2**30  # its members, unpacked (a zip bomb is refused before unpacking)
MAX_MEMBERS = 200
FAILED_LOGINS = 10  # failed authentications per client address per window before it is refused (429)
FAILED_WINDOW_S = 60.0


@dataclass(frozen=True)
class Settings:
    """``home``: the service's own ``$SYNTHGOV_HOME`` (its keystore signs recipient copies and audit checkpoints,
    its watermark plans let ``synthgov detect`` name a recipient); ``database``: a SQLAlchemy URL (SQLite file in
    ``home`` by default); ``store``: the content-addressed files."""

    home: Path
    database: str
    store: Path
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES
    failed_logins: int = FAILED_LOGINS
    failed_window_s: float = FAILED_WINDOW_S
    checkpoint_every: int = 100  # a signed checkpoint of the audit chain every this many entries
    lineage: str | None = None  # OpenLineage events: an endpoint URL or a JSON-lines file (None: none)
    upload_policy: str | None = None  # every upload audited against this policy (a shipped name or a file); a
    # release that fails a clause is refused
    executor: str | None = None  # where jobs run: "process" (default), "dask:local" or "dask:tcp://HOST:PORT"

    @classmethod
    def default(
        cls,
        database: str | None = None,
        store: Path | None = None,
        lineage: str | None = None,
        upload_policy: str | None = None,
        executor: str | None = None,
    ) -> Settings:
        root = home()
        return cls(
            home=root,
            database=database or f"sqlite:///{root / 'registry.db'}",
            store=Path(store) if store is not None else root / "store",
            lineage=lineage,
            upload_policy=upload_policy,
            executor=executor,
        )
