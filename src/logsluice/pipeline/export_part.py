"""Exporting one slice into its own artifact part: record batches → encoder → compressor → part.

``export_part`` is what a worker runs for one claimed slice: it reads the slice ahead on its own
thread, encodes a few batches ahead (CSV and JSON Lines on several threads), compresses into
frames that end with the part (so parts concatenate), and commits the part with its size, sha256
and md5, or aborts it when the worker must stop. A slice without rows writes no part at all. The
artifact's head (a CSV header) and tail (a Parquet footer) are written once, at completion, not
by the parts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logsluice.pipeline.compressors import NoCompressor
from logsluice.pipeline.export import (
    EncodeAhead,
    ExportRun,
    OpenReader,
    Output,
    ReadAhead,
    encode_batches,
)
from logsluice.pipeline.protocols import Chunk, Compressor, Encoder, PartInfo, PartWriter
from logsluice.pipeline.slices import Slice

if TYPE_CHECKING:
    import pyarrow as pa

    from logsluice.pipeline.resumable_hash import ResumableHashes


@dataclass(frozen=True)
class PartResult:
    """A finished slice: its rows, whether the limit cut rows off, and its part (None: no rows)."""

    rows: int
    cut: bool
    part: PartInfo | None


class _Hashing:
    """Feeds the chunks it is given to a running hash (what :class:`Output` writes into)."""

    def __init__(self, hashes: ResumableHashes) -> None:
        self._hashes = hashes

    @property
    def offset_bytes(self) -> int:
        return self._hashes.size_bytes

    def write(self, data: Chunk, rows: int = 0) -> None:
        self._hashes.update(data)


class _CountedPart:
    """A part writer that counts the bytes written into it and hands them to ``file_hash``."""

    def __init__(self, writer: PartWriter, file_hash: Output | None) -> None:
        self._writer = writer
        self._file_hash = file_hash
        self.offset_bytes = 0

    def write(self, data: Chunk, rows: int = 0) -> None:
        if len(data):
            self._writer.write(data)
            if self._file_hash is not None:
                self._file_hash.write(data)
            self.offset_bytes += len(data)


def export_part(
    item: Slice,
    open_reader: OpenReader,
    encoder: Encoder,
    compressor: Compressor,
    open_writer: Callable[[ResumableHashes | None], PartWriter],
    *,
    on_bytes_written: Callable[[int], None] = lambda size_bytes: None,
    should_stop: Callable[[], bool] = lambda: False,
    limit: int | None = None,
    file_hash: ResumableHashes | None = None,
    ahead: ReadAhead | None = None,
    on_read: Callable[[], None] | None = None,
) -> PartResult | None:
    """Export the rows of ``item`` (at most ``limit``) into a part opened by ``open_writer``.

    ``encoder`` and ``compressor`` are fresh for this slice; ``open_writer`` is given the running
    hash the part's writer is to hash the part with, or None for its own. ``file_hash``, when
    given, is the artifact's running hash through the parts before this one, continued as the
    part is written so nobody reads the part back to hash it: when it has hashed nothing yet (the
    first part, after an empty head) the writer hashes the part with it, so the part's bytes are
    hashed once for both; otherwise the part's bytes are fed to it on a thread of its own (the
    output thread, which compresses, writes and hashes the part itself, would otherwise wait for
    a second sha256 and md5). Returns
    None when ``should_stop`` turned true (the part attempt is discarded, and ``file_hash`` is
    then useless). A slice without rows opens no part. Errors of the reader, encoder or store
    propagate after the attempt is discarded. ``ahead`` is the slice's read-ahead when it was
    started before (it is closed here either way); ``on_read`` hears that the slice's rows are
    all read (see :class:`ReadAhead`).
    """
    reader = ahead or ReadAhead(open_reader, item, on_read=on_read)
    writer: PartWriter | None = None
    try:
        first = _first_batch(reader)
        if first is None:
            return PartResult(0, cut=False, part=None)
        shared = file_hash is not None and file_hash.size_bytes == 0
        writer = open_writer(file_hash if shared else None)
        hashing = (
            None
            if file_hash is None or shared
            else Output(NoCompressor(), _Hashing(file_hash), _nothing)
        )
        output = Output(compressor, _CountedPart(writer, hashing), on_bytes_written)
        run = ExportRun(encoder, output, should_stop, limit, 0)
        try:
            cut = _encode_part(run, reader, first)
            output.drain()
            if hashing is not None:
                hashing.drain()
        finally:
            output.close()
            if hashing is not None:
                hashing.close()
        if cut is None:
            writer.abort()
            return None
        part = writer.commit()
        writer = None
        return PartResult(run.rows, cut=cut, part=part)
    finally:
        reader.close()
        if writer is not None:
            writer.abort()


def _nothing(size_bytes: int) -> None:
    """Hear nothing of the hashed size."""


def _encode_part(run: ExportRun, reader: ReadAhead, first: pa.RecordBatch) -> bool | None:
    """Encode the slice's batches and end its frame; True if the limit cut rows off, None if
    the run must stop."""
    run.encoder.begin(reader.schema)  # the head (a CSV header) is written once, at completion
    run.began = True
    encoding = EncodeAhead(run)
    try:
        cut = encode_batches(run, encoding, itertools.chain([first], reader))
        encoding.flush()
    finally:
        encoding.close()
    if cut is not None:
        run.end_frame(run.encoder.end_slice())
    return cut


def _first_batch(reader: ReadAhead) -> pa.RecordBatch | None:
    for batch in reader:
        if batch.num_rows:
            return batch
    return None
