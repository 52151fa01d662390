"""Completing a task's artifact from its parts, once every slice is finished.

The worker that finished the last slice (or the one that starts a task whose slices are all
finished: the completer before it died) holds the task's lease and runs this. The artifact is the
head, the committed parts in slice order and the tail, published atomically by the artifact store's
``complete``: the head is the CSV header (its own compressed frame), once; Parquet needs no head
(every part starts with the magic) and gets one footer merged from every part's row groups as its
tail (their offsets shifted by where each part lands); an empty Parquet export is one empty file.
Slices without rows have no part. The whole file's sha256 and md5 continue the running hash the
workers stored with the finished slices (:mod:`logsluice.services.task_file_hash`): only the parts
not hashed yet are read, before the parts are published, then the tail; when the chain cannot be
used the published file is read once instead (ADR 0018). The manifest lists every slice's byte
range.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa

from logsluice.domain.export import ExportFormat
from logsluice.domain.tasks import SliceStatus, Task, TaskSlice
from logsluice.pipeline.artifact_writer import ArtifactSummary
from logsluice.pipeline.compressors import build_compressor
from logsluice.pipeline.export import ExportOutcome, ExportResult
from logsluice.pipeline.parquet_footer import merge_footers, unpack_footers
from logsluice.pipeline.protocols import ArtifactStore, Chunk, Encoder
from logsluice.ports import RecordReader
from logsluice.services.task_estimates import EncoderFactory
from logsluice.services.task_file_hash import hashes_of_parts
from logsluice.services.task_files import artifact_key, outer_compression
from logsluice.services.task_plan import pinned_schema
from logsluice.services.task_queries import records_query_for


def written_parts(slices: Sequence[TaskSlice]) -> list[TaskSlice]:
    """Return the slices that wrote a part, in slice (output) order."""
    return [item for item in slices if item.status is SliceStatus.DONE and item.size_bytes > 0]


def artifact_head(task: Task, encoder: Encoder, schema: pa.Schema) -> bytes:
    """Return the artifact's leading bytes: the encoder's start (a CSV header) in its own frame."""
    start = bytes(encoder.begin(schema))
    if not start:
        return b""
    compressor = build_compressor(outer_compression(task.spec))
    return bytes(compressor.compress(start)) + bytes(compressor.end_frame())


def task_head(
    task: Task, source: RecordReader, store: ArtifactStore, encoder_factory: EncoderFactory
) -> bytes:
    """Return the artifact's head (see :func:`artifact_head`) from the task's pinned columns."""
    spec = task.spec
    schema = pinned_schema(task, source, store)
    encoder = encoder_factory(spec.format, time_zone=spec.timezone, csv_options=spec.csv)
    try:
        return artifact_head(task, encoder, schema)
    finally:
        close = getattr(encoder, "close", None)
        if close is not None:
            close()


def artifact_tail(
    task: Task, encoder: Encoder, head_bytes: int, parts: Sequence[TaskSlice]
) -> bytes:
    """Return the artifact's trailing bytes: a Parquet footer over every part's row groups."""
    if task.spec.format is ExportFormat.PARQUET:
        footers: list[tuple[int, bytes]] = []
        start_bytes = head_bytes
        for item in parts:
            footers.extend(
                (start_bytes + offset, footer)
                for offset, footer in unpack_footers(item.part_footers or b"")
            )
            start_bytes += item.size_bytes
        if footers:
            return merge_footers(footers, frozenset())
        return bytes(encoder.end())  # no rows at all: one empty Parquet file (after begin)
    end: Chunk = encoder.end()
    if not len(end):
        return b""
    compressor = build_compressor(outer_compression(task.spec))
    return bytes(compressor.compress(end)) + bytes(compressor.end_frame())


def complete_artifact(
    task: Task,
    slices: Sequence[TaskSlice],
    store: ArtifactStore,
    encoder: Encoder,
    schema: pa.Schema,
) -> tuple[ArtifactSummary, int]:
    """Publish the artifact from its parts and return its summary and the head's size.

    The checksums continue the slices' stored running hash (the parts after it are hashed before
    they are published), else come from reading the published file."""
    key = artifact_key(task)
    parts = written_parts(slices)
    head = artifact_head(task, encoder, schema)
    tail = artifact_tail(task, encoder, len(head), parts)
    hashes = hashes_of_parts(task, slices, store, head)
    size_bytes = store.complete(key, [item.part_number for item in parts], head, tail)
    rows = sum(item.rows for item in slices)
    if hashes is not None:
        hashes.update(tail)
        if hashes.size_bytes == size_bytes:
            sha256, md5 = hashes.hexdigests()
            summary = ArtifactSummary(
                key=key, size_bytes=size_bytes, rows=rows, sha256=sha256, md5=md5
            )
            return summary, len(head)
    return published_summary(store, key, rows, size_bytes), len(head)


def published_summary(
    store: ArtifactStore, key: str, rows: int, size_bytes: int | None = None
) -> ArtifactSummary:
    """Return the summary of the published artifact ``key``, hashed by reading it once."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    for piece in store.read(key):
        sha256.update(piece)
        md5.update(piece)
    return ArtifactSummary(
        key=key,
        size_bytes=store.size(key) if size_bytes is None else size_bytes,
        rows=rows,
        sha256=sha256.hexdigest(),
        md5=md5.hexdigest(),
    )


def settled_outcome(task: Task, slices: Sequence[TaskSlice], source: RecordReader) -> ExportOutcome:
    """Return TRUNCATED when the row limit left rows out, else COMPLETE.

    A slice cut by the limit says so; when the slices reached the limit exactly, the source is
    asked whether more rows match.
    """
    limit = task.spec.limit
    if limit is None:
        return ExportOutcome.COMPLETE
    if any(item.cut for item in slices):
        return ExportOutcome.TRUNCATED
    if sum(item.rows for item in slices) < limit:
        return ExportOutcome.COMPLETE
    request = records_query_for(source, task.project, task.spec)
    return ExportOutcome.TRUNCATED if source.count(request) > limit else ExportOutcome.COMPLETE


def export_result(outcome: ExportOutcome, summary: ArtifactSummary) -> ExportResult:
    """Return the result the finisher records for a completed artifact."""
    return ExportResult(outcome, summary.rows, [], summary)
