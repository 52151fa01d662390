"""The export driver: slices → record batches → encoder → compressor → artifact writer.

``export_slices`` runs a download task's slices in output order, ends a compressed frame and takes a
checkpoint after each slice, honours a row ``limit`` (cutting mid-slice and reporting truncation),
stops between batches when ``should_stop`` says so, and resumes after a given checkpoint. Memory is
bounded by the batches in flight: nothing accumulates across batches but counters and, for Parquet,
the slice footers.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from logsluice.pipeline.artifact_writer import ArtifactSummary, ArtifactWriter, WriterCheckpoint
from logsluice.pipeline.protocols import ArtifactStore, Compressor, Encoder
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


@dataclass
class _Run:
    encoder: Encoder
    compressor: Compressor
    writer: ArtifactWriter
    should_stop: Callable[[], bool]
    limit: int | None
    began: bool = False

    def emit(self, data: bytes | bytearray | memoryview, rows: int = 0) -> None:
        self.writer.write(self.compressor.compress(data) if len(data) else b"", rows)

    def end_frame(self, data: bytes | bytearray | memoryview) -> None:
        self.emit(data)
        self.writer.write(self.compressor.end_frame())

    def rows_left(self) -> int | None:
        return None if self.limit is None else self.limit - self.writer.rows


def _non_empty_batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    return (batch for batch in reader if batch.num_rows)


def _write_slice(run: _Run, reader: pa.RecordBatchReader) -> bool | None:
    """Write the slice's batches; return True if the limit cut rows off, None if stopped."""
    if not run.began:
        run.emit(run.encoder.begin(reader.schema))
        run.began = True
    for batch in _non_empty_batches(reader):
        if run.should_stop():
            return None
        left = run.rows_left()
        if left is not None and left <= 0:
            return True
        if left is not None and batch.num_rows > left:
            run.emit(run.encoder.encode(batch.slice(0, left)), left)
            return True
        run.emit(run.encoder.encode(batch), batch.num_rows)
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
    should_stop: Callable[[], bool] = lambda: False,
    limit: int | None = None,
    resume_from: ResumePoint | None = None,
) -> ExportResult:
    """Export ``slices`` (in output order) into the artifact ``key`` of ``store``.

    ``open_reader`` returns the record batches of one slice. After each slice the frame is ended,
    the bytes are made durable and ``on_slice_done`` gets the checkpoint. ``limit`` caps the total
    rows (outcome TRUNCATED when rows were left out). When ``should_stop`` turns true the run stops
    between batches, keeps the staging object for a resume and returns STOPPED. Otherwise the
    artifact is finalized and published. Raises ArtifactStagingError when ``resume_from`` does not
    match the staging object; errors of the reader, encoder or store propagate.
    """
    writer = _open_run(store, key, encoder, resume_from)
    run = _Run(encoder, compressor, writer, should_stop, limit, began=writer.offset_bytes > 0)
    start = resume_from.next_position if resume_from else 0
    finished: list[SliceResult] = []
    outcome = ExportOutcome.COMPLETE
    try:
        for position in range(start, len(slices)):
            current = slices[position]
            if should_stop():
                return ExportResult(ExportOutcome.STOPPED, writer.rows, finished)
            start_offset, start_rows = writer.offset_bytes, writer.rows
            with open_reader(current) as reader:
                cut = _write_slice(run, reader)
            if cut is None:
                return ExportResult(ExportOutcome.STOPPED, writer.rows, finished)
            run.end_frame(encoder.end_slice())
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
        return ExportResult(outcome, writer.rows, finished, writer.finalize())
    finally:
        writer.close()
