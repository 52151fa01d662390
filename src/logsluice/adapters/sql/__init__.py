"""SQL control-plane stores: the catalog (projects, logstores) and the task store.

One SQLAlchemy Core schema for SQLite (the embedded default) and PostgreSQL (scale-out, psycopg 3),
migrated by Alembic scripts shipped in this package. Build an engine with
:func:`create_sql_engine`, run :func:`migrate_engine` once at start, then share the engine between
:class:`SqlCatalogStore` and :class:`SqlTaskStore`.
"""

from logsluice.adapters.sql.access_key_store import SqlAccessKeyStore
from logsluice.adapters.sql.catalog_store import SqlCatalogStore
from logsluice.adapters.sql.engine import create_sql_engine
from logsluice.adapters.sql.migrate import migrate, migrate_engine
from logsluice.adapters.sql.session_store import SqlSessionStore
from logsluice.adapters.sql.sink_store import SqlSinkStore
from logsluice.adapters.sql.task_store import SqlTaskStore
from logsluice.adapters.sql.task_updates import ATTEMPTS_EXHAUSTED
from logsluice.adapters.sql.webhook_outbox import SqlWebhookStore

__all__ = [
    "ATTEMPTS_EXHAUSTED",
    "SqlAccessKeyStore",
    "SqlCatalogStore",
    "SqlSessionStore",
    "SqlSinkStore",
    "SqlTaskStore",
    "SqlWebhookStore",
    "create_sql_engine",
    "migrate",
    "migrate_engine",
]
