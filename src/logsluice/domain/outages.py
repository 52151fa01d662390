"""How long work waits out an outage of a store, and how often it tries again meanwhile.

A transient error (:class:`~logsluice.domain.errors.StorageUnavailableError`: a store that cannot
be reached or says "try again") delays a download task instead of failing it. The work is tried
again after a delay as long as the outage has lasted so far (at least ``first_delay``, at most
``longest_delay``), so the delays double: 1 s, 1 s, 2 s, 4 s, … 60 s. Once the outage has lasted
``window`` the task fails with the last error. Any other error is no outage: it is counted
against the work's attempts as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from logsluice.domain.errors import StorageUnavailableError


def is_transient(error: BaseException) -> bool:
    """Tell whether ``error`` says a store is down for now (worth waiting for, not a failure)."""
    return isinstance(error, StorageUnavailableError)


def store_of(error: BaseException) -> str:
    """Return the name of the store a transient error is about ('a store' when unnamed)."""
    details = getattr(error, "details", None) or {}
    return str(details.get("store") or "a store")


@dataclass(frozen=True)
class OutagePolicy:
    """How long an outage is waited out (``window``) and the bounds of the delay between tries."""

    window: timedelta = timedelta(minutes=30)
    first_delay: timedelta = timedelta(seconds=1)
    longest_delay: timedelta = timedelta(seconds=60)

    def delay(self, since: datetime, now: datetime) -> timedelta:
        """Return the wait before the next try of an outage that began at ``since``."""
        lasted = max(now - since, timedelta(0))
        return min(max(lasted, self.first_delay), self.longest_delay)

    def is_over(self, since: datetime, now: datetime) -> bool:
        """Tell whether an outage that began at ``since`` has been waited out long enough."""
        return now - since >= self.window

    def give_up_message(self, error: BaseException, since: datetime, now: datetime) -> str:
        """Return the message of the failure that ends a wait: the store, how long, the error."""
        minutes = (now - since).total_seconds() / 60
        return (
            f"{store_of(error)} stayed unavailable for {minutes:.1f} min "
            f"(LOGSLUICE_OUTAGE_RETRY_WINDOW): {error}"
        )
