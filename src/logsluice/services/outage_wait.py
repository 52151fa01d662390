"""Waiting out a store's outage in place, for work that holds a lease while it waits.

Planning a task's slices and completing its artifact hold the task's lease (its heartbeat keeps
renewing it), and recording a finished slice holds that slice's part: such work is tried again
where it is, after the delays of the runner's :class:`~logsluice.domain.outages.OutagePolicy`,
instead of being given back. The wait ends early when the work must stop (a cancel, the worker
stopping, the lease lost), and for good once the outage has lasted the policy's window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from logsluice.domain.errors import StorageUnavailableError
from logsluice.domain.outages import OutagePolicy, store_of
from logsluice.ports import Clock

_POLL_SECONDS = 0.2


class OutageWait:
    """One piece of work's wait for a store: since when, and how long until the next try."""

    def __init__(
        self,
        policy: OutagePolicy,
        clock: Clock,
        *,
        should_stop: Callable[[], bool],
        stopping: threading.Event,
        logger: Any,
        on_wait: Callable[[str], object] = lambda message: None,
    ) -> None:
        """``should_stop`` says the work must stop now; ``stopping`` is set when the worker
        stops (it wakes the wait); ``on_wait`` is told what the work waits for at each try."""
        self._policy = policy
        self._clock = clock
        self._should_stop = should_stop
        self._stopping = stopping
        self._logger = logger
        self._on_wait = on_wait
        self.since: datetime | None = None

    def wait_after(self, error: Exception) -> None:
        """Wait before the next try after the transient ``error``.

        Returns when the work should try again (or must stop: the caller checks). Raises
        StorageUnavailableError naming the store once the outage has lasted the window.
        """
        now = self._clock.now()
        since = self.since = self.since or now
        store = store_of(error)
        if self._policy.is_over(since, now):
            message = self._policy.give_up_message(error, since, now)
            raise StorageUnavailableError(message, store=store) from error
        delay = self._policy.delay(since, now)
        self._logger.warning(
            "task.waits_for_store",
            store=store,
            outage_seconds=round((now - since).total_seconds(), 1),
            retry_in_seconds=delay.total_seconds(),
            error=str(error),
        )
        self._on_wait(f"waiting for {store} (since {since:%H:%M:%S} UTC): {error}")
        self._sleep(delay.total_seconds())

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds  # the wall clock's wait, whatever the task clock
        while not self._should_stop():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._stopping.wait(min(remaining, _POLL_SECONDS))
