"""Audit certificates made by the service.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("release_id", sa.String(80), sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("policy", sa.String(80), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.String(200), nullable=False),
        sa.Column("auditor_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("object_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("certificates")
