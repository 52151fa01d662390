"""``DuckDBJsonlEncoder``: JSON Lines encoded by DuckDB's ``to_json`` over each Arrow batch.

Measured as the fastest vectorized route on this machine (about 1 s per million log records, ~4×
faster than composing JSON text with ``pyarrow.compute``). Timestamps are first rendered as RFC 3339
text in the task's time zone, so DuckDB writes them as JSON strings; leaf fields named by a dotted
path are nested back into objects (:mod:`logsluice.pipeline.nesting`) and lists stay arrays; the
resulting lines are handed on as one Arrow buffer without a copy per row.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pyarrow as pa

from logsluice.pipeline.nesting import Nesting
from logsluice.pipeline.protocols import Chunk, ReadRange
from logsluice.pipeline.text_columns import append_to_each, rewrite_columns, text_schema

_VIEW = "logsluice_batch"


def _lines_query(column_names: list[str]) -> str:
    """Return the query turning each row into a JSON object; its row alias is no column's name.

    The object is left as DuckDB's JSON value: casting it to VARCHAR and appending the newline
    in SQL cost ~20 % more than appending the newline in Arrow (:func:`_with_newlines`)."""
    taken = {name.lower() for name in column_names}
    alias = "logsluice_row"
    while alias in taken:
        alias += "_"
    return f"SELECT to_json({alias}) AS line FROM {_VIEW} AS {alias}"


def _with_newlines(objects: Any) -> Any:
    """Return the string array ``objects`` with a newline after each value (one pass)."""
    if not (pa.types.is_string(objects.type) or pa.types.is_large_string(objects.type)):
        objects = objects.cast(pa.large_string())
    return append_to_each(objects, "\n")


def _buffer_of(lines: Any) -> Chunk:
    """Return the bytes of a string array's values, end to end, without copying."""
    if not pa.types.is_string(lines.type):
        lines = lines.cast(pa.large_string())
    offset_type = pa.int64() if pa.types.is_large_string(lines.type) else pa.int32()
    _, offsets_buffer, values = lines.buffers()
    offsets = pa.Array.from_buffers(
        offset_type, len(lines) + 1, [None, offsets_buffer], offset=lines.offset
    )
    return memoryview(values)[offsets[0].as_py() : offsets[-1].as_py()]


_connections: dict[int, duckdb.DuckDBPyConnection] = {}
_connections_lock = threading.Lock()


def _shared_connection(threads: int) -> duckdb.DuckDBPyConnection:
    """Return the process's in-memory DuckDB database for encoders of ``threads`` threads.

    Opening one costs some 45 ms, and every slice of a task has an encoder of its own: a 10 M-row
    task would open eleven. The database holds nothing; each ``encode`` registers its batch on a
    cursor of its own and closes it, so encoders share it safely from any thread."""
    with _connections_lock:
        connection = _connections.get(threads)
        if connection is None:
            connection = _connections[threads] = duckdb.connect(config={"threads": threads})
        return connection


class DuckDBJsonlEncoder:
    """One JSON object per record, keys in column order, one line each."""

    file_extension = "jsonl"
    independent_batches = True

    def __init__(self, time_zone: str = "UTC", threads: int = 1) -> None:
        self._time_zone = time_zone
        self._connection = _shared_connection(threads)
        self._nesting: Nesting | None = None

    def begin(self, schema: pa.Schema) -> Chunk:
        self._nesting = Nesting.of(text_schema(schema, nested_as_json=False))
        return b""

    def resume(self, prefix_bytes: int, read_range: ReadRange) -> None:
        """Nothing to restore: JSON Lines has no header or footer."""

    def encode(self, batch: pa.RecordBatch) -> Chunk:
        if batch.num_rows == 0:
            return b""
        rewritten = rewrite_columns(batch, self._time_zone, nested_as_json=False)
        if self._nesting is None:  # resumed: the schema is the batches'
            self._nesting = Nesting.of(rewritten.schema)
        rewritten = self._nesting.apply(rewritten)
        # a cursor per call: its registered view is its own, so batches encode in parallel
        cursor = self._connection.cursor()
        try:
            cursor.register(_VIEW, rewritten)
            query = _lines_query(rewritten.schema.names)
            column = cursor.sql(query).to_arrow_table().column(0)
        finally:
            cursor.close()
        chunks = [_buffer_of(_with_newlines(chunk)) for chunk in column.chunks if len(chunk)]
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def end_slice(self) -> Chunk:
        return b""

    def end(self) -> Chunk:
        return b""

    def close(self) -> None:
        """Nothing to close: the in-memory database is the process's (see _shared_connection)."""
