"""Spreading a lake's data files over time buckets (``lake_histogram.spread_over_buckets``): rows
evenly over each file's span, a file of one instant in one bucket, a file the range cuts through
in proportion, buckets aligned as the data histogram's, whole rows adding up to the files'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from logsluice.adapters.duckdb.lake_histogram import FileSpan, spread_over_buckets
from logsluice.domain.timerange import TimeRange
from logsluice.ports import HistogramBucket

BASE = datetime(2026, 3, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _span(rows: int, first: datetime, last: datetime) -> FileSpan:
    return FileSpan(rows, _us(first), _us(last))


def test_a_files_rows_are_spread_evenly_over_its_span() -> None:
    spans = [_span(400, BASE, BASE + 4 * HOUR)]
    buckets = spread_over_buckets(spans, TimeRange(BASE, BASE + 5 * HOUR), HOUR)
    assert buckets == [HistogramBucket(BASE + index * HOUR, 100) for index in range(4)]


def test_a_file_of_one_instant_is_one_bucket_and_buckets_align_to_the_epoch() -> None:
    spans = [_span(7, BASE + 90 * timedelta(minutes=1), BASE + 90 * timedelta(minutes=1))]
    time_range = TimeRange(BASE + timedelta(minutes=30), BASE + 3 * HOUR)
    assert spread_over_buckets(spans, time_range, HOUR) == [HistogramBucket(BASE + HOUR, 7)]


def test_files_outside_the_range_count_nothing_and_cut_ones_in_proportion() -> None:
    spans = [
        _span(100, BASE - 3 * HOUR, BASE - 2 * HOUR),  # before the range
        _span(100, BASE - HOUR, BASE + HOUR),  # half inside
        _span(10, BASE + 2 * HOUR, BASE + 2 * HOUR),
    ]
    buckets = spread_over_buckets(spans, TimeRange(BASE, BASE + 3 * HOUR), HOUR)
    assert buckets == [HistogramBucket(BASE, 50), HistogramBucket(BASE + 2 * HOUR, 10)]


def test_whole_rows_add_up_to_every_files_rows() -> None:
    spans = [_span(1_001, BASE, BASE + 10 * HOUR - timedelta(seconds=7)) for _ in range(3)]
    spans.append(_span(13, BASE + timedelta(minutes=17), BASE + 5 * HOUR))
    buckets = spread_over_buckets(spans, TimeRange(BASE, BASE + 24 * HOUR), timedelta(minutes=7))
    assert sum(item.count for item in buckets) == 3 * 1_001 + 13
    assert all(item.count > 0 for item in buckets)
