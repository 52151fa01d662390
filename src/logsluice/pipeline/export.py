"""The export driver: slices → record batches → encoder → compressor → artifact writer.

``export_slices`` runs a download task's slices in output order, ends a compressed frame and takes a
checkpoint after each slice, honours a row ``limit`` (cutting mid-slice and reporting truncation),
stops between batches when ``should_stop`` says so, and resumes after a given checkpoint. Memory is
bounded by the batches in flight: nothing accumulates across batches but counters and, for Parquet,
the slice footers.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from logsluice.pipeline.artifact_writer import ArtifactSummary, ArtifactWriter, WriterCheckpoint
from logsluice.pipeline.protocols import ArtifactStore, Chunk, Compressor, Encoder
from logsluice.pipeline.slices import Slice

if TYPE_CHECKING:
    import pyarrow as pa

OpenReader = Callable[[Slice], "pa.RecordBatchReader"]


class ExportOutcome(enum.StrEnum):
    """How a run ended: every slice written, cut at the limit, or stopped on request."""

    COMPLETE = "complete"
    TRUNCATED = "truncated"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SliceResult:
    """A finished slice: its rows and its byte range ``[start_offset_bytes, end_offset_bytes)``.

    ``checkpoint`` is where a resumed run continues (the artifact size and total rows after it).
    """

    slice: Slice
    rows: int
    start_offset_bytes: int
    checkpoint: WriterCheckpoint

    @property
    def end_offset_bytes(self) -> int:
        return self.checkpoint.offset_bytes


@dataclass(frozen=True)
class ResumePoint:
    """Continue at ``slices[next_position]`` after the artifact's checkpoint."""

    next_position: int
    checkpoint: WriterCheckpoint


@dataclass(frozen=True)
class ExportResult:
    """What a run did: its outcome, the slices it finished, and the published artifact (if any)."""

    outcome: ExportOutcome
    rows: int
    slices: list[SliceResult] = field(default_factory=list)
    artifact: ArtifactSummary | None = None


class CountingWriter(Protocol):
    """What the output thread writes into: an artifact writer, or a part that counts its bytes."""

    @property
    def offset_bytes(self) -> int: ...

    def write(self, data: Chunk, rows: int = 0) -> None: ...


class Output:
    """Compresses, hashes and writes on one background thread, so encoding overlaps it.

    At most ``depth`` chunks wait; ``drain`` waits for all of them (before a checkpoint) and
    re-raises the first error of the thread. ``on_written`` hears the artifact's size after each
    write, so progress shows bytes between checkpoints too.
    """

    def __init__(
        self,
        compressor: Compressor,
        writer: CountingWriter,
        on_written: Callable[[int], None],
        depth: int = 4,
    ) -> None:
        self._compressor = compressor
        self._writer = writer
        self._on_written = on_written
        self._depth = depth
        self._pending: deque[Future[None]] = deque()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logsluice-output")

    def write(self, data: Chunk, rows: int = 0) -> None:
        if len(data) or rows:
            self._submit(self._write, data, rows)

    def end_frame(self) -> None:
        self._submit(self._end_frame)

    def drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _submit(self, work: Callable[..., None], *arguments: object) -> None:
        if len(self._pending) >= self._depth:
            self._pending.popleft().result()
        self._pending.append(self._executor.submit(work, *arguments))

    def _write(self, data: Chunk, rows: int) -> None:
        self._writer.write(self._compressor.compress(data) if len(data) else b"", rows)
        self._on_written(self._writer.offset_bytes)

    def _end_frame(self) -> None:
        self._writer.write(self._compressor.end_frame())
        self._on_written(self._writer.offset_bytes)


class OutputSink(Protocol):
    """Where a run's encoded bytes go: compressed and written (an artifact or a part)."""

    def write(self, data: Chunk, rows: int = 0) -> None: ...

    def end_frame(self) -> None: ...


@dataclass
class ExportRun:
    """The state of one export run: its encoder and output, the row limit, the rows so far."""

    encoder: Encoder
    output: OutputSink
    should_stop: Callable[[], bool]
    limit: int | None
    rows: int
    began: bool = False

    def emit(self, data: Chunk, rows: int = 0) -> None:
        self.output.write(data, rows)
        self.rows += rows

    def end_frame(self, data: Chunk) -> None:
        self.emit(data)
        self.output.end_frame()

    def rows_left(self) -> int | None:
        return None if self.limit is None else self.limit - self.rows


