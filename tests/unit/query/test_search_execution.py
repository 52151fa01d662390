"""SEARCH queries emitted for DuckDB and run on a real table; expected rows computed in Python."""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from query_records import MESSAGES, RANGE, RECORDS, Record, Runner, expected_ids, in_range

from logsluice.adapters.duckdb.emitter import DuckDBQueryEmitter, QueryTarget
from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.catalog import Field, FieldType, LogstoreSchema
from logsluice.domain.errors import InvalidInputError, InvalidQueryError
from logsluice.domain.export import Order


def contains(text: str | None, needle: str) -> bool:
    return text is not None and needle.lower() in text.lower()


def wildcard(text: str | None, pattern: str) -> bool:
    """Whole-value, case-insensitive ``*``/``?`` match (fnmatch without its [] classes)."""
    if text is None:
        return False
    return fnmatch.fnmatchcase(text.lower(), pattern.lower().replace("[", "[[]"))


CASES: list[tuple[str, Callable[[Record], bool]]] = [
    ("*", lambda r: True),
    ("", lambda r: True),
    ("error", lambda r: contains(r.message, "error")),
    ("ERROR", lambda r: contains(r.message, "error")),
    ('"disk full"', lambda r: contains(r.message, "disk full")),
    ("disk full", lambda r: contains(r.message, "disk") and contains(r.message, "full")),
    ("error OR timeout", lambda r: contains(r.message, "error") or contains(r.message, "timeout")),
    ("NOT error", lambda r: not contains(r.message, "error")),
    ("err*", lambda r: contains(r.message, "err")),
    ("c?nfig", lambda r: contains(r.message, "config")),
    ('"50%"', lambda r: contains(r.message, "50%")),
    ("under_score", lambda r: contains(r.message, "under_score")),
    ('"under score"', lambda r: False),
    (r'"said \"hi\""', lambda r: contains(r.message, 'said "hi"')),
    (r'"C:\\temp"', lambda r: contains(r.message, "C:\\temp")),
    ("it's", lambda r: contains(r.message, "it's")),
    ("status:500", lambda r: r.status == 500),
    ("status:500 OR status:503", lambda r: r.status in (500, 503)),
    ("status>=500", lambda r: r.status is not None and r.status >= 500),
    ("status > 300", lambda r: r.status is not None and r.status > 300),
    ("status<300", lambda r: r.status is not None and r.status < 300),
    ("status<=301", lambda r: r.status is not None and r.status <= 301),
    ("status!=200", lambda r: r.status != 200),
    ("NOT status:200", lambda r: r.status != 200),
    ("status:*", lambda r: r.status is not None),
    ("NOT status:*", lambda r: r.status is None),
    ("status:5*", lambda r: wildcard(str(r.status) if r.status else None, "5*")),
    ("host:web-1", lambda r: r.host == "web-1"),
    ("host:WEB-3", lambda r: r.host == "Web-3"),
    ("host:web-*", lambda r: wildcard(r.host, "web-*")),
    ("host:web-?", lambda r: wildcard(r.host, "web-?")),
    ("host:cache_1", lambda r: r.host == "cache_1"),
    ("host:cache?1", lambda r: wildcard(r.host, "cache?1")),
    ("host:cache%1", lambda r: False),
    ('host:"web-1"', lambda r: r.host == "web-1"),
    ("host:[a TO db-1]", lambda r: r.host is not None and "a" <= r.host <= "db-1"),
    ("host:{cache_1 TO web-2}", lambda r: r.host is not None and "cache_1" < r.host < "web-2"),
    ("latency:[100 TO 200]", lambda r: r.latency is not None and 100 <= r.latency <= 200),
    ("latency:{100 TO 200}", lambda r: r.latency is not None and 100 < r.latency < 200),
    ("latency:[100 TO *]", lambda r: r.latency is not None and r.latency >= 100),
    ("latency>87.5", lambda r: r.latency is not None and r.latency > 87.5),
    ("latency:112.5", lambda r: r.latency == 112.5),
    ("latency:1e2", lambda r: r.latency == 100.0),
    ("ok:true", lambda r: r.ok is True),
    ("ok:FALSE", lambda r: r.ok is False),
    ("NOT ok:true", lambda r: r.ok is not True),
    ("user.name:bob", lambda r: r.user_name == "Bob"),
    ('user.name:"o\'brien"', lambda r: r.user_name == "o'brien"),
    ("USER.NAME:alice", lambda r: r.user_name == "alice"),
    ("logstream:worker", lambda r: r.logstream == "worker"),
    ("Logstream:API", lambda r: r.logstream == "api"),
    (
        "timestamp>=2024-03-01T02:00:00Z",
        lambda r: r.timestamp >= datetime(2024, 3, 1, 2, tzinfo=UTC),
    ),
    (
        "timestamp:[2024-03-01T01:00:00Z TO 2024-03-01T02:00:00Z}",
        lambda r: (
            datetime(2024, 3, 1, 1, tzinfo=UTC) <= r.timestamp < datetime(2024, 3, 1, 2, tzinfo=UTC)
        ),
    ),
    (
        "timestamp:2024-03-01T01:10:00+00:00",
        lambda r: r.timestamp == datetime(2024, 3, 1, 1, 10, tzinfo=UTC),
    ),
    (
        "error OR status:500 AND host:web-*",
        lambda r: contains(r.message, "error") or (r.status == 500 and wildcard(r.host, "web-*")),
    ),
    (
        "(error OR status:500) host:web-*",
        lambda r: (contains(r.message, "error") or r.status == 500) and wildcard(r.host, "web-*"),
    ),
    (
        "NOT (error OR warning) AND status>=200",
        lambda r: (
            not (contains(r.message, "error") or contains(r.message, "warning"))
            and r.status is not None
            and r.status >= 200
        ),
    ),
    ("match status:404", lambda r: r.status == 404),
]


