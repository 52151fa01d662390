"""Nested fields in queries: dotted paths in SEARCH and SQL, lists searched element by element.

Run on real DuckDB tables shaped as the log store stores nested records (ADR 0017): leaf fields
named by their dotted path, lists of scalars as LIST columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest
from query_records import RANGE, RECORDS, Runner, expected_ids

from logsluice.adapters.duckdb.emitter import DuckDBQueryEmitter, QueryTarget
from logsluice.domain.catalog import Field, FieldType, LogstoreSchema
from logsluice.domain.errors import InvalidQueryError
from logsluice.domain.timerange import TimeRange

START = datetime(2026, 3, 1, tzinfo=UTC)
NESTED_SCHEMA = LogstoreSchema(
    time_field="timestamp",
    fields=(
        Field("timestamp", FieldType.TIMESTAMP),
        Field("logstream", FieldType.VARCHAR),
        Field("id", FieldType.BIGINT),
        Field("http.status", FieldType.INTEGER),
        Field("http.route", FieldType.VARCHAR),
        Field("tags", FieldType.VARCHAR_LIST),
        Field("codes", FieldType.BIGINT_LIST),
    ),
)
ROWS: list[tuple[int, int | None, str | None, list[str] | None, list[int] | None]] = [
    (0, 200, "/api/orders", ["web", "Canary"], [1, 2]),
    (1, 503, "/api/cart", ["mobile"], [503]),
    (2, 500, "/api/orders", [], None),
    (3, None, None, None, [7, 600]),
    (4, 404, "/login", ["web"], []),
]


@pytest.fixture(scope="module")
def nested() -> Iterator[Runner]:
    database = duckdb.connect(":memory:")
    database.execute("SET TimeZone = 'UTC'")
    database.execute("CREATE SCHEMA nest")
    database.execute(
        'CREATE TABLE nest.app ("timestamp" TIMESTAMPTZ, logstream VARCHAR, id BIGINT, '
        '"http.status" INTEGER, "http.route" VARCHAR, tags VARCHAR[], codes BIGINT[])'
    )
    database.executemany(
        "INSERT INTO nest.app VALUES (?, '', ?, ?, ?, ?, ?)",
        [[START + timedelta(minutes=row[0]), *row] for row in ROWS],
    )
    target = QueryTarget(
        table_sql='"nest"."app"',
        time_column="timestamp",
        schema=NESTED_SCHEMA,
        time_range=TimeRange(START, START + timedelta(hours=1)),
    )
    yield Runner(database, target, DuckDBQueryEmitter())
    database.close()


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("http.status>=500", [1, 2]),
        ("http.status:[400 TO 499]", [4]),
        ("http.route:/api/*", [0, 1, 2]),
        ("tags:web", [0, 4]),
        ("tags:canary", [0]),
        ("tags:mob*", [1]),
        ("tags:*", [0, 1, 4]),
        ("NOT tags:web", [1, 2, 3]),
        ("codes>=500", [1, 3]),
        ("codes:7", [3]),
        ("codes:[1 TO 2]", [0]),
    ],
)
def test_search_by_dotted_path_and_list_elements(
    nested: Runner, query: str, ids: list[int]
) -> None:
    assert nested.ids(query) == ids


@pytest.mark.parametrize(
    "sql",
    [
        "select http.status as status, count(*) as n group by http.status order by 1",
        'select "http.status" as status, count(*) as n group by 1 order by 1',
        "select records.http.status as status, count(*) as n group by 1 order by 1",
        "select l.http.status as status, count(*) as n from log l group by 1 order by 1",
        "select HTTP.Status as status, count(*) as n group by 1 order by 1",
    ],
)
def test_sql_reads_dotted_paths_however_written(nested: Runner, sql: str) -> None:
    rows = nested.rows(f"* | {sql}")
    assert [(row["status"], row["n"]) for row in rows] == [
        (200, 1), (404, 1), (500, 1), (503, 1), (None, 1)
    ]  # fmt: skip


def test_sql_sees_lists_as_lists(nested: Runner) -> None:
    rows = nested.rows(
        "* | select id, len(tags) as n, list_contains(codes, 503) as hit order by id"
    )
    assert [(row["n"], row["hit"]) for row in rows] == [
        (2, False), (1, True), (0, None), (None, False), (1, False)
    ]  # fmt: skip


def test_a_misspelled_dotted_path_suggests_the_field(nested: Runner) -> None:
    query = "* | select http.stauts, count(*) as n group by 1"
    with pytest.raises(InvalidQueryError) as raised:
        nested.rows(query)
    assert raised.value.reason == "unknown_field"
    assert raised.value.position == query.index("http.stauts")
    assert raised.value.details["suggestion"] == "http.status"


def test_a_table_qualifier_keeps_its_meaning(run: Runner) -> None:
    """In the ordinary test table: ``user.name`` is a field; ``log.id`` the records' id."""
    rows = run.rows("* | select user.name as name, log.id as id from log order by id")
    expected: list[Any] = [
        (record.user_name, record.id)
        for record in RECORDS
        if RANGE.start <= record.timestamp < RANGE.end
    ]
    assert [(row["name"], row["id"]) for row in rows] == expected
    assert run.ids("user.name:alice") == expected_ids(lambda record: record.user_name == "alice")
