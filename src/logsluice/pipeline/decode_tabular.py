"""Decoding CSV and Parquet inputs into append-ready tables, batch by batch.

CSV is read by ``pyarrow.csv``'s streaming reader with every column as text, then each batch's
columns are typed on their own (int64, else float64, else boolean, else text), so a column that
changes type mid-file never fails the read (the log store widens it). The first line is the
header; a record's line is its row number + 1, exact unless quoted values span lines. Rows with
the wrong number of fields are refused with their line. Parquet is read a row batch at a time;
its types are mapped as for any Arrow input.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from logsluice.domain.errors import InvalidInputError, InvalidRecordsError
from logsluice.pipeline.decode_columns import finish_table
from logsluice.pipeline.decode_types import DecodedChunk, DecodeOptions, LineError

_CSV_BYTES_PER_RECORD = 256
_SPOOL_IN_MEMORY_BYTES = 64 * 1024 * 1024
_CSV_TYPES = (pa.int64(), pa.float64(), pa.bool_())


def decode_csv(
    stream: IO[bytes], options: DecodeOptions, chunk_records: int
) -> Iterator[DecodedChunk]:
    """Yield the records of a CSV stream whose first line names the fields."""
    names = _header(stream)
    refused: list[LineError] = []
    reader = pa_csv.open_csv(
        stream,
        read_options=pa_csv.ReadOptions(
            column_names=names, block_size=max(4096, chunk_records * _CSV_BYTES_PER_RECORD)
        ),
        parse_options=pa_csv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=lambda row: _refuse(row, refused)
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names}, strings_can_be_null=True
        ),
    )
    first_line = 2
    for batch in _csv_batches(reader):
        raw = pa.table([_typed(column) for column in batch.columns], names=names)
        table, errors = finish_table(raw, raw.num_rows, options, _lines_from(first_line))
        errors, refused[:] = sorted(refused + errors, key=lambda error: error.line), []
        first_line += batch.num_rows
        yield DecodedChunk(table, table.num_rows, errors)
    if refused:
        yield DecodedChunk(pa.table({}), 0, list(refused))


def decode_parquet(
    stream: IO[bytes], options: DecodeOptions, chunk_records: int
) -> Iterator[DecodedChunk]:
    """Yield the records of a Parquet file, ``chunk_records`` rows at a time."""
    try:
        parquet_file = pq.ParquetFile(_seekable(stream))
    except (pa.ArrowInvalid, OSError) as error:
        raise InvalidInputError(f"not a Parquet file: {error}") from error
    first_line = 1
    for batch in parquet_file.iter_batches(batch_size=chunk_records):
        raw = pa.Table.from_batches([batch])
        table, errors = finish_table(raw, raw.num_rows, options, _lines_from(first_line))
        first_line += batch.num_rows
        yield DecodedChunk(table, table.num_rows, errors)


def _lines_from(first_line: int) -> Callable[[int], int]:
    return lambda row: first_line + row


def _header(stream: IO[bytes]) -> list[str]:
    line = stream.readline()
    names = next(csv.reader([line.decode("utf-8-sig")]), [])
    if not names or any(not name for name in names):
        message = "CSV input must start with a header line naming every field"
        raise InvalidRecordsError(message, errors=[{"line": 1, "message": message}])
    return names


def _refuse(row: Any, refused: list[LineError]) -> str:
    line = row.number + 1 if row.number >= 0 else 0
    message = f"expected {row.expected_columns} fields, found {row.actual_columns}"
    refused.append(LineError(line, message))
    return "skip"


def _csv_batches(reader: pa_csv.CSVStreamingReader) -> Iterator[pa.RecordBatch]:
    try:
        yield from reader
    except pa.ArrowInvalid as error:
        raise InvalidInputError(f"CSV input cannot be read: {error}") from error


def _typed(column: Any) -> Any:
    if column.null_count == len(column):
        return pa.nulls(len(column))
    for data_type in _CSV_TYPES:
        try:
            return pc.cast(column, data_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return column


def _seekable(stream: IO[bytes]) -> IO[bytes]:
    if stream.seekable():
        return stream
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
    shutil.copyfileobj(stream, spool)
    spool.seek(0)
    return spool
