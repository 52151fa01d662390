"""Vectorized conversion of a record time column into ``timestamp[us, UTC]``.

Accepted, per value: timestamps, epoch numbers in s/ms/us/ns told apart by magnitude as
``domain.timerange.parse_time`` does, and text in the common log formats of
:mod:`logsluice.pipeline.time_formats` (RFC 3339 and ISO 8601, epoch text, nginx/Apache, syslog),
or in the caller's strptime format (``time_format``). A column one Arrow cast reads whole takes
that cast; a text column of mixed formats is read format by format; only the values no format
reads are looked at one by one, to name them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from logsluice.domain.errors import InvalidInputError, InvalidTimeRangeError
from logsluice.domain.timerange import parse_time
from logsluice.pipeline.time_formats import (
    ACCEPTED,
    TIME_TYPE,
    epoch_to_times,
    read_text_times,
    read_with_format,
)

_NANOSECOND_TIME_TYPE = pa.timestamp("ns", "UTC")


@dataclass(frozen=True)
class TimeColumn:
    """Times as ``timestamp[us, UTC]`` (missing ones set to arrival time), and unreadable rows."""

    values: Any
    bad_rows: tuple[tuple[int, str], ...] = ()


def convert_times(
    column: Any,
    row_count: int,
    arrival_time: datetime,
    *,
    field_name: str,
    time_format: str | None = None,
) -> TimeColumn:
    """Return the time column of ``row_count`` rows; ``column`` None means no record had a time.

    Null times become ``arrival_time``; unreadable ones are listed in ``bad_rows`` (0-based row,
    message) and also hold ``arrival_time`` so the caller can filter them out. ``time_format``
    (strptime) reads text times instead of the known formats.
    """
    arrival = pa.scalar(arrival_time, type=TIME_TYPE)
    if column is None or pa.types.is_null(column.type):
        return TimeColumn(pa.repeat(arrival, row_count))
    if _is_text(column.type):
        return _text_times(column, arrival_time, field_name, time_format)
    try:
        converted = _vectorized(column)
    except (pa.ArrowInvalid, OverflowError):  # an epoch past any timestamp: value by value
        converted = None
    if converted is not None:
        return TimeColumn(pc.fill_null(converted, arrival))
    return _per_value(column, arrival_time, field_name)


def _is_text(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def _vectorized(column: Any) -> Any:
    data_type = column.type
    if pa.types.is_timestamp(data_type):
        return _from_timestamps(column)
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return epoch_to_times(column)
    return None


def _from_timestamps(column: Any) -> Any:
    if column.type.tz is None:
        micro = pc.cast(column, pa.timestamp("us"), safe=False)
        return pc.cast(pc.cast(micro, pa.int64()), TIME_TYPE)
    return pc.cast(column, TIME_TYPE, safe=False)


def _text_times(
    column: Any, arrival_time: datetime, field_name: str, time_format: str | None
) -> TimeColumn:
    if time_format is not None:
        try:
            read = read_with_format(column, time_format, arrival_time)
        except (ValueError, pa.ArrowInvalid) as error:
            raise InvalidInputError(
                f"time_format {time_format!r} cannot be used: {error}", field="time_format"
            ) from error
        expected = f"in the time format {time_format!r}"
    else:
        read = _whole_column(column)
        if read is None:
            read = read_text_times(column, arrival_time)
        expected = f"a time: {ACCEPTED}"
    unreadable = pc.and_(pc.is_valid(column), pc.is_null(read))
    bad_rows = _named(column, unreadable, field_name, expected)
    return TimeColumn(pc.fill_null(read, pa.scalar(arrival_time, type=TIME_TYPE)), bad_rows)


def _whole_column(column: Any) -> Any:
    """The fast path: a column one Arrow cast reads whole (RFC 3339 with offsets, nanosecond
    fractions, ISO 8601 without offsets, epoch numbers as text)."""
    for attempt in (_with_offset, _with_nanoseconds, _without_offset, _epoch_text):
        try:
            return attempt(column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None


def _with_offset(column: Any) -> Any:
    return pc.cast(column, TIME_TYPE)


def _with_nanoseconds(column: Any) -> Any:
    return pc.cast(pc.cast(column, _NANOSECOND_TIME_TYPE), TIME_TYPE, safe=False)


def _without_offset(column: Any) -> Any:
    return _from_timestamps(pc.cast(column, pa.timestamp("us")))


def _epoch_text(column: Any) -> Any:
    return epoch_to_times(pc.cast(column, pa.float64()))


def _named(
    column: Any, unreadable: Any, field_name: str, expected: str
) -> tuple[tuple[int, str], ...]:
    if not pc.any(unreadable).as_py():
        return ()
    rows = pc.indices_nonzero(unreadable).to_pylist()
    values = pc.take(column, rows).to_pylist()
    return tuple(
        (row, f"{field_name}: {value!r} is not {expected}")
        for row, value in zip(rows, values, strict=True)
    )


def _per_value(column: Any, arrival_time: datetime, field_name: str) -> TimeColumn:
    times: list[datetime] = []
    bad_rows: list[tuple[int, str]] = []
    for row, value in enumerate(column.to_pylist()):
        try:
            times.append(
                arrival_time if value is None else parse_time(value, field_name=field_name)
            )
        except (InvalidTimeRangeError, OverflowError, ValueError) as error:
            message = error.message if isinstance(error, InvalidTimeRangeError) else str(error)
            bad_rows.append((row, message))
            times.append(arrival_time)
    return TimeColumn(pa.array(times, type=TIME_TYPE), tuple(bad_rows))
