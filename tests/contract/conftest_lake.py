"""Fixtures of DuckLake log stores: a local lake and a lake on PostgreSQL plus an S3 server.

Opening a lake costs about a second (extensions, catalog), so each form is opened once per test
session (per xdist worker) and shared: ``reset_lake`` empties it after each test by dropping its
schemas in the catalog (no file maintenance, which is what makes the lake slow). The PostgreSQL +
S3 lake uses the session's PostgreSQL server (a database of its own) and moto (a bucket of its
own); a missing server skips, or fails under ``CI=true``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from logsluice.adapters.duckdb.lake_store import LAKE, DuckLakeLogStore
from tests.s3_server import S3Server, create_bucket

LAKE_FORMS = ("lake-local", "lake-postgresql-s3")


def second_records(
    base: datetime, first_second: int, rows: int, *, step_seconds: int = 1, field: str = "number"
) -> pa.Table:
    """``rows`` records from ``base`` + ``first_second``, ``step_seconds`` apart: ``timestamp``
    and ``field`` holding each record's second."""
    seconds = range(first_second, first_second + rows * step_seconds, step_seconds)
    times = pa.array(
        [base + timedelta(seconds=second) for second in seconds], pa.timestamp("us", "UTC")
    )
    return pa.table({"timestamp": times, field: list(seconds)})


def local_lake_url(directory: Path) -> str:
    """Return the URL of a lake with a DuckDB catalog file and a data directory in ``directory``."""
    return f"ducklake:{directory}/catalog.ducklake?data_path={directory}/data"


def postgresql_s3_lake_url(postgresql_url: str, bucket: str, server: S3Server) -> str:
    """Return the URL of a lake cataloged in ``postgresql_url`` with data in ``bucket``."""
    return (
        f"ducklake:{postgresql_url}?data_path=s3://{bucket}/lake"
        f"&endpoint={server.endpoint}&region={server.region}"
        f"&access_key_id={server.access_key_id}&secret_access_key={server.secret_access_key}"
    )


def new_s3_bucket(server: S3Server) -> str:
    """Create a bucket of its own on ``server`` and return its name."""
    name = f"logsluice-lake-{uuid.uuid4().hex[:12]}"
    create_bucket(server, name)
    return name


def open_lake(url: str) -> DuckLakeLogStore:
    """Open a lake store as the tests use it: small limits, files deleted without grace."""
    return DuckLakeLogStore(
        url,
        memory_limit_bytes=256 * 1024 * 1024,
        threads=2,
        maintenance_grace=timedelta(0),
    )


def reset_lake(store: DuckLakeLogStore) -> None:
    """Drop every schema (project) of the lake, with its tables, in the catalog, and forget every
    append receipt (the store keeps its receipts table)."""
    store.forget_receipts(datetime.max.replace(tzinfo=UTC))
    with store._cursor() as cursor:
        schemas = cursor.execute(
            "SELECT schema_name FROM duckdb_schemas() "
            "WHERE database_name = ? AND schema_name NOT IN ('main', '_logsluice') "
            "AND NOT internal",
            [LAKE],
        ).fetchall()
        for (schema,) in schemas:
            quoted = '"' + str(schema).replace('"', '""') + '"'
            cursor.execute(f"DROP SCHEMA {LAKE}.{quoted} CASCADE")


@pytest.fixture(scope="session")
def local_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckLakeLogStore]:
    """A lake with a DuckDB catalog and a local data directory, for the whole session."""
    store = open_lake(local_lake_url(tmp_path_factory.mktemp("lake")))
    yield store
    store.close()


@pytest.fixture(scope="session")
def postgresql_s3_lake(
    postgresql_database_factory: Callable[[], str], s3_server: S3Server
) -> Iterator[DuckLakeLogStore]:
    """A lake cataloged in PostgreSQL with its data on the S3 server, for the whole session."""
    url = postgresql_s3_lake_url(postgresql_database_factory(), new_s3_bucket(s3_server), s3_server)
    store = open_lake(url)
    yield store
    store.close()


@pytest.fixture(
    params=["local_lake", pytest.param("postgresql_s3_lake", marks=pytest.mark.postgresql)]
)
def lake(request: pytest.FixtureRequest) -> Iterator[DuckLakeLogStore]:
    """One of the session's lakes (a local one, PostgreSQL + S3), emptied around the test."""
    store: DuckLakeLogStore = request.getfixturevalue(request.param)
    reset_lake(store)
    yield store
    reset_lake(store)


LAKE_FIXTURES = {"lake-local": "local_lake", "lake-postgresql-s3": "postgresql_s3_lake"}
