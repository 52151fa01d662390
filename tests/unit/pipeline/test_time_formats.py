"""Record times in the common log formats, read a column at a time (pipeline.time_formats)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logsluice.domain.errors import InvalidInputError
from logsluice.pipeline.decode_time import convert_times

ARRIVAL = datetime(2026, 11, 7, 12, tzinfo=UTC)
MOMENT = datetime(2026, 11, 6, 0, 4, 20, tzinfo=UTC)


def _read(values: list[object], time_format: str | None = None) -> tuple[list[datetime], list[int]]:
    column = pa.array(values)
    read = convert_times(
        column, len(column), ARRIVAL, field_name="timestamp", time_format=time_format
    )
    return read.values.to_pylist(), [row for row, _ in read.bad_rows]


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-06T00:04:20Z",
        "2026-11-06t00:04:20z",
        "2026-11-06 00:04:20+00:00",
        "2026-11-06T08:04:20+08:00",
        "2026-11-06T08:04:20+0800",
        "2026-11-06T08:04:20+08",
        "2026-11-06T00:04:20",
        "2026-11-06 00:04:20",
        "06/Nov/2026:00:04:20 +0000",
        "[06/Nov/2026:01:04:20 +0100]",
        "06/Nov/2026:00:04:20",
        "1793923460",
        "1793923460000",
        "1793923460000000",
        "1793923460000000000",
        "  2026-11-06T00:04:20Z  ",
    ],
)
def test_each_common_format_alone(text: str) -> None:
    times, bad = _read([text])
    assert (times, bad) == ([MOMENT], [])


def test_fractions_with_a_point_or_a_comma() -> None:
    times, _ = _read(["2026-11-06 00:04:20,123", "2026-11-06T00:04:20.123456789Z"])
    assert times == [MOMENT + timedelta(milliseconds=123), MOMENT + timedelta(microseconds=123456)]


def test_a_date_alone_is_midnight_utc() -> None:
    assert _read(["2026-11-06"])[0] == [datetime(2026, 11, 6, tzinfo=UTC)]


def test_syslog_times_take_the_arrival_year_or_the_year_before() -> None:
    times, bad = _read(["Nov  6 00:04:20", "Nov 16 00:04:20", "Dec 31 23:59:59"])
    assert bad == []
    assert times == [
        MOMENT,
        datetime(2025, 11, 16, 0, 4, 20, tzinfo=UTC),  # ten days after arrival: last year's
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]


def test_one_column_may_mix_formats_and_names_only_what_no_format_reads() -> None:
    values = ["06/Nov/2026:00:04:20 +0000", "2026-11-06T00:04:20Z", "Nov  6 00:04:20",
              "1793923460", "yesterday-ish", None, "2026-13-40T00:00:00Z"]  # fmt: skip
    times, bad = _read(values)
    assert times[:4] == [MOMENT] * 4
    assert times[5] == ARRIVAL  # no time: the arrival time
    assert bad == [4, 6]


def test_an_explicit_strptime_format() -> None:
    times, bad = _read(["06.11.2026 01:04:20 +0100", "not it"], "%d.%m.%Y %H:%M:%S %z")
    assert (times[0], bad) == (MOMENT, [1])
    times, bad = _read(["2026/11/06 00:04:20.25"], "%Y/%m/%d %H:%M:%S.%f")
    assert (times, bad) == ([MOMENT + timedelta(milliseconds=250)], [])


def test_a_format_that_cannot_be_used_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="time_format"):
        _read(["2026-11-06 00:04:20"], "%Y-%m-%d %H:%f")


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_nginx_and_rfc3339_agree(moment: datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    nginx = moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
    times, bad = _read([nginx, moment.isoformat()])
    assert (times, bad) == ([moment, moment], [])
