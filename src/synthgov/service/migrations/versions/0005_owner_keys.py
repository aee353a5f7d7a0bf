"""Owners' signing keys over time (a key change keeps the old key, so releases signed before stay verifiable).

Revision ID: 0005
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from synthgov.release.keys import public_key_from_pem, raw_public, signing_key_id

    keys = op.create_table(
        "owner_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("added_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("user_id", "key_id"),
    )
    users = op.get_bind().execute(sa.text("SELECT id, public_key FROM users WHERE public_key IS NOT NULL")).all()
    stamp = datetime.now(UTC).isoformat()
    rows = [
        {"user_id": uid, "key_id": signing_key_id(raw_public(public_key_from_pem(pem.encode("ascii")))),
         "public_key": pem, "added_at": stamp}
        for uid, pem in users
    ]  # fmt: skip
    if rows:
        op.bulk_insert(keys, rows)


def downgrade() -> None:
    op.drop_table("owner_keys")
