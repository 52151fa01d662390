"""Reading a time-sorted export slice in pieces: several short sorts instead of one long one.

A slice read in time order (records not stored in time order, as on a DuckLake, or a descending
export) was one ``ORDER BY`` over the whole slice: DuckDB read and sorted all its rows (a million
by default) before the first batch came out, holding them all in memory while the encoder waited.
Instead the slice's range is cut, at the edges of a count of its records per bucket of time, into
pieces of at most ``PIECE_ROWS`` records (:func:`plan_pieces`), each read with its own
``ORDER BY`` and handed over in order (:class:`PieceReaders`); the next piece is opened, which
sorts it, on a helper thread while the current one streams. DuckDB then holds the rows of two
pieces at most, the encoder starts after the first piece's sort, and sorts of pieces that fit the
CPU caches cost less than one sort of the whole slice (``docs/benchmarks.md``, "The lake").
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta

import duckdb
import pyarrow as pa

from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.ports import HistogramBucket

PIECE_ROWS = 131_072
"""Most records one piece holds (a bucket holding more is a piece of its own)."""
PIECE_BUCKETS = 256
"""Buckets of time the slice's records are counted in to find where pieces end."""
INTERRUPT_REPEAT_SECONDS = 0.05
"""How often closing interrupts a piece still being opened ahead until it stops."""


def piece_bucket(time_range: TimeRange) -> timedelta:
    """Return the width of the buckets a slice's records are counted in (at least 1 µs)."""
    return max(timedelta(microseconds=1), (time_range.end - time_range.start) / PIECE_BUCKETS)


def plan_pieces(
    time_range: TimeRange, buckets: Sequence[HistogramBucket], order: Order
) -> list[TimeRange]:
    """Return ``time_range`` cut at bucket starts into pieces of at most ``PIECE_ROWS`` records,
    in the order they are read (newest first for ``Order.DESC``). ``buckets`` are the range's
    record counts, oldest first; one piece when the range holds no more than ``PIECE_ROWS``."""
    cuts = [time_range.start]
    rows = 0
    for bucket in buckets:
        fits = rows + bucket.count <= PIECE_ROWS
        if rows and not fits and time_range.start < bucket.start < time_range.end:
            cuts.append(bucket.start)
            rows = 0
        rows += bucket.count
    cuts.append(time_range.end)
    pieces = [TimeRange(start, end) for start, end in itertools.pairwise(cuts)]
    return pieces[::-1] if order is Order.DESC else pieces


@dataclass(frozen=True)
class _OpenPiece:
    cursor: duckdb.DuckDBPyConnection
    reader: pa.RecordBatchReader


class PieceReaders:
    """The batches of several statements, one after another, each run on a fresh cursor; the
    next statement is opened (its sort run) on a helper thread while the current one streams.

    :meth:`open` opens the first piece in the caller's thread, so its errors are raised there;
    :meth:`interrupt` stops whatever runs (timeout, cancel) and every piece opened afterwards;
    :meth:`close` stops the helper and closes every cursor.
    """

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, statements: Sequence[str], batch_rows: int
    ) -> None:
        self._connection = connection
        self._statements = list(statements)
        self._batch_rows = batch_rows
        self._lock = threading.Lock()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._interrupted = False
        self._helper = ThreadPoolExecutor(1, thread_name_prefix="logsluice-sort-ahead")
        self._ahead: deque[Future[_OpenPiece]] = deque()
        self._first: _OpenPiece | None = None

    def open(self) -> pa.Schema:
        """Open the first piece and start opening the second; return the batches' schema."""
        self._first = self._open(self._statements[0])
        self._open_ahead(1)
        return self._first.reader.schema

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield every piece's batches in order (after :meth:`open`)."""
        piece, self._first = self._first, None
        following = 2  # the piece opened once the one after the current is taken
        while piece is not None:
            for batch in piece.reader:
                self._check_interrupted()  # a piece read ahead may have finished before it
                yield batch
            self._close_cursor(piece.cursor)
            piece = self._ahead.popleft().result() if self._ahead else None
            self._open_ahead(following)
            following += 1

    def interrupt(self) -> None:
        """Interrupt the running statements; pieces opened later fail as interrupted too."""
        with self._lock:
            self._interrupted = True
            for cursor in self._cursors:
                cursor.interrupt()

    def close(self) -> None:
        """Stop the helper (interrupting a sort it runs) and close every cursor."""
        while not all(future.done() for future in self._ahead):
            self.interrupt()  # again: one sent before its statement started was lost
            wait(self._ahead, timeout=INTERRUPT_REPEAT_SECONDS)
        self._helper.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            cursors, self._cursors = self._cursors, []
            for cursor in cursors:
                cursor.close()
        self._ahead.clear()
        self._first = None

    def _open_ahead(self, index: int) -> None:
        if index < len(self._statements):
            self._ahead.append(self._helper.submit(self._open, self._statements[index]))

    def _check_interrupted(self) -> None:
        if self._interrupted:
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    def _open(self, statement: str) -> _OpenPiece:
        cursor = self._connection.cursor()
        with self._lock:
            if self._interrupted:
                cursor.close()
            self._check_interrupted()
            self._cursors.append(cursor)
        try:
            return _OpenPiece(cursor, cursor.sql(statement).to_arrow_reader(self._batch_rows))
        except BaseException:
            self._close_cursor(cursor)
            raise

    def _close_cursor(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            if cursor in self._cursors:
                self._cursors.remove(cursor)
                cursor.close()
