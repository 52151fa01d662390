"""Tasks remember the dialect (native, bls, sls, huawei) they were created through.

Revision ID: r0005_task_dialect
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0005_task_dialect"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add tasks.dialect; tasks created before it were created through the native API or a
    dialect nobody recorded, and read back as ``native``."""
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("dialect", sa.String(length=16), nullable=False, server_default="native")
        )


def downgrade() -> None:
    """Drop tasks.dialect."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("dialect")
