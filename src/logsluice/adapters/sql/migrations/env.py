"""Alembic environment: runs the migrations on the connection :func:`migrate_engine` hands over.

The caller opens the transaction (and, on PostgreSQL, holds an advisory lock), so migrations from
several processes starting at once run one after the other.
"""

from __future__ import annotations

from alembic import context

from logsluice.adapters.sql.metadata import VERSION_TABLE, metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
    compare_type=True,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
