"""The web console: its sessions (who signed in, until when, who signed out), and an index on
tasks by project and update time for the console's live task events.

Revision ID: r0006_console
Revises: r0005_task_dialect
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0006_console"
down_revision = "r0005_task_dialect"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the console_sessions table and the index of tasks by project and update time."""
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("principal", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=True),
        sa.Column("access_key_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_expires_at"), "console_sessions", ["expires_at"])
    op.create_index(op.f("ix_tasks_project_updated_at"), "tasks", ["project", "updated_at"])


def downgrade() -> None:
    """Drop the console_sessions table and the tasks index."""
    op.drop_index(op.f("ix_tasks_project_updated_at"), table_name="tasks")
    op.drop_index(op.f("ix_console_sessions_expires_at"), table_name="console_sessions")
    op.drop_table("console_sessions")
