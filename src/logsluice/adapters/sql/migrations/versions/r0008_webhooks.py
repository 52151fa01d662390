"""Completion webhooks: the webhook of a task and its project's default, and the outbox of
deliveries the dispatchers claim (ADR 0020).

Revision ID: r0008_webhooks
Revises: r0004b_claim_order
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0008_webhooks"
down_revision = "r0004b_claim_order"
branch_labels = None
depends_on = None

_TARGET_COLUMNS = ("webhook_url", "webhook_secret_ciphertext")


def upgrade() -> None:
    """Add the webhook columns of projects and tasks and create ``webhook_deliveries``."""
    for table_name in ("projects", "tasks"):
        for column_name in _TARGET_COLUMNS:
            op.add_column(table_name, sa.Column(column_name, sa.Text(), nullable=True))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claim_token", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_status_next_attempt_at"),
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_webhook_deliveries_task_id_created_at"),
        "webhook_deliveries",
        ["task_id", "created_at"],
    )


def downgrade() -> None:
    """Drop ``webhook_deliveries`` and the webhook columns."""
    op.drop_table("webhook_deliveries")
    for table_name in ("tasks", "projects"):
        with op.batch_alter_table(table_name) as batch:
            for column_name in _TARGET_COLUMNS:
                batch.drop_column(column_name)
