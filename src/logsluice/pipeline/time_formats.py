"""Record times written as text in the common log formats, read a column at a time.

Each format is a regular expression that recognises its values and an Arrow conversion of the
values it recognised; a column holding several formats is read format by format and the results
combined, so mixed files cost a few vectorized passes, never a Python loop per value. The formats:

* RFC 3339 / ISO 8601 with an offset (``2026-11-06T00:04:20.5Z``, ``… 00:04:20+08:00``, ``+0800``,
  ``+08``); a comma may stand for the decimal point (``00:04:20,123``, Python's logging);
* the same without an offset, or a date alone: taken as UTC;
* epoch numbers as text, in s/ms/us/ns by magnitude (``domain.timerange``);
* nginx/Apache common log time ``06/Nov/2026:00:04:20 +0000`` (brackets allowed; no offset: UTC);
* syslog (RFC 3164) ``Nov  6 00:04:20``, which has no year nor zone: UTC, in the year of the
  record's arrival, or the year before when that would put it more than a day after its arrival
  (a December record read in January).

:func:`read_with_format` reads a caller's strptime format instead (``--time-format``): ``%z`` for
an offset (else UTC), ``%f`` for a fraction right after ``%S``; a format without a year takes the
syslog rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from logsluice.domain.errors import InvalidTimeRangeError
from logsluice.domain.timerange import parse_time

TIME_TYPE = pa.timestamp("us", "UTC")
_NAIVE_TYPE = pa.timestamp("us")
_FUTURE_TOLERANCE = timedelta(days=1)
_FRACTION_AFTER_SECONDS = r"(?P<seconds>\d\d)[.,](?P<fraction>\d{1,9})"
# Epoch magnitudes above which a number is the next finer unit (as domain.timerange decides).
_SECONDS_LIMIT, _MILLISECONDS_LIMIT, _MICROSECONDS_LIMIT = 1e11, 1e14, 1e17


def _as_utc(naive: Any) -> Any:
    return pc.cast(pc.cast(naive, pa.int64()), TIME_TYPE)


def _iso_with_offset(values: Any, arrival: datetime) -> Any:
    text = pc.replace_substring_regex(values, r"(\d\d:\d\d:\d\d),", r"\1.")
    text = pc.replace_substring_regex(text, r"(\.\d{6})\d+", r"\1")
    text = pc.replace_substring_regex(text, r"[zZ]$", "+00:00")
    text = pc.replace_substring_regex(text, r"([+-]\d\d)$", r"\1:00")
    text = pc.replace_substring_regex(text, r"^(\d{4}-\d\d-\d\d)[tT ]", r"\1T")
    return pc.cast(text, TIME_TYPE)


def _iso_without_offset(values: Any, arrival: datetime) -> Any:
    text = pc.replace_substring_regex(values, r"(\d\d:\d\d:\d\d),", r"\1.")
    text = pc.replace_substring_regex(text, r"(\.\d{6})\d+", r"\1")
    return _as_utc(pc.cast(text, _NAIVE_TYPE))


def epoch_to_times(column: Any) -> Any:
    """Return epoch numbers in s/ms/us/ns (told apart by magnitude) as ``timestamp[us, UTC]``."""
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


def _epoch_text(values: Any, arrival: datetime) -> Any:
    return epoch_to_times(pc.cast(values, pa.float64()))


def _common_log(values: Any, arrival: datetime) -> Any:
    text = pc.replace_substring_regex(values, r"^\[|\]$", "")
    text = pc.replace_substring_regex(text, r"(:\d\d)$", r"\1 +0000")
    parsed = pc.strptime(text, format="%d/%b/%Y:%H:%M:%S %z", unit="us", error_is_null=True)
    return pc.cast(parsed, TIME_TYPE)


def _syslog(values: Any, arrival: datetime) -> Any:
    text = pc.replace_substring_regex(values, " +", " ")
    return _with_guessed_year(text, "%b %d %H:%M:%S", arrival)


def _with_guessed_year(text: Any, time_format: str, arrival: datetime) -> Any:
    """Times without a year: the arrival's year, or the one before if that is in the future."""

    def in_year(year: int) -> Any:
        prefixed = pc.binary_join_element_wise(str(year), text, " ")
        parsed = pc.strptime(prefixed, format=f"%Y {time_format}", unit="us", error_is_null=True)
        return _as_utc(parsed) if parsed.type.tz is None else pc.cast(parsed, TIME_TYPE)

    this_year, last_year = in_year(arrival.year), in_year(arrival.year - 1)
    latest = pa.scalar(arrival + _FUTURE_TOLERANCE, type=TIME_TYPE)
    return pc.if_else(pc.greater(this_year, latest), last_year, this_year)


