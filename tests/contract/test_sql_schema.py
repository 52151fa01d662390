"""The SQL control-plane database itself: migrations equal the declared schema, URLs pick drivers,
SQLite runs in WAL mode, and an unreachable server is reported as BackendUnavailableError."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from logsluice.adapters.sql import SqlTaskStore, create_sql_engine, migrate, migrate_engine
from logsluice.adapters.sql.metadata import VERSION_TABLE, metadata
from logsluice.adapters.sql.migrate import alembic_config
from logsluice.domain.errors import BackendUnavailableError, InvalidInputError, MissingDriverError


def _schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        return list(compare_metadata(context, metadata))


def _revision(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar())


def test_the_migrated_schema_equals_the_declared_metadata(sql_engine: Engine) -> None:
    assert _schema_differences(sql_engine) == []


def test_migrating_again_changes_nothing(sql_engine: Engine) -> None:
    before = _revision(sql_engine)

    migrate_engine(sql_engine)

    assert _revision(sql_engine) == before
    assert _schema_differences(sql_engine) == []


def test_migrations_go_down_to_nothing_and_up_again(fresh_sql_url: str) -> None:
    migrate(fresh_sql_url)
    engine = create_sql_engine(fresh_sql_url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}

    migrate_engine(engine)

    assert _schema_differences(engine) == []
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path}/nested/dir/logsluice.db")
    with engine.connect() as connection:
        pragmas = [
            connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        ]
    engine.dispose()

    assert pragmas == ["wal", 1, 30000]


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    for url in ("postgresql://postgres@127.0.0.1/db", "postgres://postgres@127.0.0.1/db"):
        engine = create_sql_engine(url)
        assert engine.url.drivername == "postgresql+psycopg"
        engine.dispose()


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)

    with pytest.raises(MissingDriverError) as raised:
        create_sql_engine("postgresql://postgres@127.0.0.1/db")

    assert raised.value.details["extra"] == "postgresql"
    assert "pip install 'logsluice[postgresql]'" in raised.value.message


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/db", "sqlite://", "sqlite:///:memory:", "not a url"]
)
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInputError):
        create_sql_engine(url)


def test_an_unreachable_server_is_backend_unavailable() -> None:
    engine = create_sql_engine("postgresql://postgres@127.0.0.1:1/db?connect_timeout=2")
    store = SqlTaskStore(engine)

    with pytest.raises(BackendUnavailableError) as raised:
        store.get_task("web", "any")

    assert raised.value.retryable
    engine.dispose()
