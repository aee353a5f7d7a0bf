"""Alembic's environment: migrations run on the connection the service hands over (online mode only)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from synthgov.service.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # the alembic command line: the URL from its configuration
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
