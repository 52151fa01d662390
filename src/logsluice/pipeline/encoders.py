"""Encoders for CSV and Parquet: Arrow record batches in, file bytes out, one batch at a time.

CSV goes through ``pyarrow.csv.write_csv`` per batch (header only at the start of the artifact,
timestamps as RFC 3339 text in the task's time zone, lists as JSON text, formula escaping on by
default); its columns stay flat, named by dotted path. Parquet nests dotted leaf columns back into
structs (:mod:`logsluice.pipeline.nesting`) and keeps lists and integer widths, and writes each
row group as a complete little Parquet file ("part"), encoded on worker threads, and
at the end one merged footer that points at every part's row groups (see
:mod:`logsluice.pipeline.parquet_footer`), so every slice end is a place the file can be cut and
resumed. JSON Lines is encoded by DuckDB and lives with the adapters.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from logsluice.domain.errors import ArtifactStagingError
from logsluice.domain.export import CsvOptions
from logsluice.pipeline.nesting import Nesting
from logsluice.pipeline.parquet_footer import (
    MAGIC,
    TRAILER_BYTES,
    column_data_end,
    merge_footers,
    read_footer,
)
from logsluice.pipeline.protocols import Chunk, ReadRange
from logsluice.pipeline.text_columns import rewrite_columns, text_schema

PARQUET_THREADS = 2
# Rows per Parquet row group: batches are buffered up to this many, as readers expect row groups of
# ~100k+ rows (small ones cost metadata, dictionary pages and compression ratio).
ROW_GROUP_ROWS = 65_536
# A column is dictionary-encoded when the first DICTIONARY_SAMPLE_ROWS values of a row group hold
# at most DICTIONARY_MAX_DISTINCT distinct values. High-cardinality columns (ids, messages, times)
# would fill the dictionary page only to fall back to plain encoding, which costs ~25 % of the
# encoding time and makes the file bigger.
DICTIONARY_SAMPLE_ROWS = 1_024
DICTIONARY_MAX_DISTINCT = 128


def dictionary_columns(table: pa.Table) -> list[str]:
    """Return the columns of ``table`` (one row group) worth dictionary-encoding.

    Decided from the row group's own first rows, so a part's bytes depend only on its rows: a
    resumed run encodes the same parts the same way. Floats and times are never few enough.
    """
    sample = table.slice(0, DICTIONARY_SAMPLE_ROWS)
    chosen = []
    for field, column in zip(sample.schema, sample.columns, strict=True):
        kind = field.type
        if pa.types.is_floating(kind) or pa.types.is_temporal(kind) or pa.types.is_nested(kind):
            continue
        if pc.count_distinct(column, mode="all").as_py() <= DICTIONARY_MAX_DISTINCT:
            chosen.append(field.name)
    return chosen


def _csv_bytes(table: pa.Table | pa.RecordBatch, options: Any) -> Chunk:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, options)
    return memoryview(sink.getvalue())


class SizedWrites:
    """Writes each batch's bytes into one buffer sized from the bytes per row seen so far.

    A growing ``BufferOutputStream`` starts small and doubles, copying what it holds and touching
    fresh pages at every step (5–10 % of ``write_csv``'s time on 16 k-row batches). A batch that
    does not fit its buffer (rows longer than the last batch's by more than the headroom) is
    written again into a growing stream. An encoder's threads share one: the estimate is a float,
    and a stale one costs at most that second write. Unused headroom is never touched, so it
    takes address space, not memory.
    """

    HEADROOM = 1.25
    SLACK_BYTES = 64 << 10

    def __init__(self) -> None:
        self._bytes_per_row = 0.0

    def write(self, rows: int, write: Callable[[Any], None]) -> memoryview:
        """Return the bytes ``write`` puts into the stream it is given, for ``rows`` rows."""
        if self._bytes_per_row and rows:
            capacity = int(rows * self._bytes_per_row * self.HEADROOM) + self.SLACK_BYTES
            buffer = pa.allocate_buffer(capacity)
            stream = pa.FixedSizeBufferWriter(buffer)
            try:
                write(stream)
            except OSError:  # out of bounds: longer rows than expected, written again below
                pass
            else:
                return self._learned(rows, memoryview(buffer)[: stream.tell()])
        sink = pa.BufferOutputStream()
        write(sink)
        return self._learned(rows, memoryview(sink.getvalue()))

    def _learned(self, rows: int, data: memoryview) -> memoryview:
        if rows:
            self._bytes_per_row = len(data) / rows
        return data


class CsvEncoder:
    """CSV with an optional header, a chosen delimiter and spreadsheet formula escaping."""

    file_extension = "csv"
    independent_batches = True

    def __init__(self, options: CsvOptions, time_zone: str = "UTC") -> None:
        self._options = options
        self._time_zone = time_zone
        self._write_options = pacsv.WriteOptions(include_header=False, delimiter=options.delimiter)
        self._writes = SizedWrites()

    def begin(self, schema: pa.Schema) -> Chunk:
        if not self._options.header:
            return b""
        header_options = pacsv.WriteOptions(include_header=True, delimiter=self._options.delimiter)
        return _csv_bytes(text_schema(schema).empty_table(), header_options)

    def encode(self, batch: pa.RecordBatch) -> Chunk:
        if batch.num_rows == 0:
            return b""
        rewritten = rewrite_columns(
            batch, self._time_zone, escape_text=self._options.escape_formulas
        )
        return self._writes.write(
            rewritten.num_rows,
            lambda stream: pacsv.write_csv(rewritten, stream, self._write_options),
        )

    def end_slice(self) -> Chunk:
        return b""

    def end(self) -> Chunk:
        return b""

    def resume(self, prefix_bytes: int, read_range: ReadRange) -> None:
        """Nothing to restore: the header, if any, is already in the prefix."""


class ParquetEncoder:
    """Parquet with typed columns, written as parts of one row group each, encoded in parallel.

    Batches are buffered into row groups of ``ROW_GROUP_ROWS`` rows; each row group is encoded as a
    complete little Parquet file (a part) on one of ``PARQUET_THREADS`` threads, and the parts are
    emitted in order. ``end`` writes one footer pointing at every part's row group. A slice ends
    after its last part, so a slice end is a part end, where a resume can continue.
    """

    file_extension = "parquet"
    independent_batches = False

    def __init__(self, compression: str = "zstd", compression_level: int | None = None) -> None:
        self._compression = compression
        self._compression_level = compression_level
        self._schema: pa.Schema | None = None
        self._nesting: Nesting | None = None
        self._position_bytes = 0
        self._parts: list[tuple[int, bytes]] = []
        self._buffered: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: deque[Future[memoryview]] = deque()

    def begin(self, schema: pa.Schema) -> Chunk:
        self._nesting = Nesting.of(schema)
        self._schema = self._nesting.nested_schema
        return b""

    def encode(self, batch: pa.RecordBatch) -> Chunk:
        if batch.num_rows == 0:
            return b""
        if self._nesting is None:  # resumed: the schema is the batches'
            self._nesting = Nesting.of(batch.schema)
        self._buffered.append(self._nesting.apply(batch))
        self._buffered_rows += batch.num_rows
        if self._buffered_rows < ROW_GROUP_ROWS:
            return b""
        self._submit_row_group()
        return self._collect(keep=PARQUET_THREADS)

    def end_slice(self) -> Chunk:
        self._submit_row_group()
        try:
            return self._collect(keep=0)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def end(self) -> Chunk:
        if self._parts:
            return self._emit_bytes(merge_footers(self._parts, frozenset()))
        if self._schema is None or self._position_bytes:
            raise ArtifactStagingError("a Parquet artifact without parts must start empty")
        return self._emit_bytes(self._encode_part(self._schema.empty_table()))

    def part_footers(self) -> list[tuple[int, bytes]]:
        """Return ``(offset, footer)`` of every little Parquet file emitted so far, offsets
        counting from the first byte this encoder emitted (a slice's part starts there)."""
        return list(self._parts)

    def resume(self, prefix_bytes: int, read_range: ReadRange) -> None:
        """Recover the footers of the parts in the kept prefix, walking back from its end."""
        parts: list[tuple[int, bytes]] = []
        end_bytes = prefix_bytes
        while end_bytes > 0:
            start_bytes, footer = _part_before(end_bytes, read_range)
            parts.append((start_bytes, footer))
            end_bytes = start_bytes
        parts.reverse()
        self._parts = parts
        self._position_bytes = prefix_bytes

    def _submit_row_group(self) -> None:
        if not self._buffered:
            return
        table = pa.Table.from_batches(self._buffered)
        self._buffered, self._buffered_rows = [], 0
        if self._pool is None:
            self._pool = ThreadPoolExecutor(PARQUET_THREADS)
        self._in_flight.append(self._pool.submit(self._encode_part, table))

    def _collect(self, *, keep: int) -> Chunk:
        """Emit finished parts in order, waiting until at most ``keep`` are still in flight."""
        emitted: list[Chunk] = []
        while self._in_flight and (len(self._in_flight) > keep or self._in_flight[0].done()):
            part = self._in_flight.popleft().result()
            footer_length = struct.unpack("<I", part[-TRAILER_BYTES:-4])[0]
            footer = bytes(part[-TRAILER_BYTES - footer_length : -TRAILER_BYTES])
            self._parts.append((self._position_bytes, footer))
            emitted.append(self._emit_bytes(part))
        # parts are megabytes: hand a single one on as it is rather than copy it into a join
        return emitted[0] if len(emitted) == 1 else b"".join(emitted)

    def _encode_part(self, table: pa.Table) -> memoryview:
        sink = pa.BufferOutputStream()
        with pq.ParquetWriter(
            sink,
            table.schema,
            compression=self._compression,
            compression_level=self._compression_level,
            use_dictionary=dictionary_columns(table),
            write_page_index=False,  # a part must be magic, column chunks, footer: see resume
        ) as writer:
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
        return memoryview(sink.getvalue())

    def _emit_bytes(self, data: Chunk) -> Chunk:
        self._position_bytes += len(data)
        return data


def _part_before(end_bytes: int, read_range: ReadRange) -> tuple[int, bytes]:
    """Return ``(start, footer)`` of the Parquet part that ends at ``end_bytes``."""
    if end_bytes < len(MAGIC) + TRAILER_BYTES:
        raise ArtifactStagingError("the kept Parquet prefix is too short", end_bytes=end_bytes)
    trailer = read_range(end_bytes - TRAILER_BYTES, end_bytes)
    footer_length = struct.unpack("<I", trailer[:4])[0]
    if trailer[4:] != MAGIC or footer_length > end_bytes - TRAILER_BYTES:
        raise ArtifactStagingError("the kept prefix does not end with a Parquet part")
    footer_end = end_bytes - TRAILER_BYTES
    footer_start = footer_end - footer_length
    footer = read_range(footer_start, footer_end)
    start_bytes = footer_start - column_data_end(read_footer(footer))
    if not 0 <= start_bytes < end_bytes or read_range(start_bytes, start_bytes + 4) != MAGIC:
        raise ArtifactStagingError("a Parquet part in the kept prefix has no valid start")
    return start_bytes, footer
