"""Times and durations as people type them (domain.time_expressions), and the CLI's options."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logsluice.cli.time_options import resolve_range
from logsluice.domain.errors import InvalidTimeRangeError
from logsluice.domain.time_expressions import parse_duration, parse_time_expression

NOW = datetime(2026, 11, 6, 0, 4, 20, tzinfo=UTC)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("-7d", NOW - timedelta(days=7)),
        ("now-1h", NOW - timedelta(hours=1)),
        ("now - 90m", NOW - timedelta(minutes=90)),
        ("-1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("+10m", NOW + timedelta(minutes=10)),
        ("-2w", NOW - timedelta(weeks=2)),
        ("today", datetime(2026, 11, 6, tzinfo=UTC)),
        ("yesterday", datetime(2026, 11, 5, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T12:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01 12:00:30", datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)),
        ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T20:00:00+08:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("1772323200", datetime(2026, 3, 1, tzinfo=UTC)),
        ("1772323200000", datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_time_expressions_in_utc(text: str, expected: datetime) -> None:
    assert parse_time_expression(text, now=NOW) == expected


def test_dates_and_local_times_are_read_in_the_time_zone() -> None:
    assert parse_time_expression("2026-03-01", now=NOW, time_zone=BERLIN) == datetime(
        2026, 2, 28, 23, tzinfo=UTC
    )
    assert parse_time_expression("2026-07-01T12:00", now=NOW, time_zone=BERLIN) == datetime(
        2026, 7, 1, 10, tzinfo=UTC
    )
    assert parse_time_expression("today", now=NOW, time_zone=BERLIN) == datetime(
        2026, 11, 5, 23, tzinfo=UTC
    )
    # an explicit offset wins over the zone
    assert parse_time_expression("2026-03-01T00:00:00Z", now=NOW, time_zone=BERLIN) == datetime(
        2026, 3, 1, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["-7x", "7 days ago", "2026-13-01", "", "now-", "soon"])
def test_what_is_not_a_time_is_refused_saying_what_is(text: str) -> None:
    with pytest.raises(InvalidTimeRangeError) as raised:
        parse_time_expression(text, now=NOW, field_name="--from")
    assert raised.value.message.startswith("--from:")
    assert "-7d" in raised.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1.5h", timedelta(minutes=90)),
        ("300", timedelta(seconds=300)),
        ("1H", timedelta(hours=1)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0s", "-5m", "5 minutes", "m", "1y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidTimeRangeError):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10_000), st.sampled_from("smhdw"))
def test_relative_times_count_back_from_now(amount: int, unit: str) -> None:
    expected = NOW - amount * {"s": timedelta(seconds=1), "m": timedelta(minutes=1),
                               "h": timedelta(hours=1), "d": timedelta(days=1),
                               "w": timedelta(weeks=1)}[unit]  # fmt: skip
    assert parse_time_expression(f"-{amount}{unit}", now=NOW) == expected


def test_since_and_from_exclude_each_other() -> None:
    with pytest.raises(click.UsageError):
        resolve_range("-1d", None, "1h", UTC)
    start, end = resolve_range(None, "now", "1h", UTC)
    assert start is not None
    assert end is not None
    assert end - start == pytest.approx(timedelta(hours=1), abs=timedelta(seconds=5))