@pytest.mark.parametrize(
    ("query", "predicate"), CASES, ids=[case[0] or "<empty>" for case in CASES]
)
def test_search_returns_exactly_the_matching_records(
    run: Runner, query: str, predicate: Callable[[Record], bool]
) -> None:
    assert run.ids(query) == expected_ids(predicate)


def test_cases_are_not_trivial() -> None:
    """Each expectation keeps some records and drops others, or the test proves little."""
    trivial = {"*", "", '"under score"', "host:cache%1"}
    for query, predicate in CASES:
        if query not in trivial:
            matched = expected_ids(predicate)
            assert 0 < len(matched) < sum(map(in_range, RECORDS)), query


def test_time_range_is_half_open(run: Runner) -> None:
    ids = run.ids("*")
    assert ids[0] == 2
    assert ids[-1] == 37
    assert RECORDS[38].timestamp == RANGE.end


def test_order_and_limit_apply_to_plain_search(run: Runner) -> None:
    every = expected_ids(lambda r: True)
    assert run.ids("*", order=Order.DESC) == list(reversed(every))
    assert run.ids("*", order=Order.DESC, limit=3) == list(reversed(every))[:3]
    assert run.ids("*", order=Order.ASC, limit=0) == []


def test_select_returns_every_column(run: Runner) -> None:
    row = run.rows("id:5")[0]
    assert set(row) == {field.name for field in run.target.schema.fields}
    assert row["message"] == RECORDS[5].message


def test_count_of_a_search(run: Runner) -> None:
    assert run.count("status>=500") == len(expected_ids(lambda r: (r.status or 0) >= 500))
    assert run.count("*") == len(expected_ids(lambda r: True))


def test_histogram_counts_search_matches_per_bucket(run: Runner) -> None:
    buckets = run.histogram("NOT status:200", timedelta(minutes=30))
    expected: Counter[datetime] = Counter()
    for record in RECORDS:
        if in_range(record) and record.status != 200:
            epoch_seconds = int(record.timestamp.timestamp())
            expected[datetime.fromtimestamp(epoch_seconds - epoch_seconds % 1800, UTC)] += 1
    assert buckets == sorted(expected.items())


def test_histogram_ignores_the_sql_part(run: Runner) -> None:
    assert run.histogram("error | select count(*) as n", timedelta(hours=1)) == run.histogram(
        "error", timedelta(hours=1)
    )


def test_histogram_bucket_must_be_positive(run: Runner) -> None:
    with pytest.raises(InvalidInputError):
        run.histogram("*", timedelta(0))


def test_negative_limit_is_refused(run: Runner) -> None:
    with pytest.raises(InvalidInputError):
        run.ids("*", limit=-1)


def test_quotes_and_backslashes_cannot_break_out_of_literals(run: Runner) -> None:
    hostile = [
        r"\"' OR 1=1 --",
        r"x'); DROP TABLE proj.app; --",
        "\\' OR ''='",
        "it''s",
    ]
    for value in hostile:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        for query in (f'"{escaped}"', f'host:"{escaped}"', f'host:["{escaped}" TO "zz"]'):
            statement = DuckDBQueryEmitter().select(
                parse_query(query), run.target, order=Order.ASC, limit=None
            )
            assert "DROP" not in statement.split("'")[0]
            run.connection.cursor().sql(statement).to_arrow_table()
    assert run.count("*") == len(expected_ids(lambda r: True))


def test_full_text_without_message_searches_every_varchar_field(run: Runner) -> None:
    schema = LogstoreSchema(
        "timestamp",
        tuple(field for field in run.target.schema.fields if field.name != "message"),
    )
    target = QueryTarget(run.target.table_sql, "timestamp", schema, RANGE)
    statement = DuckDBQueryEmitter().select(
        parse_query("bob OR worker"), target, order=Order.ASC, limit=None
    )
    rows = run.connection.cursor().sql(statement).to_arrow_table().column("id").to_pylist()
    assert rows == expected_ids(lambda r: r.user_name == "Bob" or r.logstream == "worker")
    assert "message" not in statement


def test_full_text_matches_nothing_without_text_fields(run: Runner) -> None:
    schema = LogstoreSchema(
        "timestamp", (Field("timestamp", FieldType.TIMESTAMP), Field("id", FieldType.BIGINT))
    )
    target = QueryTarget(run.target.table_sql, "timestamp", schema, RANGE)
    statement = DuckDBQueryEmitter().count(parse_query("anything"), target)
    assert run.connection.cursor().execute(statement).fetchone() == (0,)


@pytest.mark.parametrize(
    ("query", "position", "reason"),
    [
        ("nosuchfield:1", 0, "unknown_field"),
        ("error AND missing>5", 10, "unknown_field"),
        ("status:abc", 7, "type_mismatch"),
        ("status>=5xx", 8, "type_mismatch"),
        ("latency:[1 TO lots]", 14, "type_mismatch"),
        ("status:nan", 7, "type_mismatch"),
        ("latency>1e999", 8, "type_mismatch"),
        ("ok:maybe", 3, "type_mismatch"),
        ("timestamp>yesterday", 10, "type_mismatch"),
        ("match x AND host:a AND nope:1", 23, "unknown_field"),
    ],
)
def test_schema_problems_point_at_the_field_or_value(
    run: Runner, query: str, position: int, reason: str
) -> None:
    with pytest.raises(InvalidQueryError) as caught:
        run.ids(query)
    assert (caught.value.position, caught.value.reason) == (position, reason)


def test_messages_cover_the_fixture() -> None:
    assert any(message and "\\" in message for message in MESSAGES)
