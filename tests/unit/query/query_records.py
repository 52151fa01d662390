"""Test data for the query tests: a few dozen hand-made records, their schema and a query runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from logsluice.adapters.duckdb.emitter import DuckDBQueryEmitter, QueryTarget
from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.catalog import Field, FieldType, LogstoreSchema
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange

START = datetime(2024, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=7)
# The range the tests query: records 2 .. 37 (the first two and the last two lie outside).
RANGE = TimeRange(START + 2 * STEP, START + 38 * STEP)

MESSAGES = [
    "GET /index.html 200",
    "ERROR: disk full",
    "error while reading config",
    "50% of requests failed",
    "under_score in name",
    'he said "hi"',
    "back\\slash path C:\\temp",
    "it's fine",
    "Connection timeout after 30s",
    "warning: slow query",
    None,
]
HOSTS = ["web-1", "web-2", "Web-3", "db-1", "cache_1", None]
STATUSES = [200, 404, 500, 503, 200, None, 301]
USERS = ["alice", "Bob", "o'brien", None]


@dataclass(frozen=True)
class Record:
    id: int
    timestamp: datetime
    logstream: str
    message: str | None
    host: str | None
    status: int | None
    latency: float | None
    ok: bool | None
    user_name: str | None


def _make_records() -> list[Record]:
    records = []
    for index in range(40):
        records.append(
            Record(
                id=index,
                timestamp=START + index * STEP,
                logstream="api" if index % 3 else "worker",
                message=MESSAGES[index % len(MESSAGES)],
                host=HOSTS[index % len(HOSTS)],
                status=STATUSES[index % len(STATUSES)],
                latency=None if index % 9 == 4 else round(index * 12.5, 1),
                ok=None if index % 8 == 5 else index % 2 == 0,
                user_name=USERS[index % len(USERS)],
            )
        )
    return records


RECORDS = _make_records()

SCHEMA = LogstoreSchema(
    time_field="timestamp",
    fields=(
        Field("timestamp", FieldType.TIMESTAMP),
        Field("logstream", FieldType.VARCHAR),
        Field("id", FieldType.BIGINT),
        Field("message", FieldType.VARCHAR),
        Field("host", FieldType.VARCHAR),
        Field("status", FieldType.BIGINT),
        Field("latency", FieldType.DOUBLE),
        Field("ok", FieldType.BOOLEAN),
        Field("user.name", FieldType.VARCHAR),
    ),
)
TABLE_SQL = '"proj"."app"'


def in_range(record: Record) -> bool:
    return RANGE.start <= record.timestamp < RANGE.end


def expected_ids(predicate: Callable[[Record], bool]) -> list[int]:
    """Ids of the in-range records the predicate accepts, oldest first."""
    return [record.id for record in RECORDS if in_range(record) and predicate(record)]


@dataclass
class Runner:
    """Parses, emits and runs queries on the test table; returns plain Python values."""

    connection: duckdb.DuckDBPyConnection
    target: QueryTarget
    emitter: DuckDBQueryEmitter

    def rows(
        self, query: str, *, order: Order = Order.ASC, limit: int | None = None
    ) -> list[dict[str, Any]]:
        statement = self.emitter.select(parse_query(query), self.target, order=order, limit=limit)
        return self.connection.cursor().sql(statement).to_arrow_table().to_pylist()

    def ids(self, query: str, *, order: Order = Order.ASC, limit: int | None = None) -> list[int]:
        return [row["id"] for row in self.rows(query, order=order, limit=limit)]

    def count(self, query: str) -> int:
        statement = self.emitter.count(parse_query(query), self.target)
        row = self.connection.cursor().execute(statement).fetchone()
        assert row is not None
        return int(row[0])

    def histogram(self, query: str, bucket: timedelta) -> list[tuple[datetime, int]]:
        statement = self.emitter.histogram(parse_query(query), self.target, bucket)
        table = self.connection.cursor().sql(statement).to_arrow_table()
        assert table.schema.names == ["bucket_start", "count"]
        bucket_type = table.schema.field("bucket_start").type
        assert bucket_type.unit == "us"
        assert bucket_type.tz in ("UTC", "Etc/UTC")
        return list(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))
