"""Cutting a task's time range into slices: the unit of progress, checkpoint, resume, parallelism.

Slices hold roughly at most ``target_rows_per_slice`` rows each. With a per-bucket count histogram,
neighbouring buckets are grouped until the next would overflow the target (unless the rows left
fit in ``TAIL_SLOP`` times it: then they stay together), and a bucket larger than the target is
split into equal time spans; without one, the range is cut into equal time spans from
an estimated row count. Slices come back in output order (newest first for ``order=desc``) with
indexes counting in that order.

A plan of ``TAPER_FROM_SLICES`` slices or more ends with a smaller one: its last slice in output
order is cut into two halves by rows. Workers claim slices in output order, so the last claims
decide when the task is done: with whole slices a worker that takes the last one runs it alone
while the others wait (11 equal slices on 2 workers end 6 against 5, a speed-up of at most
1.83×); with the last one halved they finish within about half a slice of each other. Smaller
plans stay whole: there a slice's fixed cost (a query, a part, a claim) weighs more.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange

DEFAULT_ROWS_PER_SLICE = 1_000_000
TAIL_SLOP = 1.1
"""The last slice of a range may hold up to this many times the target rows rather than leave a
small rest to a slice of its own (as Hadoop's input splits do)."""
_RESOLUTION = timedelta(microseconds=1)


@dataclass(frozen=True)
class Slice:
    """One time sub-range of a task, ``index`` being its place in output order."""

    index: int
    time_range: TimeRange


class BucketCount(Protocol):
    """A histogram bucket: records counted from ``start`` for one bucket width."""

    @property
    def start(self) -> datetime: ...

    @property
    def count(self) -> int: ...


def split_evenly(time_range: TimeRange, parts: int) -> list[TimeRange]:
    """Cut ``time_range`` into ``parts`` (at most one per microsecond) equal ascending spans."""
    parts = max(1, min(parts, time_range.duration // _RESOLUTION))
    step = time_range.duration / parts
    edges = [time_range.start + step * number for number in range(parts)] + [time_range.end]
    return [TimeRange(low, high) for low, high in itertools.pairwise(edges) if low < high]


def _clip(time_range: TimeRange, start: datetime, end: datetime) -> TimeRange | None:
    low, high = max(start, time_range.start), min(end, time_range.end)
    return TimeRange(low, high) if low < high else None


def _group_buckets(
    time_range: TimeRange, buckets: Sequence[BucketCount], width: timedelta, target: int
) -> list[TimeRange]:
    """Group ascending buckets into spans of about ``target`` rows; empty gaps join a neighbour.

    A span takes in all the rows left when they are at most ``TAIL_SLOP`` × ``target``, so no
    tiny slice is left over at the end (2,000,000 rows by 1,000,000 make two slices, not three
    with a few rows in the last)."""
    spans: list[TimeRange] = []
    span_start, span_rows = time_range.start, 0
    counted = [
        (clipped, bucket.count)
        for bucket in sorted(buckets, key=lambda item: item.start)
        if bucket.count > 0
        and (clipped := _clip(time_range, bucket.start, bucket.start + width)) is not None
    ]
    left = sum(count for _, count in counted)  # rows from the current span's start on
    for clipped, count in counted:
        if span_rows and span_rows + count > target and left > target * TAIL_SLOP:
            spans.append(TimeRange(span_start, clipped.start))
            span_start, left, span_rows = clipped.start, left - span_rows, 0
        if count > target:
            pieces = split_evenly(clipped, math.ceil(count / target))
            pieces[0] = TimeRange(span_start, pieces[0].end)  # an empty gap before joins it
            spans.extend(pieces)
            span_start, left, span_rows = clipped.end, left - count, 0
            continue
        span_rows += count
    if spans and span_rows == 0:  # an empty tail joins the last slice
        spans[-1] = TimeRange(spans[-1].start, time_range.end)
    elif span_start < time_range.end:
        spans.append(TimeRange(span_start, time_range.end))
    return spans


def plan_slices(
    time_range: TimeRange,
    order: Order,
    *,
    target_rows_per_slice: int = DEFAULT_ROWS_PER_SLICE,
    histogram: Sequence[BucketCount] | None = None,
    bucket_width: timedelta | None = None,
    estimated_rows: int | None = None,
    boundaries: Sequence[datetime] = (),
) -> list[Slice]:
    """Return the slices of ``time_range`` in output order, each holding about ≤ the target rows.

    ``histogram`` with its ``bucket_width`` sizes slices by counted rows; otherwise
    ``estimated_rows`` (spread evenly over time) picks how many equal spans to cut; with neither,
    the whole range is one slice. Each end between two slices then moves to the nearest of
    ``boundaries`` (instants where the store's pieces of storage meet) that lies between the
    ends around it, if any does (:func:`snap_to_boundaries`). Raises ValueError for a
    non-positive target or bucket width.
    """
    if target_rows_per_slice <= 0:
        raise ValueError("target_rows_per_slice must be positive")
    if histogram is not None:
        if bucket_width is None or bucket_width <= timedelta(0):
            raise ValueError("a histogram needs a positive bucket_width")
        spans = _group_buckets(time_range, histogram, bucket_width, target_rows_per_slice)
    else:
        parts = math.ceil((estimated_rows or 0) / target_rows_per_slice)
        spans = split_evenly(time_range, parts)
    if len(spans) >= TAPER_FROM_SLICES:
        last = -1 if order is Order.ASC else 0  # in output order: the newest, or the oldest
        if histogram is not None and bucket_width is not None:
            halves = _halves_by_rows(spans[last], histogram, bucket_width)
        else:
            halves = split_evenly(spans[last], 2)
        spans = [*spans[:-1], *halves] if last == -1 else [*halves, *spans[1:]]
    spans = snap_to_boundaries(spans, boundaries)
    if order is Order.DESC:
        spans.reverse()
    return [Slice(index, span) for index, span in enumerate(spans)]


TAPER_FROM_SLICES = 4


def snap_to_boundaries(spans: list[TimeRange], boundaries: Sequence[datetime]) -> list[TimeRange]:
    """Return ``spans`` (back to back, in time order) with each end between two of them moved to
    the nearest of ``boundaries`` strictly between the end before it (as moved) and the end
    after it; an end with no boundary there stays. A store whose pieces of storage (a lake's
    data files) meet at ``boundaries`` then has each slice read whole pieces where it can."""
    if len(spans) < 2 or not boundaries:
        return spans
    ordered = sorted(boundaries)
    moved: list[datetime] = []
    for span in spans[1:]:
        end, lower, upper = span.start, moved[-1] if moved else spans[0].start, span.end
        # the nearest boundaries at or after and before ``end``, if strictly between the others
        after = bisect.bisect_left(ordered, end)
        near = [
            moment for moment in ordered[max(after - 1, 0) : after + 1] if lower < moment < upper
        ]
        moved.append(min(near, key=lambda moment: abs(moment - end)) if near else end)
    starts = [spans[0].start, *moved]
    stops = [*moved, spans[-1].end]
    return [TimeRange(start, stop) for start, stop in zip(starts, stops, strict=True)]


def _halves_by_rows(
    span: TimeRange, buckets: Sequence[BucketCount], width: timedelta
) -> list[TimeRange]:
    """Cut ``span`` where half of its counted rows are before (rows taken as spread evenly over
    each bucket's time); in two equal time spans when it has no rows."""
    pieces = []
    for bucket in sorted(buckets, key=lambda item: item.start):
        clipped = _clip(span, bucket.start, bucket.start + width)
        if clipped is not None and bucket.count > 0:
            pieces.append((clipped, bucket.count * (clipped.duration / width)))
    half = sum(rows for _, rows in pieces) / 2
    if half <= 0:
        return split_evenly(span, 2)
    middle, before = span.end, 0.0
    for clipped, rows in pieces:
        if before + rows >= half:
            middle = clipped.start + clipped.duration * ((half - before) / rows)
            break
        before += rows
    middle = min(max(middle, span.start + _RESOLUTION), span.end - _RESOLUTION)
    if not span.start < middle < span.end:
        return [span]
    return [TimeRange(span.start, middle), TimeRange(middle, span.end)]
