"""Slices remember since when they wait for a store to come back (an outage, ADR 0024).

Revision ID: r0011_slice_outages
Revises: r0009_slice_leases
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from logsluice.adapters.sql.metadata import UtcDateTime

revision = "r0011_slice_outages"
down_revision = "r0009_slice_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``task_slices.outage_since``."""
    with op.batch_alter_table("task_slices") as batch:
        batch.add_column(sa.Column("outage_since", UtcDateTime(), nullable=True))


def downgrade() -> None:
    """Drop ``task_slices.outage_since``."""
    with op.batch_alter_table("task_slices") as batch:
        batch.drop_column("outage_since")
