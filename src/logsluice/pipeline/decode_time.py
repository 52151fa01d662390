"""Vectorized conversion of a record time column into ``timestamp[us, UTC]``.

Accepted, per value: RFC 3339 text (any offset, up to nanosecond fractions, ``T`` or space), text
without an offset (taken as UTC), and epoch numbers or numeric text in seconds, milliseconds,
microseconds or nanoseconds told apart by magnitude as ``domain.timerange.parse_time`` does. Whole
columns are cast by Arrow; only a column that no cast reads whole is walked value by value with
``parse_time``, which is also what names each unreadable value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from logsluice.domain.errors import InvalidTimeRangeError
from logsluice.domain.timerange import parse_time

TIME_TYPE = pa.timestamp("us", "UTC")
_NANOSECOND_TIME_TYPE = pa.timestamp("ns", "UTC")
_SECONDS_LIMIT, _MILLISECONDS_LIMIT, _MICROSECONDS_LIMIT = 1e11, 1e14, 1e17


@dataclass(frozen=True)
class TimeColumn:
    """Times as ``timestamp[us, UTC]`` (missing ones set to arrival time), and unreadable rows."""

    values: Any
    bad_rows: tuple[tuple[int, str], ...] = ()


def convert_times(
    column: Any, row_count: int, arrival_time: datetime, *, field_name: str
) -> TimeColumn:
    """Return the time column of ``row_count`` rows; ``column`` None means no record had a time.

    Null times become ``arrival_time``; unreadable ones are listed in ``bad_rows`` (0-based row,
    message) and also hold ``arrival_time`` so the caller can filter them out.
    """
    arrival = pa.scalar(arrival_time, type=TIME_TYPE)
    if column is None or pa.types.is_null(column.type):
        return TimeColumn(pa.repeat(arrival, row_count))
    converted = _vectorized(column)
    if converted is not None:
        return TimeColumn(pc.fill_null(converted, arrival))
    return _per_value(column, arrival_time, field_name)


def _vectorized(column: Any) -> Any:
    data_type = column.type
    if pa.types.is_timestamp(data_type):
        return _from_timestamps(column)
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return _from_epoch(column)
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return _from_text(column)
    return None


def _from_timestamps(column: Any) -> Any:
    if column.type.tz is None:
        micro = pc.cast(column, pa.timestamp("us"), safe=False)
        return pc.cast(pc.cast(micro, pa.int64()), TIME_TYPE)
    return pc.cast(column, TIME_TYPE, safe=False)


def _from_epoch(column: Any) -> Any:
    numbers = pc.cast(column, pa.float64()) if pa.types.is_floating(column.type) else column
    if not pa.types.is_floating(numbers.type):
        numbers = pc.cast(numbers, pa.int64())
    magnitude = pc.abs(numbers)
    # integer limits for integer columns: comparing with a float would convert past 2**53
    limit_type = float if pa.types.is_floating(numbers.type) else int
    seconds_limit, milliseconds_limit, microseconds_limit = (
        limit_type(limit) for limit in (_SECONDS_LIMIT, _MILLISECONDS_LIMIT, _MICROSECONDS_LIMIT)
    )
    micro = pc.if_else(
        pc.less(magnitude, seconds_limit),
        pc.multiply(numbers, 1_000_000),
        pc.if_else(
            pc.less(magnitude, milliseconds_limit),
            pc.multiply(numbers, 1_000),
            pc.if_else(
                pc.less(magnitude, microseconds_limit), numbers, _nanoseconds_to_micro(numbers)
            ),
        ),
    )
    if pa.types.is_floating(micro.type):
        micro = pc.cast(pc.round(micro), pa.int64())
    return pc.cast(micro, TIME_TYPE)


def _nanoseconds_to_micro(numbers: Any) -> Any:
    if pa.types.is_floating(numbers.type):
        return pc.divide(numbers, 1_000.0)
    return pc.divide(pc.add(numbers, 500), 1_000)


def _from_text(column: Any) -> Any:
    attempts = (_text_with_offset, _text_with_nanoseconds, _text_without_offset, _numeric_text)
    for attempt in attempts:
        try:
            return attempt(column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None


def _text_with_offset(column: Any) -> Any:
    return pc.cast(column, TIME_TYPE)


def _text_with_nanoseconds(column: Any) -> Any:
    return pc.cast(pc.cast(column, _NANOSECOND_TIME_TYPE), TIME_TYPE, safe=False)


def _text_without_offset(column: Any) -> Any:
    return _from_timestamps(pc.cast(column, pa.timestamp("us")))


def _numeric_text(column: Any) -> Any:
    return _from_epoch(pc.cast(column, pa.float64()))


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
