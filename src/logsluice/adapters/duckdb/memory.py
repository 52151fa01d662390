"""DuckDB's memory limit as two levels: a small one most of the time, a larger one while sorting.

DuckDB's buffer pool keeps every table block a query or an export read, up to its memory limit, and
gives blocks back only under memory pressure, so a process with a 384 MiB limit grows by 384 MiB
of cached blocks during any large export, though a scan in storage order needs almost none of it.
Sorting a whole export slice (1 M rows) or rewriting a table sorted (compaction) does need working
memory, and spills to disk, 30 % to 2× slower, when it lacks it.

So the store runs at ``base_bytes`` (the cache limit) and raises the limit to ``peak_bytes`` only
while at least one such sort runs (:meth:`MemoryBudget.raised`, reference-counted across threads),
then lowers it again, which evicts cached blocks down to the base. Raising never fails. Lowering
can fail while queries hold more than the base pinned; the limit then stays raised until the next
sort ends and lowering is tried again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import structlog


class MemoryBudget:
    """Sets DuckDB's ``memory_limit`` to ``base_bytes``, or ``peak_bytes`` while a sort runs."""

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, base_bytes: int, peak_bytes: int
    ) -> None:
        self._connection = connection
        self._base_bytes = min(base_bytes, peak_bytes)
        self._peak_bytes = peak_bytes
        self._lock = threading.Lock()
        self._sorts = 0
        self._set(self._base_bytes)

    @property
    def two_levels(self) -> bool:
        return self._base_bytes < self._peak_bytes

    @contextmanager
    def raised(self) -> Iterator[None]:
        """Run the block with the limit at ``peak_bytes`` (no-op when both levels are equal)."""
        if not self.two_levels:
            yield
            return
        with self._lock:
            self._sorts += 1
            if self._sorts == 1:
                self._set(self._peak_bytes)
        try:
            yield
        finally:
            with self._lock:
                self._sorts -= 1
                if self._sorts == 0:
                    self._lower()

    def _lower(self) -> None:
        try:
            self._set(self._base_bytes)
        except duckdb.Error as error:  # queries hold more than the base: tried after the next sort
            structlog.get_logger().warning("duckdb.memory_limit_not_lowered", error=str(error))

    def _set(self, limit_bytes: int) -> None:
        cursor = self._connection.cursor()
        try:
            cursor.execute(f"SET GLOBAL memory_limit = '{int(limit_bytes)}B'")
        finally:
            cursor.close()
