"""Checking that record batches come in time order, for slices read without a sort.

A log store that keeps its records sorted by time (the embedded store after compaction) can hand a
slice over in storage order, which saves sorting it. Whether it really is in time order is only
known while reading, so the batches pass through :func:`in_time_order`, which raises
:class:`OutOfTimeOrderError` at the first step back in time; the caller then reads the slice again,
sorted. The check is vectorized and costs a comparison per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc


class OutOfTimeOrderError(Exception):
    """A batch steps back in time (or holds a record without a time): the slice needs a sort."""


def in_time_order(batches: Iterable[pa.RecordBatch], column: int = 0) -> Iterator[pa.RecordBatch]:
    """Yield ``batches`` unchanged while their ``column`` (a timestamp) never decreases.

    Raises OutOfTimeOrderError on the first batch that steps back in time, from one row to the next
    or from the previous batch's last row, and on any null time.
    """
    previous: int | None = None
    for batch in batches:
        times = batch.column(column)
        if len(times):
            if times.null_count:
                raise OutOfTimeOrderError("a record has no time")
            values = times.view(pa.int64())
            first, last = values[0].as_py(), values[-1].as_py()
            if previous is not None and first < previous:
                raise OutOfTimeOrderError("a batch starts before the previous one ended")
            if len(values) > 1 and not pc.all(pc.greater_equal(values[1:], values[:-1])).as_py():
                raise OutOfTimeOrderError("a batch steps back in time")
            previous = last
        yield batch
