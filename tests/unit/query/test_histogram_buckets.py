"""The histogram's buckets are exact for any range: aligned to multiples of the width since the
epoch, before 1970 too, far from it, and for widths that do not divide a day; run on DuckDB and
compared with buckets computed in Python from integer microseconds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logsluice.adapters.duckdb.emitter import DuckDBQueryEmitter, QueryTarget
from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.catalog import Field, FieldType, LogstoreSchema
from logsluice.domain.timerange import TimeRange

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SCHEMA = LogstoreSchema(
    time_field="t", fields=(Field("t", FieldType.TIMESTAMP), Field("n", FieldType.BIGINT))
)
MICROSECOND = timedelta(microseconds=1)

moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
widths = st.one_of(
    st.integers(min_value=1, max_value=10**6).map(lambda n: n * MICROSECOND),
    st.sampled_from([timedelta(minutes=13), timedelta(hours=1), timedelta(days=7)]),
    st.integers(min_value=1, max_value=10**15).map(lambda n: n * MICROSECOND),
)


@pytest.fixture
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    database = duckdb.connect(":memory:")
    database.execute("SET TimeZone = 'UTC'")
    database.execute("CREATE TABLE records (t TIMESTAMPTZ NOT NULL, n BIGINT)")
    yield database
    database.close()


def expected_buckets(
    times: list[datetime], time_range: TimeRange, width: timedelta
) -> list[tuple[datetime, int]]:
    width_microseconds = width // MICROSECOND
    counts: Counter[datetime] = Counter()
    for moment in times:
        if time_range.start <= moment < time_range.end:
            microseconds = (moment - EPOCH) // MICROSECOND
            start = microseconds // width_microseconds * width_microseconds
            counts[EPOCH + start * MICROSECOND] += 1
    return sorted(counts.items())


def histogram(
    connection: duckdb.DuckDBPyConnection, time_range: TimeRange, width: timedelta
) -> list[tuple[datetime, int]]:
    target = QueryTarget('"records"', "t", SCHEMA, time_range)
    statement = DuckDBQueryEmitter().histogram(parse_query("*"), target, width)
    table = connection.sql(statement).to_arrow_table()
    starts = [start.astimezone(UTC) for start in table.column(0).to_pylist()]
    return list(zip(starts, table.column(1).to_pylist(), strict=True))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    times=st.lists(moments, min_size=1, max_size=30),
    width=widths,
    start_shift=st.integers(min_value=0, max_value=10**12),
    span=st.integers(min_value=1, max_value=10**16),
)
def test_buckets_equal_those_computed_from_integer_microseconds(
    connection: duckdb.DuckDBPyConnection,
    times: list[datetime],
    width: timedelta,
    start_shift: int,
    span: int,
) -> None:
    connection.execute("DELETE FROM records")
    connection.executemany("INSERT INTO records VALUES (?, 1)", [(moment,) for moment in times])
    start = min(times) - start_shift * MICROSECOND
    end = min(start + span * MICROSECOND, datetime(9999, 12, 31, tzinfo=UTC))
    time_range = TimeRange(start, end)
    assert histogram(connection, time_range, width) == expected_buckets(times, time_range, width)


def test_a_range_across_the_epoch_buckets_both_sides(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    times = [EPOCH + offset * timedelta(minutes=1) for offset in range(-125, 125, 5)]
    connection.executemany("INSERT INTO records VALUES (?, 1)", [(moment,) for moment in times])
    time_range = TimeRange(EPOCH - timedelta(hours=2, minutes=7), EPOCH + timedelta(hours=2))
    buckets = histogram(connection, time_range, timedelta(hours=1))
    assert buckets == expected_buckets(times, time_range, timedelta(hours=1))
    assert [start for start, _ in buckets] == [
        EPOCH + hours * timedelta(hours=1) for hours in (-3, -2, -1, 0, 1)
    ]
