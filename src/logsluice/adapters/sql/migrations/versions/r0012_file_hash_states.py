"""Whole-file checksums without a second read: each finished slice may carry the running hash.

Revision ID: r0012_file_hash_states
Revises: r0011_slice_outages
Create Date: 2026-12-07

``task_slices.file_hash_state`` holds the artifact's saved running sha256/md5 through the slice's
part (ADR 0018); slices finished before the migration have none, so their task's completer hashes
those parts when it completes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0012_file_hash_states"
down_revision = "r0011_slice_outages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``task_slices.file_hash_state``."""
    with op.batch_alter_table("task_slices") as batch:
        batch.add_column(sa.Column("file_hash_state", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Drop ``task_slices.file_hash_state``."""
    with op.batch_alter_table("task_slices") as batch:
        batch.drop_column("file_hash_state")
