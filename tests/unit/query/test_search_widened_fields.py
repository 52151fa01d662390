"""Comparisons on a text field that holds numbers: a numeric field widened to text by one clashing
value (``status`` ``"OK"`` among 500s) keeps its numeric meaning for ``>``, ``<`` and ranges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from logsluice.adapters.duckdb.emitter import DuckDBQueryEmitter, QueryTarget
from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.catalog import Field, FieldType, LogstoreSchema
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange

START = datetime(2024, 3, 1, tzinfo=UTC)
# status as the log store keeps it after ints met "OK": text; host is plain text
ROWS = [
    ("200", "h01"),
    ("404", "h02"),
    ("500", "h05"),
    ("503", "h10"),
    ("1000", "h11"),
    ("OK", "h3"),
    ("99.5", "H20"),
    (None, None),
]
SCHEMA = LogstoreSchema(
    time_field="timestamp",
    fields=(
        Field("timestamp", FieldType.TIMESTAMP),
        Field("status", FieldType.VARCHAR),
        Field("host", FieldType.VARCHAR),
    ),
)


@pytest.fixture(scope="module")
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    database = duckdb.connect(":memory:")
    database.execute("SET TimeZone = 'UTC'")
    database.execute('CREATE TABLE logs ("timestamp" TIMESTAMPTZ, status VARCHAR, host VARCHAR)')
    database.executemany(
        "INSERT INTO logs VALUES (?, ?, ?)",
        [[START + index * timedelta(minutes=1), *row] for index, row in enumerate(ROWS)],
    )
    yield database
    database.close()


def _statuses(connection: duckdb.DuckDBPyConnection, query: str) -> list[str | None]:
    target = QueryTarget(
        table_sql="logs",
        time_column="timestamp",
        schema=SCHEMA,
        time_range=TimeRange(START, START + timedelta(days=1)),
    )
    statement = DuckDBQueryEmitter().select(parse_query(query), target, order=Order.ASC, limit=None)
    statuses: list[str | None] = connection.sql(statement).to_arrow_table()["status"].to_pylist()
    return statuses


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status>=500", ["500", "503", "1000"]),
        ("status<300", ["200", "99.5"]),
        ("status:[500 TO 599]", ["500", "503"]),
        ("status:{200 TO *]", ["404", "500", "503", "1000"]),
        ("NOT status>=500", ["200", "404", "OK", "99.5", None]),
    ],
)
def test_numbers_compare_numerically_on_a_text_field(
    connection: duckdb.DuckDBPyConnection, query: str, expected: list[str | None]
) -> None:
    assert sorted(_statuses(connection, query), key=str) == sorted(expected, key=str)


def test_text_bounds_still_compare_as_text(connection: duckdb.DuckDBPyConnection) -> None:
    assert sorted(_statuses(connection, "host>=h10"), key=str) == ["1000", "503", "OK"]
    assert _statuses(connection, "status>=OK") == ["OK"]