def _non_empty_batches(reader: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    return (batch for batch in reader if batch.num_rows)


_END = object()


class ReadAhead:
    """Reads one slice's batches on its own thread, up to ``depth`` batches ahead of the encoder.

    The next slice's read-ahead starts as soon as the current slice's batches are all read, so the
    log store already works on it while the current slice is finished (its last parts encoded, its
    bytes made durable, its checkpoint taken). Errors of the reader are raised to the consumer at
    the point they happened. ``close`` stops the thread between batches and closes the reader.
    ``on_read``, when given, is called on the thread once every batch is read without error (a
    worker then claims its next slice, whose reading overlaps this one's last encoding).
    """

    def __init__(
        self,
        open_reader: OpenReader,
        item: Slice,
        depth: int = 4,
        *,
        on_read: Callable[[], None] | None = None,
    ) -> None:
        self._open_reader = open_reader
        self._item = item
        self._on_read = on_read
        self._batches: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._opened = threading.Event()
        self._closed = threading.Event()
        self._schema: pa.Schema | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, name="logsluice-read-ahead", daemon=True)
        self._thread.start()

    @property
    def schema(self) -> pa.Schema:
        self._opened.wait()
        if self._schema is None:
            raise self._error or RuntimeError("the slice's reader did not open")
        return self._schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            batch = self._batches.get()
            if batch is _END:
                if self._error is not None:
                    raise self._handed_over_error()
                return
            yield batch

    def close(self) -> None:
        self._closed.set()
        self._thread.join()

    def _handed_over_error(self) -> BaseException:
        """Return the reader's error, no longer kept here: kept, the error's traceback (whose
        frames hold the slice's reader and this object) would form a cycle that leaves the
        reader, an engine query holding its memory, open until the next garbage collection."""
        error, self._error = self._error, None
        if error is None:
            raise RuntimeError("the slice's reader has no error to hand over")
        return error

    def _read(self) -> None:
        try:
            with self._open_reader(self._item) as reader:
                self._schema = reader.schema
                self._opened.set()
                for batch in reader:
                    if not self._put(batch):
                        return
            if self._on_read is not None:  # the reader is closed: its query ended
                self._on_read()
        except Exception as error:  # noqa: BLE001 - handed to the consumer, which raises it
            self._error = error
        except BaseException as error:
            self._error = error
            raise
        finally:
            self._opened.set()
            self._put(_END)

    def _put(self, item: object) -> bool:
        while not self._closed.is_set():
            try:
                self._batches.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False


ENCODING_THREADS = 2


class EncodeAhead:
    """Encodes a slice's batches and emits them in order, a few batches ahead on worker threads.

    Encoding overlaps the log store producing the next batches, so the two cores stay busy. An
    encoder whose batches are independent (CSV, JSON Lines) encodes on ``ENCODING_THREADS``
    threads; a stateful one (Parquet) on a single thread, which keeps its calls in order. Memory
    grows only by the few batches in flight.
    """

    def __init__(self, run: ExportRun) -> None:
        self._run = run
        self._threads = ENCODING_THREADS if run.encoder.independent_batches else 1
        self._executor = ThreadPoolExecutor(self._threads)
        self._pending: deque[tuple[Future[Chunk], int]] = deque()

    def rows_left(self) -> int | None:
        left = self._run.rows_left()
        return None if left is None else left - sum(rows for _, rows in self._pending)

    def submit(self, batch: pa.RecordBatch) -> None:
        if len(self._pending) > self._threads:
            self._emit_oldest()
        future = self._executor.submit(self._run.encoder.encode, batch)
        self._pending.append((future, batch.num_rows))

    def flush(self) -> None:
        while self._pending:
            self._emit_oldest()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _emit_oldest(self) -> None:
        future, rows = self._pending.popleft()
        self._run.emit(future.result(), rows)


def _write_slice(run: ExportRun, reader: ReadAhead) -> bool | None:
    """Write the slice's batches; return True if the limit cut rows off, None if stopped.

    If the reader or the encoder fails, batches encoded but not yet written are dropped: the run
    resumes from its last checkpoint anyway.
    """
    if not run.began:
        run.emit(run.encoder.begin(reader.schema))
        run.began = True
    encoding = EncodeAhead(run)
    try:
        cut = encode_batches(run, encoding, reader)
        encoding.flush()
        return cut
    finally:
        encoding.close()


