"""The database: an engine per URL (SQLite file by default, PostgreSQL for teams), sessions, and the schema
brought up to date by Alembic's migrations (``migrations/``) when the service starts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from synthgov.errors import InputError

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys on and a busy timeout (one writer at a time)."""
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
                connection.isolation_level = None  # transactions begun below, not by the driver
                cursor = connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _immediate(connection) -> None:  # type: ignore[no-untyped-def]
                # one writer at a time from the start of a transaction: a read-then-write (the audit chain's head)
                # never works on a stale snapshot
                connection.exec_driver_sql("BEGIN IMMEDIATE")

            return engine
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:
        raise InputError(f"cannot use the database {redacted(url)}: {exc}") from None


def redacted(url: str) -> str:
    """``url`` without its password (never logged or shown)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the latest migration, or to ``revision`` (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    logger.info("database schema at the latest migration (%s)", redacted(str(engine.url)))


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session
