"""The real clock: the one implementation of the ``Clock`` port outside tests."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Reads the system's wall clock, always as timezone-aware UTC."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        return datetime.now(UTC)
