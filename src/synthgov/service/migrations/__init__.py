"""Alembic migrations of the registry's schema (run by :func:`synthgov.service.database.migrate`)."""
