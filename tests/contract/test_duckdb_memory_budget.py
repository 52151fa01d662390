"""The DuckDB store's two memory limits: the cache limit at rest, the full limit while it sorts.

An export slice read sorted and a compaction rewrite raise DuckDB's ``memory_limit`` for as long as
they run, counted across threads; everything else (queries, slices read in storage order) runs at
the cache limit, so the blocks DuckDB caches stay under it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from logsluice.adapters.duckdb import DuckDBLogStore
from logsluice.adapters.duckdb import log_store as log_store_module
from logsluice.adapters.duckdb.queries import QueryRunner
from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.catalog import Logstore
from logsluice.domain.timerange import TimeRange
from logsluice.ports import RecordsQuery

MEBIBYTE = 1024 * 1024
PEAK = 256 * MEBIBYTE
BASE = 64 * MEBIBYTE
START = datetime(2026, 3, 1, tzinfo=UTC)
EVERYTHING = TimeRange(START - timedelta(days=1), START + timedelta(days=2))
TIME_TYPE = pa.timestamp("us", "UTC")
SORTED = RecordsQuery("shop", "web", parse_query("*"), EVERYTHING)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBLogStore]:
    log_store = DuckDBLogStore(
        tmp_path / "logs.duckdb", memory_limit_bytes=PEAK, cache_limit_bytes=BASE, threads=2
    )
    log_store.create_logstore(Logstore("shop", "web", 7, "timestamp", START))
    for hour in (5, 1, 3):  # three appends out of time order: row groups overlap
        times = [START + timedelta(hours=hour, seconds=second) for second in range(3_000)]
        log_store.append("shop", "web", pa.table({"timestamp": pa.array(times, TIME_TYPE)}))
    yield log_store
    log_store.close()


def memory_limit(store: DuckDBLogStore) -> int:
    cursor = store._connection.cursor()
    try:
        row = cursor.execute(
            "SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'"
        ).fetchone()
    finally:
        cursor.close()
    assert row is not None
    text = str(row[0])
    assert text.endswith(" MiB"), text
    return int(float(text.removesuffix(" MiB")) * MEBIBYTE)


def test_at_rest_and_while_reading_in_storage_order_the_cache_limit_holds(
    store: DuckDBLogStore,
) -> None:
    assert memory_limit(store) == BASE
    reader = store.stream(replace(SORTED, sort=False), 1_000)
    assert memory_limit(store) == BASE
    assert sum(batch.num_rows for batch in reader) == 9_000
    assert memory_limit(store) == BASE


def test_a_sorted_slice_raises_the_limit_until_its_reader_is_done(store: DuckDBLogStore) -> None:
    first = store.stream(SORTED, 1_000)
    second = store.stream(SORTED, 1_000)
    assert memory_limit(store) == PEAK
    assert sum(batch.num_rows for batch in first) == 9_000
    first.close()
    assert memory_limit(store) == PEAK  # the other sort still runs
    assert second.read_next_batch().num_rows > 0
    second.close()
    del second
    gc.collect()
    assert memory_limit(store) == BASE


def test_a_sorted_reader_dropped_unread_gives_the_memory_back(store: DuckDBLogStore) -> None:
    reader = store.stream(SORTED, 1_000)
    assert memory_limit(store) == PEAK
    del reader
    gc.collect()
    assert memory_limit(store) == BASE


def test_previews_counts_and_histograms_run_at_the_cache_limit(store: DuckDBLogStore) -> None:
    reader = store.stream(replace(SORTED, limit=10), 1_000)
    assert memory_limit(store) == BASE
    assert reader.read_all().num_rows == 10
    seen: list[int] = []
    store.count(SORTED)
    seen.append(memory_limit(store))
    store.histogram(SORTED, timedelta(hours=1))
    seen.append(memory_limit(store))
    assert seen == [BASE, BASE]


def test_sql_queries_run_with_the_full_limit(
    store: DuckDBLogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    grouped = replace(
        SORTED, query=parse_query("* | SELECT count(*) AS n, max(timestamp) AS latest FROM records")
    )
    reader = store.stream(grouped, 1_000)
    assert memory_limit(store) == PEAK
    assert reader.read_all().column("n").to_pylist() == [9_000]
    del reader
    gc.collect()
    assert memory_limit(store) == BASE

    seen: list[int] = []
    run_on_cursor = QueryRunner._run_on_cursor

    def watched(runner: QueryRunner, *arguments: Any) -> Any:
        seen.append(memory_limit(store))
        return run_on_cursor(runner, *arguments)

    monkeypatch.setattr(QueryRunner, "_run_on_cursor", watched)
    _, table = store.fetch(grouped)
    assert table.column("n").to_pylist() == [9_000]
    store.fetch(replace(SORTED, limit=5))  # a preview: the cache limit
    assert seen == [PEAK, BASE]
    assert memory_limit(store) == BASE


def test_compaction_rewrites_with_the_full_limit_then_lowers_it(
    store: DuckDBLogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    rewrite = log_store_module.rewrite_sorted

    def watched(*arguments: Any) -> int:
        seen.append(memory_limit(store))
        return rewrite(*arguments)

    monkeypatch.setattr(log_store_module, "rewrite_sorted", watched)
    for _ in range(3):  # appends over the same day, more than a row group each: compaction is due
        start_us = int(START.timestamp() * 1_000_000)
        times = pa.array(range(start_us, start_us + 150_000 * 500_000, 500_000), TIME_TYPE)
        store.append("shop", "web", pa.table({"timestamp": times}))
    assert store.compact("shop", "web").rewritten
    assert seen == [PEAK]
    assert memory_limit(store) == BASE


def test_without_a_cache_limit_the_memory_limit_always_holds(tmp_path: Path) -> None:
    plain = DuckDBLogStore(tmp_path / "plain.duckdb", memory_limit_bytes=PEAK, threads=2)
    try:
        plain.create_logstore(Logstore("shop", "web", 7, "timestamp", START))
        reader = plain.stream(SORTED, 1_000)
        assert memory_limit(plain) == PEAK
        reader.read_all()
        assert memory_limit(plain) == PEAK
    finally:
        plain.close()
