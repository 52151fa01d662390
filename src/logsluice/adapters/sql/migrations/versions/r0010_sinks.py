"""Sinks: buckets registered per project, their secrets encrypted by the service's cipher.

Revision ID: r0010_sinks
Revises: r0008_webhooks
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0010_sinks"
down_revision = "r0008_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the sinks table, keyed by project and name."""
    op.create_table(
        "sinks",
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("access_key_id", sa.Text(), nullable=False),
        sa.Column("addressing_style", sa.String(length=16), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", name=op.f("pk_sinks")),
    )


def downgrade() -> None:
    """Drop the sinks table."""
    op.drop_table("sinks")