def encode_batches(
    run: ExportRun, encoding: EncodeAhead, reader: Iterable[pa.RecordBatch]
) -> bool | None:
    """Submit the batches for encoding up to the run's limit; True if the limit cut rows off,
    None if the run must stop."""
    for batch in _non_empty_batches(reader):
        if run.should_stop():
            return None
        left = encoding.rows_left()
        if left is not None and left <= 0:
            return True
        if left is not None and batch.num_rows > left:
            encoding.submit(batch.slice(0, left))
            return True
        encoding.submit(batch)
    return False


def _more_rows_in(slices: Sequence[Slice], open_reader: OpenReader) -> bool:
    for later in slices:
        with open_reader(later) as reader:
            if next(_non_empty_batches(reader), None) is not None:
                return True
    return False


def _open_run(
    store: ArtifactStore, key: str, encoder: Encoder, resume_from: ResumePoint | None
) -> ArtifactWriter:
    if resume_from is None:
        return ArtifactWriter.create(store, key)
    writer = ArtifactWriter.resume(store, key, resume_from.checkpoint)
    encoder.resume(resume_from.checkpoint.offset_bytes, writer.read_range)
    return writer


def export_slices(
    slices: Sequence[Slice],
    open_reader: OpenReader,
    encoder: Encoder,
    compressor: Compressor,
    store: ArtifactStore,
    key: str,
    *,
    on_slice_done: Callable[[SliceResult], None] = lambda result: None,
    on_bytes_written: Callable[[int], None] = lambda offset_bytes: None,
    should_stop: Callable[[], bool] = lambda: False,
    limit: int | None = None,
    resume_from: ResumePoint | None = None,
) -> ExportResult:
    """Export ``slices`` (in output order) into the artifact ``key`` of ``store``.

    ``open_reader`` returns the record batches of one slice. After each slice the frame is ended,
    the bytes are made durable and ``on_slice_done`` gets the checkpoint; ``on_bytes_written``
    gets the artifact's size as it grows (from the writing thread). ``limit`` caps the total
    rows (outcome TRUNCATED when rows were left out). When ``should_stop`` turns true the run stops
    between batches, keeps the staging object for a resume and returns STOPPED. Otherwise the
    artifact is finalized and published. Raises ArtifactStagingError when ``resume_from`` does not
    match the staging object; errors of the reader, encoder or store propagate.
    """
    writer = _open_run(store, key, encoder, resume_from)
    output = Output(compressor, writer, on_bytes_written)
    began = writer.offset_bytes > 0
    run = ExportRun(encoder, output, should_stop, limit, writer.rows, began)
    start = resume_from.next_position if resume_from else 0
    finished: list[SliceResult] = []
    outcome = ExportOutcome.COMPLETE
    ahead = ReadAhead(open_reader, slices[start]) if start < len(slices) else None
    try:
        for position in range(start, len(slices)):
            current = slices[position]
            start_offset, start_rows = writer.offset_bytes, writer.rows
            if should_stop():
                return ExportResult(ExportOutcome.STOPPED, start_rows, finished)
            reader, ahead = ahead or ReadAhead(open_reader, current), None
            try:
                cut = _write_slice(run, reader)
            finally:
                reader.close()
            if cut is None:
                return ExportResult(ExportOutcome.STOPPED, start_rows, finished)
            if not cut and position + 1 < len(slices):
                ahead = ReadAhead(open_reader, slices[position + 1])
            run.end_frame(encoder.end_slice())
            output.drain()
            result = SliceResult(
                current, writer.rows - start_rows, start_offset, writer.checkpoint()
            )
            finished.append(result)
            on_slice_done(result)
            if run.rows_left() == 0:
                rest = slices[position + 1 :]
                if cut or _more_rows_in(rest, open_reader):
                    outcome = ExportOutcome.TRUNCATED
                break
        run.end_frame(encoder.end())
        output.drain()
        return ExportResult(outcome, writer.rows, finished, writer.finalize())
    finally:
        if ahead is not None:
            ahead.close()
        output.close()
        writer.close()
