"""Cancellation: how work that is blocked in an engine or a socket is told to stop at once.

Checking a flag between batches stops an export only when a batch comes; a ``| SQL`` aggregation,
a sort or a count produces nothing for minutes. So whoever runs such work registers, for as long as
it runs, a callback that interrupts it (DuckDB's ``connection.interrupt()``, shutting down the
socket of an HTTP stream); :meth:`Cancellation.cancel` calls every registered callback. ``cancel``
may be called again and again (the task heartbeat does, every beat, until the run ends): a callback
registered just as the work starts, when an interrupt may come too early to take, is called again.
The interrupted work then raises QueryCancelledError. This is the one mechanism for every kind of
task (ADR 0014).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress

from logsluice.domain.errors import QueryCancelledError


class Cancellation:
    """A one-way "stop" for one piece of work, with the interrupts of what it is blocked in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._interrupts: dict[int, Callable[[], None]] = {}
        self._numbers = itertools.count()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled

    def cancel(self) -> None:
        """Mark the work cancelled and call every registered interrupt (again, if called again)."""
        with self._lock:
            self._cancelled = True
            interrupts = list(self._interrupts.values())
        for interrupt in interrupts:
            with suppress(Exception):  # the work may have ended and closed what it interrupts
                interrupt()

    def check(self) -> None:
        """Raise QueryCancelledError when cancelled."""
        if self._cancelled:
            raise QueryCancelledError("the work was cancelled")

    @contextmanager
    def interrupting(self, interrupt: Callable[[], None]) -> Iterator[None]:
        """Let :meth:`cancel` call ``interrupt`` while the ``with`` block runs.

        Raises QueryCancelledError at once when already cancelled.
        """
        number = next(self._numbers)
        with self._lock:
            self._interrupts[number] = interrupt
        try:
            self.check()
            yield
        finally:
            with self._lock:
                self._interrupts.pop(number, None)


def interrupting(
    cancellation: Cancellation | None, interrupt: Callable[[], None]
) -> AbstractContextManager[None]:
    """Return ``cancellation.interrupting(interrupt)``, or a no-op without a cancellation."""
    return nullcontext() if cancellation is None else cancellation.interrupting(interrupt)
