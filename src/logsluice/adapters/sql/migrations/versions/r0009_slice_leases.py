"""Slices as leasable units: each stored slice gets its own lease, attempts, size and checksums.

Revision ID: r0009_slice_leases
Revises: r0010_sinks
Create Date: 2026-12-06

Checkpoints of tasks that had not finished are dropped: they described byte offsets in one staging
file, which slices written as parts no longer use, so such a task plans its slices again when it
next starts (ADR 0018).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from logsluice.adapters.sql.metadata import UtcDateTime

revision = "r0009_slice_leases"
down_revision = "r0010_sinks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the lease, attempt, part and checksum columns of ``task_slices``."""
    op.execute(
        sa.text(
            "DELETE FROM task_slices WHERE task_id IN "
            "(SELECT id FROM tasks WHERE status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED', "
            "'EXPIRED'))"
        )
    )
    with op.batch_alter_table("task_slices") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_owner", sa.String(255), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("not_before", UtcDateTime(), nullable=True))
        batch.add_column(
            sa.Column("waits_for_previous", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("size_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("md5", sa.String(32), nullable=True))
        batch.add_column(sa.Column("cut", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("part_footers", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("error_message", sa.Text(), nullable=True))
    op.create_index(op.f("ix_task_slices_status_task_id"), "task_slices", ["status", "task_id"])


def downgrade() -> None:
    """Drop the slice lease columns (and every checkpoint, which only this schema can resume)."""
    op.drop_index(op.f("ix_task_slices_status_task_id"), table_name="task_slices")
    op.execute(sa.text("DELETE FROM task_slices"))
    with op.batch_alter_table("task_slices") as batch:
        for name in (
            "error_message",
            "part_footers",
            "cut",
            "md5",
            "sha256",
            "size_bytes",
            "waits_for_previous",
            "not_before",
            "lease_expires_at",
            "lease_owner",
            "attempts",
        ):
            batch.drop_column(name)
