"""Property: whatever text comes in, parsing and emitting raise nothing but InvalidQueryError.

And when a plain SEARCH gets through the emitter, DuckDB runs its SQL without an error.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logsluice.adapters.duckdb.emitter import DuckDBQueryEmitter, QueryTarget
from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.errors import InvalidQueryError
from logsluice.domain.export import Order

FRAGMENTS = [
    "status", "host", "message", "user.name", "latency", "ok", "timestamp", "nosuch", "id",
    ":", ">", ">=", "<", "<=", "=", "!=", " ", " ", " ", "*", "?", "\\", '"', "'", "(", ")",
    "[", "]", "{", "}", "TO", "AND", "OR", "NOT", "and", "not", "match ", "|", "500", "-1",
    "1e3", "web-*", "2024-03-01T00:00:00Z", "true", "%", "_", "é", "\n",
    "select", " count(*)", " from ", "log", "records", "secret", "read_csv('x')", ";", "--",
    "/*", "*/", " group by ", " order by ", " limit 1", "getenv('x')", "drop table x",
    "with a as (select 1) ", "union all ", "`", "$1",
]  # fmt: skip

query_texts = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=6).map(
        lambda parts: "* | select " + "".join(parts)
    ),
)


def emit_everything(text: str, target: QueryTarget) -> str | None:
    """Return the select SQL of a plain SEARCH (to run it), None for SQL queries."""
    parsed = parse_query(text)
    emitter = DuckDBQueryEmitter()
    statement = emitter.select(parsed, target, order=Order.DESC, limit=10)
    emitter.count(parsed, target)
    emitter.histogram(parsed, target, timedelta(minutes=5))
    return None if parsed.has_sql else statement


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=query_texts)
def test_only_invalid_query_error_escapes(
    text: str, connection: duckdb.DuckDBPyConnection, target: QueryTarget
) -> None:
    refusal: InvalidQueryError | None = None
    statement = None
    try:
        statement = emit_everything(text, target)
    except InvalidQueryError as error:
        refusal = error
    if refusal is not None:
        assert 0 <= refusal.position <= len(text)
        assert refusal.reason
    elif statement is not None:
        connection.cursor().sql(statement).to_arrow_table()