@dataclass(frozen=True)
class _Format:
    pattern: str
    convert: Callable[[Any, datetime], Any]


FORMATS = (
    _Format(
        r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d([.,]\d{1,9})?)?([zZ]|[+-]\d\d(:?\d\d)?)$",
        _iso_with_offset,
    ),
    _Format(r"^\d{4}-\d\d-\d\d([Tt ]\d\d:\d\d(:\d\d([.,]\d{1,9})?)?)?$", _iso_without_offset),
    _Format(r"^[+-]?\d+(\.\d+)?$", _epoch_text),
    _Format(r"^\[?\d{1,2}/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d( [+-]\d{4})?\]?$", _common_log),
    _Format(r"^[A-Za-z]{3} +\d{1,2} \d\d:\d\d:\d\d$", _syslog),
)
ACCEPTED = (
    "RFC 3339 (2026-11-06T00:04:20Z), ISO 8601 without offset (UTC), epoch s/ms/us/ns, "
    "nginx/Apache 06/Nov/2026:00:04:20 +0000, syslog Nov  6 00:04:20"
)


def read_text_times(column: Any, arrival: datetime) -> Any:
    """Return the times of a text column as ``timestamp[us, UTC]``; null where the value is null
    or no format reads it."""
    text = pc.utf8_trim_whitespace(_plain_strings(column))
    result = pa.nulls(len(text), TIME_TYPE)
    for known in FORMATS:
        recognised = pc.and_kleene(
            pc.is_null(result), pc.match_substring_regex(text, known.pattern)
        )
        if not pc.any(recognised).as_py():
            continue
        values = pc.if_else(recognised, text, pa.nulls(len(text), pa.string()))
        try:
            converted = known.convert(values, arrival)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # a value the pattern let through that Arrow cannot read (month 13) fails the whole
            # cast: read this format's values one by one instead (rare: malformed input only)
            converted = _one_by_one(values)
        result = pc.coalesce(result, converted)
    return result


def _one_by_one(values: Any) -> Any:
    times: list[datetime | None] = []
    for value in values.to_pylist():
        try:
            times.append(None if value is None else parse_time(value))
        except (InvalidTimeRangeError, ValueError, OverflowError):
            times.append(None)
    return pa.array(times, type=TIME_TYPE)


def read_with_format(column: Any, time_format: str, arrival: datetime) -> Any:
    """Return the times of a text column read with ``time_format`` (strptime, see the module);
    null where the value is null or does not match."""
    text = pc.utf8_trim_whitespace(_plain_strings(column))
    if "%f" not in time_format:
        return _strptime(text, time_format, arrival)
    before, _, after = time_format.partition("%f")
    if not before.endswith(("%S.", "%S,")):
        raise ValueError("%f is read only right after %S. or %S,")
    fraction = pc.extract_regex(text, f".*{_FRACTION_AFTER_SECONDS}")
    digits = pc.struct_field(fraction, "fraction")
    whole = pc.replace_substring_regex(text, _FRACTION_AFTER_SECONDS, r"\1", max_replacements=1)
    seconds = _strptime(whole, before[:-1] + after, arrival)
    padded = pc.utf8_slice_codeunits(pc.utf8_rpad(digits, 6, "0"), 0, 6)
    microseconds = pc.cast(pc.cast(padded, pa.int64()), pa.duration("us"))
    return pc.cast(pc.add(seconds, microseconds), TIME_TYPE)


def _strptime(text: Any, time_format: str, arrival: datetime) -> Any:
    if "%Y" not in time_format and "%y" not in time_format:
        return _with_guessed_year(text, time_format, arrival)
    parsed = pc.strptime(text, format=time_format, unit="us", error_is_null=True)
    return _as_utc(parsed) if parsed.type.tz is None else pc.cast(parsed, TIME_TYPE)


def _plain_strings(column: Any) -> Any:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return pc.cast(column, pa.string())
