"""Control plane: projects, logstores, download tasks and their slice checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc_datetime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the four tables of the control plane."""
    _create_projects()
    _create_logstores()
    _create_tasks()
    _create_task_slices()


def _create_projects() -> None:
    op.create_table(
        "projects",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projects")),
    )


def _create_logstores() -> None:
    op.create_table(
        "logstores",
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("time_field", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project"],
            ["projects.name"],
            name=op.f("fk_logstores_project_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project", "name", name=op.f("pk_logstores")),
    )


def _create_tasks() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("logstore", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("spec_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc_datetime(), nullable=False),
        sa.Column("updated_at", _utc_datetime(), nullable=False),
        sa.Column("started_at", _utc_datetime(), nullable=True),
        sa.Column("finished_at", _utc_datetime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", _utc_datetime(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("rows_written", sa.BigInteger(), nullable=False),
        sa.Column("bytes_written", sa.BigInteger(), nullable=False),
        sa.Column("slices_total", sa.Integer(), nullable=False),
        sa.Column("slices_done", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("incomplete", sa.Boolean(), nullable=False),
        sa.Column("missing_ranges", sa.Text(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("estimate_rows", sa.BigInteger(), nullable=True),
        sa.Column("estimate_bytes", sa.BigInteger(), nullable=True),
        sa.Column("artifact_key", sa.Text(), nullable=True),
        sa.Column("expires_at", _utc_datetime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint(
            "project", "idempotency_key", name=op.f("uq_tasks_project_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_tasks_status_project"), "tasks", ["status", "project"])
    op.create_index(op.f("ix_tasks_project_created_at"), "tasks", ["project", "created_at"])


def _create_task_slices() -> None:
    op.create_table(
        "task_slices",
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("slice_index", sa.Integer(), nullable=False),
        sa.Column("start_at", _utc_datetime(), nullable=False),
        sa.Column("end_at", _utc_datetime(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("offset_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("written_at", _utc_datetime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_slices_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "slice_index", name=op.f("pk_task_slices")),
    )


def downgrade() -> None:
    """Drop the control plane's tables."""
    op.drop_table("task_slices")
    op.drop_index(op.f("ix_tasks_project_created_at"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_status_project"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_table("logstores")
    op.drop_table("projects")
