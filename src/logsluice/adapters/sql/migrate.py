"""Schema migrations at start: :func:`migrate` brings a database to the newest revision.

The Alembic scripts live in ``migrations/`` inside the package, so an installed wheel can migrate
without an ``alembic.ini``. Concurrent starts are safe: on PostgreSQL the migration holds an
advisory lock; on SQLite it runs in one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

from logsluice.adapters.sql.engine import create_sql_engine, write_transaction

MIGRATIONS_DIRECTORY = Path(__file__).parent / "migrations"
# Arbitrary constant shared by every logsluice process: pg_advisory_xact_lock key for migrations.
_MIGRATION_LOCK_KEY = 7_310_452_001


def alembic_config() -> Config:
    """Return an Alembic configuration pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    return config


def migrate(url: str) -> None:
    """Create or upgrade the control-plane schema at ``url`` to the newest revision.

    Raises the errors of :func:`create_sql_engine`, and BackendUnavailableError when the database
    cannot be reached.
    """
    engine = create_sql_engine(url)
    try:
        migrate_engine(engine)
    finally:
        engine.dispose()


def migrate_engine(engine: Engine) -> None:
    """Upgrade the schema behind ``engine`` to the newest revision, in one transaction."""
    config = alembic_config()
    with write_transaction(engine) as connection:
        _lock_migrations(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _lock_migrations(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
