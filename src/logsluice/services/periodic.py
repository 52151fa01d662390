"""A job that calls one function at a fixed interval on a daemon thread, until stopped.

``serve`` uses it for retention; a failing run is logged and the next one still happens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import structlog


class PeriodicJob:
    """Runs ``action`` every ``interval``, the first time one interval after :meth:`start`."""

    def __init__(self, name: str, interval: timedelta, action: Callable[[], object]) -> None:
        self._name = name
        self._interval = interval
        self._action = action
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread; a no-op when it already runs."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop and wait for a run in progress to end."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def run_once(self) -> None:
        """Call the action now, logging (not raising) what it raises."""
        logger = structlog.get_logger().bind(job=self._name)
        try:
            outcome = self._action()
        except Exception:
            logger.exception("periodic_job.failed")
            return
        logger.debug("periodic_job.ran", outcome=repr(outcome))

    def _run(self) -> None:
        while not self._stopping.wait(self._interval.total_seconds()):
            self.run_once()
