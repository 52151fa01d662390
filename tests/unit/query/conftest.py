"""Fixtures for the query tests: the hand-made records in a real in-memory DuckDB table."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from query_records import RANGE, RECORDS, SCHEMA, TABLE_SQL, Runner

from logsluice.adapters.duckdb.emitter import DuckDBQueryEmitter, QueryTarget


@pytest.fixture(scope="session")
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    database = duckdb.connect(":memory:")
    database.execute("SET TimeZone = 'UTC'")
    database.execute("CREATE SCHEMA proj")
    database.execute(
        'CREATE TABLE "proj"."app" ("timestamp" TIMESTAMPTZ NOT NULL, logstream VARCHAR, '
        "id BIGINT, message VARCHAR, host VARCHAR, status BIGINT, latency DOUBLE, ok BOOLEAN, "
        '"user.name" VARCHAR)'
    )
    database.executemany(
        'INSERT INTO "proj"."app" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [
            [
                record.timestamp,
                record.logstream,
                record.id,
                record.message,
                record.host,
                record.status,
                record.latency,
                record.ok,
                record.user_name,
            ]
            for record in RECORDS
        ],
    )
    # A table the SQL part must never reach.
    database.execute("CREATE TABLE main.secret AS SELECT 'top secret' AS value")
    yield database
    database.close()


@pytest.fixture(scope="session")
def target() -> QueryTarget:
    return QueryTarget(
        table_sql=TABLE_SQL, time_column="timestamp", schema=SCHEMA, time_range=RANGE
    )


@pytest.fixture
def run(connection: duckdb.DuckDBPyConnection, target: QueryTarget) -> Runner:
    return Runner(connection, target, DuckDBQueryEmitter())
