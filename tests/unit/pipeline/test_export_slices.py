"""plan_slices: equal spans from an estimate, histogram-sized slices, output order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.slices import plan_slices, split_evenly

START = datetime(2026, 3, 1, tzinfo=UTC)
DAY = TimeRange(START, START + timedelta(days=1))


@dataclass(frozen=True)
class Bucket:
    start: datetime
    count: int


def assert_tiles(time_range: TimeRange, ranges: list[TimeRange]) -> None:
    """The ranges cover ``time_range`` exactly, without gaps or overlaps, ascending."""
    assert ranges[0].start == time_range.start
    assert ranges[-1].end == time_range.end
    assert all(left.end == right.start for left, right in itertools.pairwise(ranges))


def test_without_estimate_the_range_is_one_slice() -> None:
    slices = plan_slices(DAY, Order.ASC)
    assert [(item.index, item.time_range) for item in slices] == [(0, DAY)]


def test_estimate_cuts_equal_spans() -> None:
    slices = plan_slices(DAY, Order.ASC, target_rows_per_slice=1_000_000, estimated_rows=4_000_001)
    assert len(slices) == 5
    assert_tiles(DAY, [item.time_range for item in slices])
    assert {item.time_range.duration for item in slices[:-1]} == {DAY.duration / 5}


def test_descending_order_lists_newest_first_with_indexes_in_output_order() -> None:
    ascending = plan_slices(DAY, Order.ASC, target_rows_per_slice=10, estimated_rows=30)
    descending = plan_slices(DAY, Order.DESC, target_rows_per_slice=10, estimated_rows=30)
    assert [item.index for item in descending] == [0, 1, 2]
    assert [item.time_range for item in descending] == [
        item.time_range for item in reversed(ascending)
    ]


def test_histogram_groups_buckets_up_to_the_target() -> None:
    hour = timedelta(hours=1)
    counts = [300, 300, 300, 0, 0, 500, 100, 900] + [0] * 16
    buckets = [Bucket(START + hour * index, count) for index, count in enumerate(counts)]
    slices = plan_slices(
        DAY, Order.ASC, target_rows_per_slice=1000, histogram=buckets, bucket_width=hour
    )
    ranges = [item.time_range for item in slices]
    assert_tiles(DAY, ranges)
    assert [(r.start - START) // hour for r in ranges] == [0, 5, 7]


def test_a_bucket_above_the_target_is_split_evenly() -> None:
    hour = timedelta(hours=1)
    buckets = [Bucket(START + hour * 2, 3500)]
    slices = plan_slices(
        DAY, Order.ASC, target_rows_per_slice=1000, histogram=buckets, bucket_width=hour
    )
    ranges = [item.time_range for item in slices]
    assert_tiles(DAY, ranges)
    assert len(ranges) == 4
    assert ranges[0].start == START
    assert ranges[0].end == START + hour * 2 + timedelta(minutes=15)
    assert ranges[1].duration == timedelta(minutes=15)


def test_buckets_outside_the_range_are_ignored() -> None:
    hour = timedelta(hours=1)
    buckets = [Bucket(START - hour, 5000), Bucket(START + timedelta(days=2), 5000)]
    slices = plan_slices(
        DAY, Order.ASC, target_rows_per_slice=1000, histogram=buckets, bucket_width=hour
    )
    assert [item.time_range for item in slices] == [DAY]


def test_split_never_goes_below_a_microsecond() -> None:
    tiny = TimeRange(START, START + timedelta(microseconds=3))
    assert len(split_evenly(tiny, 10)) == 3


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        plan_slices(DAY, Order.ASC, target_rows_per_slice=0)
    with pytest.raises(ValueError, match="bucket_width"):
        plan_slices(DAY, Order.ASC, histogram=[])
