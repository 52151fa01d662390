"""Per-logstore read/write locks: appends share a logstore, schema changes and drops own it.

DuckDB aborts an append whose transaction overlaps an ``ALTER TABLE`` of the same table, so schema
changes wait for running appends to finish and hold new ones back (writers are preferred, so a
stream of appends cannot starve a schema change). Queries take no lock: DuckDB's MVCC serves them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReadWriteLock:
    """Many holders in shared mode, or one in exclusive mode; waiting writers go first."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the lock in shared mode for the ``with`` block."""
        with self._condition:
            self._condition.wait_for(lambda: not self._writer and self._writers_waiting == 0)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lock alone for the ``with`` block."""
        with self._condition:
            self._writers_waiting += 1
            self._condition.wait_for(lambda: not self._writer and self._readers == 0)
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._condition:
                self._writer = False
                self._condition.notify_all()


class LogstoreLocks:
    """One :class:`ReadWriteLock` per (project, logstore), made on first use."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], ReadWriteLock] = {}

    def get(self, project: str, logstore: str) -> ReadWriteLock:
        """Return the lock of one logstore."""
        with self._guard:
            return self._locks.setdefault((project, logstore), ReadWriteLock())
