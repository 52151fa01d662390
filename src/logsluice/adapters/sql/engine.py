"""Engines and transactions for the control-plane database, picked by URL.

``sqlite:///path`` (the embedded default) and ``postgresql://…`` (scale-out, driver psycopg 3) are
accepted; a small dict maps the URL's backend to a factory. SQLite runs in WAL mode with a busy
timeout and foreign keys on, and every write transaction starts with ``BEGIN IMMEDIATE`` so writers
from many threads or processes queue for the lock instead of failing half-way. Driver errors that
mean "the database is not there or is busy" become :class:`StorageUnavailableError` here (an
outage a running task waits out).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from logsluice.domain.errors import (
    DiskFullError,
    InvalidInputError,
    MissingDriverError,
    StorageUnavailableError,
)

SQLITE_BUSY_TIMEOUT = timedelta(seconds=30)
IMMEDIATE_OPTION = "logsluice_begin_immediate"
POSTGRESQL_DRIVER = "postgresql+psycopg"


def create_sql_engine(url: str) -> Engine:
    """Return an engine for ``url`` (``sqlite:///…`` or ``postgresql://…``).

    Raises InvalidInputError for a malformed or unsupported URL and MissingDriverError naming the
    extra to install when the PostgreSQL driver is absent.
    """
    parsed = _parse_url(url)
    factory = _FACTORIES.get(parsed.drivername)
    if factory is None:
        raise InvalidInputError(
            f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:/// or postgresql://",
            scheme=parsed.drivername,
        )
    return factory(parsed)


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as error:
        raise InvalidInputError("malformed database URL", reason=str(error)) from error


def _create_sqlite_engine(url: URL) -> Engine:
    database = url.database
    if not database or database == ":memory:":
        raise InvalidInputError("the SQLite task store needs a file: sqlite:///path/to/file.db")
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        connect_args={
            "check_same_thread": False,
            "timeout": SQLITE_BUSY_TIMEOUT.total_seconds(),
        },
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is turned off; _begin_sqlite_transaction emits ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    busy_timeout_milliseconds = int(SQLITE_BUSY_TIMEOUT.total_seconds() * 1000)
    cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_milliseconds}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    # A deferred transaction that reads and then writes can fail with SQLITE_BUSY without waiting;
    # taking the write lock up front makes writers wait (busy timeout) instead.
    immediate = connection.get_execution_options().get(IMMEDIATE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _create_postgresql_engine(url: URL) -> Engine:
    try:
        importlib.import_module("psycopg")
    except ImportError as error:
        raise MissingDriverError(
            "PostgreSQL needs the psycopg driver: pip install 'logsluice[postgresql]'",
            extra="postgresql",
        ) from error
    return create_engine(url.set(drivername=POSTGRESQL_DRIVER), pool_pre_ping=True)


_FACTORIES: dict[str, Callable[[URL], Engine]] = {
    "sqlite": _create_sqlite_engine,
    "sqlite+pysqlite": _create_sqlite_engine,
    "postgresql": _create_postgresql_engine,
    "postgres": _create_postgresql_engine,
    POSTGRESQL_DRIVER: _create_postgresql_engine,
}


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn driver errors meaning "unreachable, locked or busy" into StorageUnavailableError.

    A value a column type refuses to bind (a naive datetime) becomes InvalidInputError.
    """
    try:
        yield
    except OperationalError as error:
        if _is_disk_full(error):
            raise DiskFullError(
                "the task store's disk is full", reason=str(error).splitlines()[0]
            ) from error
        raise StorageUnavailableError(
            "the task store database is unavailable",
            reason=str(error).splitlines()[0],
            store="the task store",
        ) from error
    except (InterfaceError, PoolTimeoutError) as error:
        raise StorageUnavailableError(
            "the task store database is unavailable",
            reason=str(error).splitlines()[0],
            store="the task store",
        ) from error
    except StatementError as error:
        # A value our column types refuse to bind (a naive datetime) is the caller's mistake.
        if isinstance(error, DBAPIError) or not isinstance(error.orig, ValueError):
            raise
        raise InvalidInputError(str(error.orig)) from error


def _is_disk_full(error: OperationalError) -> bool:
    """SQLite's SQLITE_FULL, or PostgreSQL's SQLSTATE 53100 (``disk_full``)."""
    if getattr(error.orig, "sqlstate", None) == "53100":
        return True
    return "database or disk is full" in str(error.orig)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite); commit on exit."""
    with translated_errors(), engine.connect() as connection:
        connection.execution_options(**{IMMEDIATE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in a read transaction (one consistent snapshot)."""
    with translated_errors(), engine.connect() as connection, connection.begin():
        yield connection
