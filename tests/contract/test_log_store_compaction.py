"""Compaction of the DuckDB log store: out-of-order ingest is re-sorted by time, nothing is lost.

Mirrors QA's case on a smaller scale: many small appends, each covering a random hour of one day,
with arrival-time records (two days later) mixed in, so every row group spans the whole table and a
one-hour query reads most of them until ``compact`` rewrites the table sorted by time.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from logsluice.adapters.duckdb import DuckDBLogStore
from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.catalog import Logstore
from logsluice.domain.timerange import TimeRange
from logsluice.ports import RecordsQuery

PROJECT = "shop"
LOGSTORE = "web-logs"
BASE = datetime(2026, 3, 1, tzinfo=UTC)
ARRIVAL = BASE + timedelta(days=2)
TIME_TYPE = pa.timestamp("us", "UTC")
HOUR_US = 3600 * 1_000_000
ONE_HOUR = TimeRange(BASE + timedelta(hours=5), BASE + timedelta(hours=6))
EVERYTHING = TimeRange(BASE - timedelta(days=1), ARRIVAL + timedelta(days=1))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBLogStore]:
    log_store = DuckDBLogStore(tmp_path / "logs.duckdb")
    log_store.create_logstore(Logstore(PROJECT, LOGSTORE, 7, "timestamp", BASE))
    yield log_store
    log_store.close()


def _batch(generator: random.Random, size: int, first_number: int) -> pa.Table:
    """One append: records of a random hour of BASE's day, 5 % of them at arrival time."""
    base_us = int(BASE.timestamp() * 1_000_000)
    arrival_us = int(ARRIVAL.timestamp() * 1_000_000)
    hour_start_us = base_us + generator.randrange(23) * HOUR_US
    times = [
        arrival_us if generator.random() < 0.05 else hour_start_us + generator.randrange(HOUR_US)
        for _ in range(size)
    ]
    return pa.table(
        {
            "timestamp": pa.array(times, TIME_TYPE),
            "number": pa.array(range(first_number, first_number + size), pa.int64()),
        }
    )


def _ingest(store: DuckDBLogStore, appends: int, size: int, seed: int = 7) -> int:
    generator = random.Random(seed)
    for index in range(appends):
        store.append(PROJECT, LOGSTORE, _batch(generator, size, index * size))
    return appends * size


def _query(time_range: TimeRange) -> RecordsQuery:
    return RecordsQuery(PROJECT, LOGSTORE, parse_query("*"), time_range, limit=10_000_000)


def _numbers(store: DuckDBLogStore, time_range: TimeRange) -> list[int]:
    _, table = store.fetch(_query(time_range))
    return sorted(table.column("number").to_pylist())


def test_compact_makes_a_one_hour_query_read_only_its_row_groups(store: DuckDBLogStore) -> None:
    records = _ingest(store, appends=100, size=5_000)
    before = store.scan_profile(_query(ONE_HOUR))
    hour_numbers = _numbers(store, ONE_HOUR)
    assert before.row_groups_scanned >= 3

    report = store.compact(PROJECT, LOGSTORE)

    after = store.scan_profile(_query(ONE_HOUR))
    assert report.rewritten
    assert report.rows == records
    assert report.row_groups_before >= 4
    assert report.row_groups_after == before.row_groups_total
    assert after.row_groups_scanned <= 2
    assert after.rows_scanned < before.rows_scanned
    assert store.count(_query(EVERYTHING)) == records
    assert _numbers(store, ONE_HOUR) == hour_numbers


def test_second_compact_is_a_no_op(store: DuckDBLogStore) -> None:
    records = _ingest(store, appends=60, size=5_000)
    assert store.compact(PROJECT, LOGSTORE).rewritten

    again = store.compact(PROJECT, LOGSTORE)

    assert not again.rewritten
    assert again.rows == records
    assert again.row_groups_before == again.row_groups_after


def test_well_ordered_and_empty_logstores_are_left_alone(store: DuckDBLogStore) -> None:
    assert not store.compact(PROJECT, LOGSTORE).rewritten
    times = [BASE + timedelta(seconds=second) for second in range(300_000)]
    store.append(PROJECT, LOGSTORE, pa.table({"timestamp": pa.array(times, TIME_TYPE)}))

    report = store.compact(PROJECT, LOGSTORE)

    assert not report.rewritten
    assert report.rows == 300_000


def test_compact_keeps_column_types_defaults_and_logstreams(store: DuckDBLogStore) -> None:
    _ingest(store, appends=60, size=5_000)
    schema_before = store.schema(PROJECT, LOGSTORE)
    logstreams_before = store.logstreams(PROJECT, LOGSTORE)

    assert store.compact(PROJECT, LOGSTORE).rewritten

    assert store.schema(PROJECT, LOGSTORE) == schema_before
    assert store.logstreams(PROJECT, LOGSTORE) == logstreams_before
    store.append(PROJECT, LOGSTORE, pa.table({"timestamp": pa.array([BASE], TIME_TYPE)}))
    assert store.count(_query(EVERYTHING)) == 300_001


def test_compact_concurrent_with_appends_and_queries_loses_nothing(
    store: DuckDBLogStore,
) -> None:
    records = _ingest(store, appends=60, size=5_000)
    failures: list[BaseException] = []
    appended: list[int] = []

    def append_more(seed: int) -> None:
        generator = random.Random(seed)
        for index in range(10):
            batch = _batch(generator, 2_000, 10_000_000 * seed + index * 2_000)
            appended.append(store.append(PROJECT, LOGSTORE, batch))

    def query_repeatedly() -> None:
        for _ in range(20):
            assert store.count(_query(EVERYTHING)) >= records

    def guarded(work: object, *arguments: int) -> None:
        try:
            work(*arguments)  # type: ignore[operator]
        except BaseException as error:  # reported by the assertion on failures below
            failures.append(error)

    threads = [
        *(threading.Thread(target=guarded, args=(append_more, seed)) for seed in (1, 2)),
        threading.Thread(target=guarded, args=(query_repeatedly,)),
    ]
    for thread in threads:
        thread.start()
    report = store.compact(PROJECT, LOGSTORE)
    for thread in threads:
        thread.join()

    assert not failures, failures
    assert report.rewritten
    assert store.count(_query(EVERYTHING)) == records + sum(appended) == records + 40_000
    assert len(set(_numbers(store, EVERYTHING))) == records + 40_000
