"""Slices of a lake read file by file (``QueryTarget.skipped_files``, ADR 0012).

On a lake whose appends wrote data files that do not overlap in time, the planner ends slices
where files meet (``planning_boundaries``), and a slice whose files all lie inside its range is
read by leaving the other files out by name, with the range checked after the scan: it must yield
exactly the rows a read by the range yields. A slice that cuts through a file, a logstore with a
field named like DuckLake's ``filename`` column and rows inlined in the catalog are read correctly
too (the first two by the range). Runs on a local lake (DuckDB catalog) and on PostgreSQL + S3.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from logsluice.adapters.duckdb.emitter import LAKE_FILE_NAME
from logsluice.adapters.duckdb.lake_histogram import files_outside
from logsluice.adapters.duckdb.lake_store import LAKE, DuckLakeLogStore
from logsluice.adapters.duckdb.query_language import parse_duckdb_query
from logsluice.domain.catalog import Logstore
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.slices import plan_slices
from logsluice.ports import RecordsQuery
from tests.contract.conftest_lake import local_lake_url, open_lake, second_records

pytestmark = pytest.mark.timeout(180)

PROJECT = "shop"
LOGSTORE = "web"
BASE = datetime(2026, 3, 1, tzinfo=UTC)
EVERYTHING = TimeRange(BASE - timedelta(days=1), BASE + timedelta(days=2))
# three appends, one after the other in time: three files that do not overlap
APPENDS = ((0, 400), (10_000, 300), (20_000, 500))


def _records(first_second: int, rows: int, field: str = "number") -> pa.Table:
    return second_records(BASE, first_second, rows, field=field)


def _fill(store: DuckLakeLogStore, field: str = "number") -> None:
    store.create_logstore(Logstore(PROJECT, LOGSTORE, 7, "timestamp", BASE))
    for first, rows in APPENDS:
        store.append(PROJECT, LOGSTORE, _records(first, rows, field))


def _request(time_range: TimeRange, *, sort: bool = False) -> RecordsQuery:
    return RecordsQuery(PROJECT, LOGSTORE, parse_duckdb_query("*"), time_range, sort=sort)


def _numbers(store: DuckLakeLogStore, request: RecordsQuery, field: str = "number") -> list[int]:
    table = store.stream(request, 100).read_all()
    return [int(value) for value in table.column(field).to_pylist()]


def _skipped(store: DuckLakeLogStore, time_range: TimeRange) -> tuple[str, ...]:
    with store._cursor() as cursor:
        return files_outside(cursor, LAKE, PROJECT, LOGSTORE, "timestamp", time_range)


def test_slices_end_where_files_meet_and_each_reads_its_files_whole(
    lake: DuckLakeLogStore,
) -> None:
    _fill(lake)
    request = _request(EVERYTHING)
    boundaries = lake.planning_boundaries(request)
    assert boundaries == [BASE + timedelta(seconds=10_000), BASE + timedelta(seconds=20_000)]
    # slices of about 600 rows would cut the second file; they end where files meet instead
    histogram = lake.planning_histogram(request, timedelta(minutes=10))
    assert histogram is not None
    slices = plan_slices(
        EVERYTHING,
        Order.ASC,
        target_rows_per_slice=600,
        histogram=histogram,
        bucket_width=timedelta(minutes=10),
        boundaries=boundaries,
    )
    ends = [item.time_range.end for item in slices[:-1]]
    assert set(ends) <= set(boundaries)
    seen: list[int] = []
    for item in slices:
        by_files = _numbers(lake, _request(item.time_range))
        assert by_files == _numbers(lake, _request(item.time_range, sort=True))
        seen += by_files
    assert seen == [number for first, rows in APPENDS for number in range(first, first + rows)]


def test_a_slice_inside_the_files_skips_the_others_and_one_cutting_a_file_skips_none(
    lake: DuckLakeLogStore,
) -> None:
    _fill(lake)
    second = TimeRange(BASE + timedelta(seconds=10_000), BASE + timedelta(seconds=20_000))
    skipped = _skipped(lake, second)
    assert len(skipped) == 2
    assert set(skipped) <= set(lake.data_files(PROJECT, LOGSTORE))
    assert _numbers(lake, _request(second)) == list(range(10_000, 10_300))
    cutting = TimeRange(BASE + timedelta(seconds=100), BASE + timedelta(seconds=10_100))
    assert _skipped(lake, cutting) == ()
    assert _numbers(lake, _request(cutting)) == [*range(100, 400), *range(10_000, 10_100)]


def test_a_file_written_after_the_choice_is_read_and_checked_by_the_range(
    lake: DuckLakeLogStore,
) -> None:
    _fill(lake)
    second = TimeRange(BASE + timedelta(seconds=10_000), BASE + timedelta(seconds=20_000))
    # a late append into the second file's hour and one outside it, each a file of its own
    lake.append(PROJECT, LOGSTORE, _records(15_000, 3))
    lake.append(PROJECT, LOGSTORE, _records(30_000, 3))
    assert _numbers(lake, _request(second)) == _numbers(lake, _request(second, sort=True))
    assert sorted(_numbers(lake, _request(second))) == [
        *range(10_000, 10_300),
        *range(15_000, 15_003),
    ]


def test_a_field_named_like_the_file_column_is_read_by_the_range(lake: DuckLakeLogStore) -> None:
    _fill(lake, field=LAKE_FILE_NAME)
    second = TimeRange(BASE + timedelta(seconds=10_000), BASE + timedelta(seconds=20_000))
    target = lake._queries._target(_request(second))
    assert lake._skipped_files(_request(second), target) == ()
    assert _numbers(lake, _request(second), LAKE_FILE_NAME) == list(range(10_000, 10_300))


def test_rows_inlined_in_the_catalog_are_read_with_the_files(tmp_path: Path) -> None:
    store = open_lake(local_lake_url(tmp_path) + "&inline_rows=10")
    try:
        _fill(store)
        store.append(PROJECT, LOGSTORE, _records(12_000, 5))  # inlined: five rows
        second = TimeRange(BASE + timedelta(seconds=10_000), BASE + timedelta(seconds=20_000))
        assert len(_skipped(store, second)) == 2
        assert sorted(_numbers(store, _request(second))) == [
            *range(10_000, 10_300),
            *range(12_000, 12_005),
        ]
    finally:
        store.close()
