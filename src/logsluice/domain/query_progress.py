"""How far an engine is with a running query, for another thread to read.

A ``| SQL`` export is one slice that writes nothing until its aggregation is done, so the rows
written say nothing for minutes. The caller passes a :class:`QueryProgress` with the query; a log
store that can tell (DuckDB's ``query_progress()``) connects a probe while the query runs, and the
task's heartbeat reads :meth:`QueryProgress.percent`. A store that cannot tell leaves it unknown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class QueryProgress:
    """The engine's percent done of one query (None while unknown); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._probe: Callable[[], float | None] | None = None
        self._last: float | None = None

    @contextmanager
    def probing(self, probe: Callable[[], float | None]) -> Iterator[None]:
        """Let :meth:`percent` ask ``probe`` while the ``with`` block runs (the query)."""
        with self._lock:
            self._probe = probe
        try:
            yield
        finally:
            with self._lock:
                self._probe = None

    def percent(self) -> float | None:
        """Return the engine's percent done, 0–100, never lower than a value read before; None
        while the engine has not said."""
        with self._lock:
            probe = self._probe
        reading = probe() if probe is not None else None
        with self._lock:
            if reading is not None and 0 <= reading <= 100:
                self._last = max(reading, self._last or 0.0)
            return self._last
