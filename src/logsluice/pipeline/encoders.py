"""Encoders for CSV and Parquet: Arrow record batches in, file bytes out, one batch at a time.

CSV goes through ``pyarrow.csv.write_csv`` per batch (header only at the start of the artifact,
timestamps as RFC 3339 text in the task's time zone, formula escaping on by default). Parquet writes
each slice as a complete little Parquet file ("part") and, at the end, one merged footer that points
at every part's row groups (see :mod:`logsluice.pipeline.parquet_footer`), so every slice end is a
place the file can be cut and resumed. JSON Lines is encoded by DuckDB and lives with the adapters.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from logsluice.domain.errors import ArtifactStagingError
from logsluice.domain.export import CsvOptions
from logsluice.pipeline.parquet_footer import (
    MAGIC,
    TRAILER_BYTES,
    key_value,
    merge_footers,
    read_footer,
)
from logsluice.pipeline.protocols import Chunk, ReadRange
from logsluice.pipeline.text_columns import rewrite_columns, text_schema

PART_START_KEY = "logsluice.part_start"
# Rows per Parquet row group: batches are buffered up to this many, as readers expect row groups of
# ~100k+ rows (small ones cost metadata, dictionary pages and compression ratio).
ROW_GROUP_ROWS = 131_072


def _csv_bytes(table: pa.Table | pa.RecordBatch, options: Any) -> Chunk:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, options)
    return memoryview(sink.getvalue())


class CsvEncoder:
    """CSV with an optional header, a chosen delimiter and spreadsheet formula escaping."""

    file_extension = "csv"
    independent_batches = True

    def __init__(self, options: CsvOptions, time_zone: str = "UTC") -> None:
        self._options = options
        self._time_zone = time_zone
        self._write_options = pacsv.WriteOptions(include_header=False, delimiter=options.delimiter)

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
        return _csv_bytes(rewritten, self._write_options)

    def end_slice(self) -> Chunk:
        return b""

    def end(self) -> Chunk:
        return b""

    def resume(self, prefix_bytes: int, read_range: ReadRange) -> None:
        """Nothing to restore: the header, if any, is already in the prefix."""


class _DrainSink(io.RawIOBase):
    """A write-only file that hands what was written to the encoder as it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self._pieces: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._pieces.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        pieces, self._pieces = self._pieces, []
        return b"".join(pieces)


class ParquetEncoder:
    """Parquet with typed columns; each slice is a part of row groups (one per batch)."""

    file_extension = "parquet"
    independent_batches = False

    def __init__(self, compression: str = "zstd", compression_level: int | None = None) -> None:
        self._compression = compression
        self._compression_level = compression_level
        self._schema: pa.Schema | None = None
        self._position_bytes = 0
        self._parts: list[tuple[int, bytes]] = []
        self._writer: Any = None
        self._sink: _DrainSink | None = None
        self._part_start_bytes = 0
        self._buffered: list[pa.RecordBatch] = []
        self._buffered_rows = 0

    def begin(self, schema: pa.Schema) -> Chunk:
        self._schema = schema
        return b""

    def encode(self, batch: pa.RecordBatch) -> Chunk:
        if batch.num_rows == 0:
            return b""
        self._buffered.append(batch)
        self._buffered_rows += batch.num_rows
        if self._buffered_rows < ROW_GROUP_ROWS:
            return b""
        return self._write_row_group()

    def end_slice(self) -> Chunk:
        last_row_group = self._write_row_group()
        if self._writer is None:
            return b""
        self._writer.add_key_value_metadata({PART_START_KEY: str(self._part_start_bytes)})
        self._writer.close()
        self._writer = None
        tail = self._emit()
        footer_length = struct.unpack("<I", tail[-TRAILER_BYTES:-4])[0]
        footer = tail[-TRAILER_BYTES - footer_length : -TRAILER_BYTES]
        self._parts.append((self._part_start_bytes, footer))
        return bytes(last_row_group) + tail

    def end(self) -> Chunk:
        if self._parts:
            return self._emit_bytes(
                merge_footers(self._parts, frozenset({PART_START_KEY.encode()}))
            )
        if self._schema is None or self._position_bytes:
            raise ArtifactStagingError("a Parquet artifact without parts must start empty")
        sink = _DrainSink()
        pq.ParquetWriter(sink, self._schema, compression=self._compression).close()
        return self._emit_bytes(sink.drain())

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

    def _write_row_group(self) -> Chunk:
        """Write the buffered batches as one row group (row groups of the size readers expect)."""
        if not self._buffered:
            return b""
        table = pa.Table.from_batches(self._buffered)
        self._buffered, self._buffered_rows = [], 0
        if self._writer is None:
            self._open_part(table.schema)
        self._writer.write_table(table, row_group_size=table.num_rows)
        return self._emit()

    def _open_part(self, schema: pa.Schema) -> None:
        self._sink = _DrainSink()
        self._part_start_bytes = self._position_bytes
        self._writer = pq.ParquetWriter(
            self._sink,
            schema,
            compression=self._compression,
            compression_level=self._compression_level,
        )

    def _emit(self) -> bytes:
        assert self._sink is not None
        return self._emit_bytes(self._sink.drain())

    def _emit_bytes(self, data: bytes) -> bytes:
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
    footer = read_range(footer_end - footer_length, footer_end)
    start_text = key_value(read_footer(footer), PART_START_KEY.encode())
    start_bytes = int(start_text) if start_text is not None else -1
    if not 0 <= start_bytes < end_bytes or read_range(start_bytes, start_bytes + 4) != MAGIC:
        raise ArtifactStagingError("a Parquet part in the kept prefix has no valid start")
    return start_bytes, footer
