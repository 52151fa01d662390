"""Fair claim order: each claim numbers the task, so projects take turns by their latest start.

Revision ID: r0004b_claim_order
Revises: r0004_project_generation
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0004b_claim_order"
down_revision = "r0004_project_generation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``tasks.claim_sequence`` and its index by project."""
    op.add_column("tasks", sa.Column("claim_sequence", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_tasks_project_claim_sequence"), "tasks", ["project", "claim_sequence"])


def downgrade() -> None:
    """Drop ``tasks.claim_sequence``."""
    op.drop_index(op.f("ix_tasks_project_claim_sequence"), table_name="tasks")
    op.drop_column("tasks", "claim_sequence")
