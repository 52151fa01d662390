"""plan_slices: equal spans from an estimate, histogram-sized slices, output order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.slices import plan_slices, snap_to_boundaries, split_evenly

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


def test_estimate_cuts_equal_spans_and_the_last_in_halves() -> None:
    slices = plan_slices(DAY, Order.ASC, target_rows_per_slice=1_000_000, estimated_rows=4_000_001)
    assert_tiles(DAY, [item.time_range for item in slices])
    assert [item.time_range.duration for item in slices] == [DAY.duration / 5] * 4 + [
        DAY.duration / 10
    ] * 2


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


@pytest.mark.parametrize(
    ("tail", "expected_rows"),
    [
        (20, [960, 1020]),  # a rest within 10 % of the target joins the last slice
        (150, [960, 1000, 150]),  # a larger rest keeps a slice of its own
    ],
)
def test_a_small_rest_joins_the_last_slice(tail: int, expected_rows: list[int]) -> None:
    hour = timedelta(hours=1)
    counts = [240] * 4 + [250] * 4 + [tail] + [0] * 15
    buckets = [Bucket(START + hour * index, count) for index, count in enumerate(counts)]
    slices = plan_slices(
        DAY, Order.ASC, target_rows_per_slice=1000, histogram=buckets, bucket_width=hour
    )
    ranges = [item.time_range for item in slices]
    assert_tiles(DAY, ranges)
    assert _rows(ranges, counts) == expected_rows


def test_a_bucket_above_the_target_is_split_evenly() -> None:
    hour = timedelta(hours=1)
    buckets = [Bucket(START + hour * 2, 3500)]
    slices = plan_slices(
        DAY, Order.ASC, target_rows_per_slice=1000, histogram=buckets, bucket_width=hour
    )
    ranges = [item.time_range for item in slices]
    assert_tiles(DAY, ranges)
    assert len(ranges) == 5  # four pieces of the bucket, the last cut in halves by its rows
    assert ranges[0].start == START
    assert ranges[0].end == START + hour * 2 + timedelta(minutes=15)
    assert ranges[1].duration == timedelta(minutes=15)
    assert ranges[3].start == START + hour * 2 + timedelta(minutes=45)
    assert ranges[3].end == ranges[4].start == START + hour * 2 + timedelta(minutes=52, seconds=30)


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


def _loads(slices: list[int], workers: int) -> list[float]:
    """What each worker runs when ``workers`` claim ``slices`` (their costs) in order, each the
    next one as soon as it is free."""
    loads = [0.0] * workers
    for cost in slices:
        loads[loads.index(min(loads))] += cost
    return loads


def _rows(slices: list[TimeRange], hour_counts: list[int]) -> list[int]:
    hour = timedelta(hours=1)
    return [
        round(
            sum(
                count
                * (
                    min(item.end, START + hour * (index + 1))
                    - max(item.start, START + hour * index)
                )
                / hour
                for index, count in enumerate(hour_counts)
                if item.start < START + hour * (index + 1) and START + hour * index < item.end
            )
        )
        for item in slices
    ]


@pytest.mark.parametrize("order", [Order.ASC, Order.DESC])
def test_the_last_slice_in_output_order_is_cut_in_halves_by_rows(order: Order) -> None:
    hour = timedelta(hours=1)
    counts = [1000] * 11 + [0] * 13  # eleven slices' worth, then nothing
    buckets = [Bucket(START + hour * index, count) for index, count in enumerate(counts)]
    slices = plan_slices(
        DAY, order, target_rows_per_slice=1000, histogram=buckets, bucket_width=hour
    )
    ranges = [item.time_range for item in slices]
    assert_tiles(DAY, sorted(ranges, key=lambda item: item.start))
    rows = _rows(ranges, counts)
    assert rows == [1000] * 10 + [500, 500]
    if order is Order.ASC:
        assert ranges[-2].start == START + hour * 10
        assert ranges[-1].start == START + hour * 10 + timedelta(minutes=30)
    else:
        assert ranges[-1].start == START
        assert ranges[-2].start == START + timedelta(minutes=30)
    # eleven whole slices on two workers end 6 against 5; with the last one halved, together
    assert _loads([1000] * 11, 2) == [6000, 5000]
    assert _loads(rows, 2) == [5500, 5500]


def test_a_plan_of_fewer_than_four_slices_stays_whole() -> None:
    slices = plan_slices(DAY, Order.ASC, target_rows_per_slice=10, estimated_rows=30)
    assert [item.time_range.duration for item in slices] == [DAY.duration / 3] * 3


def _hours(*ends: int) -> list[TimeRange]:
    moments = [START, *(START + timedelta(hours=end) for end in ends)]
    return [TimeRange(left, right) for left, right in itertools.pairwise(moments)]


def test_ends_move_to_the_nearest_boundary_between_their_neighbours() -> None:
    boundaries = [START + timedelta(hours=hours) for hours in (5, 7, 13, 23)]
    snapped = snap_to_boundaries(_hours(6, 12, 18, 24), boundaries)
    assert_tiles(DAY, snapped)
    # 6 → 5 or 7 (5 is as near; the first nearest wins), 12 → 13, 18 has no boundary between
    # 13 and 24 but 23 (nearest), and the range's own end never moves
    assert [item.end for item in snapped] == [
        START + timedelta(hours=5),
        START + timedelta(hours=13),
        START + timedelta(hours=23),
        START + timedelta(hours=24),
    ]


def test_an_end_without_a_boundary_between_its_neighbours_stays() -> None:
    spans = _hours(6, 12, 24)
    assert snap_to_boundaries(spans, [START + timedelta(hours=30)]) == spans
    assert snap_to_boundaries(spans, []) == spans
    # a boundary on an end's neighbour is not between them: that slice would be empty
    assert snap_to_boundaries(spans, [START + timedelta(hours=12)])[0].end == spans[0].end


def test_a_plan_with_boundaries_ends_its_slices_there_in_either_order() -> None:
    buckets = [Bucket(START + timedelta(hours=hour), 100) for hour in range(24)]
    boundaries = [START + timedelta(hours=8, minutes=20), START + timedelta(hours=15, minutes=50)]
    for order in Order:
        slices = plan_slices(
            DAY,
            order,
            target_rows_per_slice=800,
            histogram=buckets,
            bucket_width=timedelta(hours=1),
            boundaries=boundaries,
        )
        ranges = sorted((item.time_range for item in slices), key=lambda span: span.start)
        assert_tiles(DAY, ranges)
        assert [span.end for span in ranges[:-1]] == boundaries
