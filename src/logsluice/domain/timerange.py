"""A half-open UTC time range ``[start, end)`` and the parsing of times given as text or epochs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from logsluice.domain.errors import InvalidTimeRangeError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Thresholds that tell epoch seconds, milliseconds, microseconds and nanoseconds apart: any value
# above 1e11 seconds (year 5138) is taken as the next finer unit.
_UNIT_THRESHOLDS = ((1e11, 1), (1e14, 1_000), (1e17, 1_000_000))


@dataclass(frozen=True)
class TimeRange:
    """Records with ``start <= time < end``; both ends timezone-aware UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidTimeRangeError("time range ends must be timezone-aware")
        if self.start >= self.end:
            raise InvalidTimeRangeError(
                f"'from' ({self.start.isoformat()}) must be before 'to' ({self.end.isoformat()})",
                start=self.start.isoformat(),
                end=self.end.isoformat(),
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def datetime_from_epoch(value: float) -> datetime:
    """Read an epoch number in seconds, milliseconds, microseconds or nanoseconds (by magnitude)."""
    magnitude = abs(value)
    divisor = 1_000_000_000
    for threshold, unit in _UNIT_THRESHOLDS:
        if magnitude < threshold:
            divisor = unit
            break
    microseconds = round(value * 1_000_000 / divisor)
    return _EPOCH + timedelta(microseconds=microseconds)


def parse_time(value: object, *, field_name: str = "time") -> datetime:
    """Parse RFC 3339 text or an epoch number (s/ms/us/ns) into a UTC datetime.

    Raises InvalidTimeRangeError naming ``field_name`` when the value is neither.
    """
    if isinstance(value, bool):
        raise InvalidTimeRangeError(f"{field_name}: a boolean is not a time", field=field_name)
    if isinstance(value, int | float):
        return _parse_epoch(value, field_name)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        return _parse_time_text(value.strip(), field_name)
    raise InvalidTimeRangeError(
        f"{field_name}: expected RFC 3339 text or an epoch number", field=field_name
    )


def _parse_epoch(value: float, field_name: str) -> datetime:
    try:
        return datetime_from_epoch(value)
    except (ValueError, OverflowError) as error:  # NaN, infinity, beyond the years 1 to 9999
        raise InvalidTimeRangeError(
            f"{field_name}: {value!r} is not an epoch time within the years 1 to 9999",
            field=field_name,
            value=str(value),
        ) from error


def _parse_time_text(text: str, field_name: str) -> datetime:
    try:
        return datetime_from_epoch(float(text)) if _is_number(text) else _parse_rfc3339(text)
    except (ValueError, OverflowError) as error:
        raise InvalidTimeRangeError(
            f"{field_name}: {text!r} is not RFC 3339 (2026-03-01T00:00:00Z) nor an epoch number",
            field=field_name,
            value=text,
        ) from error


def _is_number(text: str) -> bool:
    return text.lstrip("-").replace(".", "", 1).isdigit()


def _parse_rfc3339(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("z", "Z"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
