"""Access keys: AK/SK pairs bound to a project (or all, for an admin) with a role.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the access_keys table; secrets are stored encrypted by the service's cipher."""
    op.create_table(
        "access_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_keys")),
    )
    op.create_index(op.f("ix_access_keys_project"), "access_keys", ["project"])


def downgrade() -> None:
    """Drop the access_keys table."""
    op.drop_index(op.f("ix_access_keys_project"), table_name="access_keys")
    op.drop_table("access_keys")
