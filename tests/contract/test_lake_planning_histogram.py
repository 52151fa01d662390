"""A lake's planning histogram from its catalog (``DuckLakeLogStore.planning_histogram``).

On a lake whose rows were appended in several appends across days, the catalog's histogram of a
plain ``*`` search counts exactly the rows ``count`` counts (catalogs in DuckDB, PostgreSQL and
SQLite), its buckets agree with the data histogram's within the spreading of each file's rows
over its time span, files merged by compaction count too, and it answers while the data files
cannot be read at all (so it read none). A filter, SQL, deleted rows, rows or deletions inlined
in the catalog and a file without time statistics make it answer None (the planner then reads
the data); once compaction flushed inlined rows it answers again.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from logsluice.adapters.duckdb.lake_store import LAKE, DuckLakeLogStore
from logsluice.adapters.duckdb.query_language import parse_duckdb_query
from logsluice.domain.catalog import Logstore
from logsluice.domain.errors import LogsluiceError
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.slices import plan_slices
from logsluice.ports import HistogramBucket, RecordsQuery
from logsluice.services.query import choose_bucket
from logsluice.services.task_plan import PLANNING_BUCKETS
from tests.contract.conftest_lake import (
    local_lake_url,
    new_s3_bucket,
    open_lake,
    postgresql_s3_lake_url,
    second_records,
)
from tests.contract.test_lake_store import _bucket_keys
from tests.s3_server import S3Server

pytestmark = pytest.mark.timeout(180)

PROJECT = "shop"
LOGSTORE = "web"
BASE = datetime(2026, 3, 1, tzinfo=UTC)
EVERYTHING = TimeRange(BASE - timedelta(days=1), BASE + timedelta(days=6))
# (first second, rows, step in seconds): four appends across four days, overlapping in time,
# one of a single record (a file whose min equals its max)
APPENDS = ((0, 300, 600), (86_400, 200, 420), (3 * 86_400, 1, 1), (2 * 86_400 + 18_000, 50, 60))


def _records(first_second: int, rows: int, step_seconds: int) -> pa.Table:
    return second_records(BASE, first_second, rows, step_seconds=step_seconds)


def _fill(store: DuckLakeLogStore) -> None:
    store.create_logstore(Logstore(PROJECT, LOGSTORE, 7, "timestamp", BASE))
    for first, rows, step in APPENDS:
        store.append(PROJECT, LOGSTORE, _records(first, rows, step))


def _request(text: str = "*", time_range: TimeRange = EVERYTHING) -> RecordsQuery:
    return RecordsQuery(PROJECT, LOGSTORE, parse_duckdb_query(text), time_range)


def _total(buckets: list[HistogramBucket]) -> int:
    return sum(item.count for item in buckets)


def _catalog_histogram(
    store: DuckLakeLogStore, request: RecordsQuery
) -> tuple[list[HistogramBucket], timedelta]:
    bucket = choose_bucket(request.time_range, PLANNING_BUCKETS)
    counted = store.planning_histogram(request, bucket)
    assert counted is not None
    return counted, bucket


def test_the_catalog_histogram_counts_the_rows_and_agrees_with_the_data(
    lake: DuckLakeLogStore,
) -> None:
    _fill(lake)
    request = _request()
    counted, bucket = _catalog_histogram(lake, request)
    read = lake.histogram(request, bucket)

    assert _total(counted) == _total(read) == lake.count(request) == 551
    # every bucket within a few rows of the data's: the records of each append are evenly spaced,
    # so spreading a file's rows evenly over its span misplaces at most a row or two per file
    by_start = {item.start: item.count for item in read}
    starts = sorted(set(by_start) | {item.start for item in counted})
    assert {item.start for item in counted} <= set(by_start)
    counted_by_start = {item.start: item.count for item in counted}
    assert max(abs(counted_by_start.get(s, 0) - by_start.get(s, 0)) for s in starts) <= 2


def test_slices_planned_from_the_catalog_cover_the_range_and_hold_every_row_once(
    lake: DuckLakeLogStore,
) -> None:
    _fill(lake)
    request = _request()
    counted, bucket = _catalog_histogram(lake, request)

    slices = plan_slices(
        EVERYTHING, Order.ASC, target_rows_per_slice=60, histogram=counted, bucket_width=bucket
    )

    assert slices[0].time_range.start == EVERYTHING.start
    assert slices[-1].time_range.end == EVERYTHING.end
    for before, after in itertools.pairwise(slices):
        assert before.time_range.end == after.time_range.start
    rows = [lake.count(_request(time_range=item.time_range)) for item in slices]
    assert sum(rows) == 551
    # sized as from the data's histogram, give or take the spreading of each file's rows
    from_data = plan_slices(
        EVERYTHING,
        Order.ASC,
        target_rows_per_slice=60,
        histogram=lake.histogram(request, bucket),
        bucket_width=bucket,
    )
    data_rows = [lake.count(_request(time_range=item.time_range)) for item in from_data]
    assert abs(len(slices) - len(from_data)) <= 1
    assert max(rows) <= max(data_rows) + 4


def test_a_range_cutting_through_files_counts_their_rows_in_proportion(
    lake: DuckLakeLogStore,
) -> None:
    _fill(lake)
    request = _request(time_range=TimeRange(BASE + timedelta(hours=30), BASE + timedelta(hours=60)))
    counted, _ = _catalog_histogram(lake, request)
    assert abs(_total(counted) - lake.count(request)) <= 3


def test_a_filter_or_sql_is_left_to_the_data(lake: DuckLakeLogStore) -> None:
    _fill(lake)
    bucket = timedelta(hours=1)
    assert lake.planning_histogram(_request("number>=600"), bucket) is None
    assert lake.planning_histogram(_request("* | SELECT count(*) AS n"), bucket) is None


def test_deleted_rows_are_left_to_the_data(lake: DuckLakeLogStore) -> None:
    _fill(lake)
    assert lake.delete_before(PROJECT, LOGSTORE, BASE + timedelta(hours=12)) == 72
    bucket = choose_bucket(EVERYTHING, PLANNING_BUCKETS)
    assert lake.planning_histogram(_request(), bucket) is None
    # compaction merges the files but leaves the deletions of a file mostly kept in place
    lake.compact(PROJECT, LOGSTORE)
    assert lake.planning_histogram(_request(), bucket) is None


def test_files_merged_by_compaction_are_counted_from_the_catalog(lake: DuckLakeLogStore) -> None:
    _fill(lake)
    lake.append(PROJECT, LOGSTORE, _records(300, 200, 600))  # merges with the first day's files
    files = len(lake.data_files(PROJECT, LOGSTORE))
    lake.compact(PROJECT, LOGSTORE)
    assert len(lake.data_files(PROJECT, LOGSTORE)) < files

    counted, _ = _catalog_histogram(lake, _request())
    assert _total(counted) == lake.count(_request()) == 751


@pytest.fixture
def inlining_lake(tmp_path: Path) -> Iterator[DuckLakeLogStore]:
    """A local lake that keeps appends of fewer than ten rows in its catalog."""
    store = open_lake(local_lake_url(tmp_path) + "&inline_rows=10")
    yield store
    store.close()


def test_rows_inlined_in_the_catalog_are_left_to_the_data_until_flushed(
    inlining_lake: DuckLakeLogStore,
) -> None:
    store = inlining_lake
    _fill(store)  # its single-record append stays in the catalog
    bucket = choose_bucket(EVERYTHING, PLANNING_BUCKETS)
    assert store.planning_histogram(_request(), bucket) is None

    store.compact(PROJECT, LOGSTORE)

    counted, _ = _catalog_histogram(store, _request())
    assert _total(counted) == store.count(_request()) == 551


def test_deletions_inlined_in_the_catalog_are_left_to_the_data(
    inlining_lake: DuckLakeLogStore,
) -> None:
    store = inlining_lake
    store.create_logstore(Logstore(PROJECT, LOGSTORE, 7, "timestamp", BASE))
    store.append(PROJECT, LOGSTORE, _records(0, 300, 600))
    bucket = choose_bucket(EVERYTHING, PLANNING_BUCKETS)
    assert store.planning_histogram(_request(), bucket) is not None

    assert store.delete_before(PROJECT, LOGSTORE, BASE + timedelta(seconds=1800)) == 3

    assert store.planning_histogram(_request(), bucket) is None


def test_a_file_without_time_statistics_is_left_to_the_data(tmp_path: Path) -> None:
    store = open_lake(local_lake_url(tmp_path))
    try:
        _fill(store)
        with store._cursor() as cursor:
            cursor.execute(
                f"DELETE FROM __ducklake_metadata_{LAKE}.ducklake_file_column_stats "
                "WHERE data_file_id = (SELECT min(data_file_id) "
                f"FROM __ducklake_metadata_{LAKE}.ducklake_data_file)"
            )
        assert store.planning_histogram(_request(), timedelta(hours=1)) is None
    finally:
        store.close()


def test_the_catalog_histogram_reads_no_data_file_locally(tmp_path: Path) -> None:
    store = open_lake(local_lake_url(tmp_path))
    try:
        _fill(store)
        expected, bucket = _catalog_histogram(store, _request())
        shutil.move(tmp_path / "data", tmp_path / "moved")  # no data file can be read now
        assert store.planning_histogram(_request(), bucket) == expected
        with pytest.raises((LogsluiceError, duckdb.Error)):
            store.histogram(_request(), bucket)
    finally:
        store.close()


@pytest.mark.postgresql
def test_the_catalog_histogram_reads_no_object_from_the_bucket(
    postgresql_database_factory: Callable[[], str], s3_server: S3Server
) -> None:
    bucket_name = new_s3_bucket(s3_server)
    store = open_lake(postgresql_s3_lake_url(postgresql_database_factory(), bucket_name, s3_server))
    try:
        _fill(store)
        expected, bucket = _catalog_histogram(store, _request())
        client = s3_server.client()
        for key in _bucket_keys(s3_server, bucket_name):
            client.delete_object(Bucket=bucket_name, Key=key)
        assert _bucket_keys(s3_server, bucket_name) == []
        assert store.planning_histogram(_request(), bucket) == expected
        with pytest.raises((LogsluiceError, duckdb.Error)):
            store.histogram(_request(), bucket)
    finally:
        store.close()


def test_a_lake_cataloged_in_sqlite_counts_from_its_catalog_too(tmp_path: Path) -> None:
    store = open_lake(f"ducklake:sqlite://{tmp_path}/catalog.sqlite?data_path={tmp_path}/data")
    try:
        _fill(store)
        counted, _ = _catalog_histogram(store, _request())
        assert _total(counted) == store.count(_request()) == 551
    finally:
        store.close()
