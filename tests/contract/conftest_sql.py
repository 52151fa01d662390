"""Fixtures of the SQL control-plane stores: every test runs on SQLite and on PostgreSQL.

SQLite: a fresh file per test, copied from a template migrated once per session. PostgreSQL: one
uniquely named database per test session (per xdist worker), created on the local server
(``postgresql://postgres@127.0.0.1:5432``), migrated once, emptied before each test and dropped at
the end. When that server is unreachable the PostgreSQL cases skip, unless ``CI=true`` (then fail).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from logsluice.adapters.sql import (
    SqlCatalogStore,
    SqlTaskStore,
    create_sql_engine,
    migrate_engine,
)
from logsluice.adapters.sql.metadata import metadata

POSTGRESQL_SERVER = "postgresql://postgres@127.0.0.1:5432"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"{POSTGRESQL_SERVER}/postgres", autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgresql_server() -> str:
    """Return the server URL, or skip (fail under CI=true) when it cannot be reached."""
    try:
        with _admin_connection():
            pass
    except psycopg.OperationalError as error:
        message = f"PostgreSQL at {POSTGRESQL_SERVER} is unreachable: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRESQL_SERVER


@pytest.fixture(scope="session")
def postgresql_database_factory(postgresql_server: str) -> Iterator[Callable[[], str]]:
    """Yield a function that creates an empty, uniquely named database and returns its URL."""
    created: list[str] = []

    def create() -> str:
        name = f"logsluice_test_{uuid.uuid4().hex[:12]}"
        with _admin_connection() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{postgresql_server}/{name}"

    yield create
    with _admin_connection() as connection:
        for name in created:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgresql_session_url(postgresql_database_factory: Callable[[], str]) -> str:
    """Return the URL of this session's PostgreSQL database, migrated to the newest revision."""
    url = postgresql_database_factory()
    engine = create_sql_engine(url)
    migrate_engine(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a migrated SQLite file that tests copy instead of migrating each time."""
    path = tmp_path_factory.mktemp("sqlite-template") / "logsluice.db"
    engine = create_sql_engine(f"sqlite:///{path}")
    migrate_engine(engine)
    engine.dispose()
    return path


def _empty_tables(url: str) -> None:
    engine = create_sql_engine(url)
    table_names = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {table_names}"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of a migrated, empty control-plane database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "logsluice.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgresql_session_url")
    _empty_tables(url)
    return url


@pytest.fixture(params=BACKENDS)
def fresh_sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of an empty database with no schema at all, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    factory: Callable[[], str] = request.getfixturevalue("postgresql_database_factory")
    return factory()


@pytest.fixture
def sql_engine(sql_url: str) -> Iterator[Engine]:
    engine = create_sql_engine(sql_url)
    yield engine
    engine.dispose()


@pytest.fixture
def task_store(sql_engine: Engine) -> SqlTaskStore:
    return SqlTaskStore(sql_engine)


@pytest.fixture
def catalog_store(sql_engine: Engine) -> SqlCatalogStore:
    return SqlCatalogStore(sql_engine)
