"""Times and durations as people type them: ``now``, ``-7d``, ``2026-03-01``, ``1h30m``.

:func:`parse_time_expression` reads what a command line or a form takes for the ends of a time
range: ``now``, ``today`` and ``yesterday``; a duration relative to now (``-7d``, ``now-1h``,
``+30m``); a date without a time (midnight of that day) or a date and time without an offset, both
in the given time zone; RFC 3339 text with an offset; and epoch numbers in s/ms/us/ns.
:func:`parse_duration` reads ``90s``, ``15m``, ``1h30m``, ``7d``, ``2w`` (a bare number is
seconds). Every refusal is an :class:`InvalidTimeRangeError` naming the field and saying what is
accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from logsluice.domain.errors import InvalidTimeRangeError
from logsluice.domain.timerange import datetime_from_epoch

_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])", re.IGNORECASE)
_RELATIVE = re.compile(r"(?:now)?\s*([+-])\s*(\S+)", re.IGNORECASE)
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")
ACCEPTED_TIMES = (
    "now, today, yesterday, -7d / now-1h (s m h d w), a date 2026-03-01, "
    "2026-03-01T12:00 (both in the time zone), RFC 3339 2026-03-01T12:00:00Z, or epoch seconds"
)
ACCEPTED_DURATIONS = "a duration such as 90s, 15m, 1h30m, 7d or 2w"


def parse_duration(text: str, *, field_name: str = "duration") -> timedelta:
    """Return the duration ``text`` names (``90s``, ``15m``, ``1h30m``, ``7d``, ``2w``, ``300``).

    Raises InvalidTimeRangeError when it is not one, or not positive.
    """
    cleaned = text.strip().replace(" ", "")
    if _EPOCH.fullmatch(cleaned) and not cleaned.startswith("-"):
        duration = timedelta(seconds=float(cleaned))
    elif _DURATION.fullmatch(cleaned):
        duration = sum(
            (
                float(amount) * _UNITS[unit.lower()]
                for amount, unit in _DURATION_PART.findall(cleaned)
            ),
            timedelta(0),
        )
    else:
        raise _invalid(field_name, text, ACCEPTED_DURATIONS)
    if duration <= timedelta(0):
        raise _invalid(field_name, text, "a positive duration")
    return duration


def parse_time_expression(
    text: str, *, now: datetime, time_zone: tzinfo = UTC, field_name: str = "time"
) -> datetime:
    """Return the UTC instant ``text`` names, relative times counted from ``now``.

    Dates and times without an offset are read in ``time_zone``. Raises InvalidTimeRangeError
    naming ``field_name`` and the accepted forms.
    """
    cleaned = text.strip()
    lowered = cleaned.lower()
    if lowered == "now":
        return now.astimezone(UTC)
    if lowered in ("today", "yesterday"):
        today = now.astimezone(time_zone).date()
        day = today if lowered == "today" else today - timedelta(days=1)
        return _midnight(day, time_zone)
    relative = _RELATIVE.fullmatch(cleaned)
    if relative is not None and not _EPOCH.fullmatch(cleaned):
        sign, amount = relative.groups()
        try:
            offset = parse_duration(amount, field_name=field_name)
        except InvalidTimeRangeError as error:
            raise _invalid(field_name, text, ACCEPTED_TIMES) from error
        return (now + offset if sign == "+" else now - offset).astimezone(UTC)
    if _EPOCH.fullmatch(cleaned):
        return _from_epoch(cleaned, field_name)
    return _absolute(cleaned, time_zone, field_name)


def _absolute(text: str, time_zone: tzinfo, field_name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as error:
        raise _invalid(field_name, text, ACCEPTED_TIMES) from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=time_zone)
    return parsed.astimezone(UTC)


def _midnight(day: date, time_zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=time_zone).astimezone(UTC)


def _from_epoch(text: str, field_name: str) -> datetime:
    try:
        return datetime_from_epoch(float(text))
    except (ValueError, OverflowError) as error:
        raise _invalid(field_name, text, "an epoch time within the years 1 to 9999") from error


def _invalid(field_name: str, text: str, expected: str) -> InvalidTimeRangeError:
    return InvalidTimeRangeError(
        f"{field_name}: {text!r} is not {expected}", field=field_name, value=text
    )
