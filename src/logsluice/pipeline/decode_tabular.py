"""Decoding CSV and Parquet inputs into append-ready tables, batch by batch.

CSV is cut into blocks of whole lines (never inside a quoted value), each read by
``pyarrow.csv`` with every column as text; then each block's columns are typed on their own
(int64, else float64, else boolean, else text), so a column that changes type mid-file never fails
the read (the log store widens it). The first line is the header. Rows with the wrong number of
fields are refused with their line; line numbers of later rows are exact unless a quoted value
spans lines. Parquet is read a row batch at a time;
its types are mapped as for any Arrow input.
"""

from __future__ import annotations

import csv
import io
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
from logsluice.pipeline.decode_framing import line_blocks
from logsluice.pipeline.decode_types import DecodedChunk, DecodeOptions, LineError

_SPOOL_IN_MEMORY_BYTES = 64 * 1024 * 1024
_CSV_TYPES = (pa.int64(), pa.float64(), pa.bool_())


def decode_csv(
    stream: IO[bytes], options: DecodeOptions, chunk_records: int
) -> Iterator[DecodedChunk]:
    """Yield the records of a CSV stream whose first line names the fields."""
    names = _header(stream)
    for first_line, _, block in line_blocks(stream, chunk_records, quoted=True):
        raw, refused = _read_csv_block(block, names, first_line + 1)
        refused_lines = sorted(error.line for error in refused)
        table, errors = finish_table(
            raw, raw.num_rows, options, _lines_skipping(first_line + 1, refused_lines)
        )
        all_errors = sorted(refused + errors, key=lambda error: error.line)
        yield DecodedChunk(table, table.num_rows, all_errors)


def _read_csv_block(
    block: bytes, names: list[str], first_line: int
) -> tuple[pa.Table, list[LineError]]:
    """Read one block of CSV lines; a block with refused rows is read again on one thread,
    which is what makes Arrow tell the refused rows' numbers."""
    refused: list[LineError] = []
    raw = _read_csv(block, names, refused, first_line, use_threads=True)
    if any(error.line == 0 for error in refused):
        refused.clear()
        raw = _read_csv(block, names, refused, first_line, use_threads=False)
    return pa.table([typed_text_column(column) for column in raw.columns], names=names), refused


def _read_csv(
    block: bytes, names: list[str], refused: list[LineError], first_line: int, *, use_threads: bool
) -> pa.Table:
    try:
        return pa_csv.read_csv(
            io.BytesIO(block),
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=use_threads),
            parse_options=pa_csv.ParseOptions(
                newlines_in_values=True,
                invalid_row_handler=lambda row: _refuse(row, refused, first_line),
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in names}, strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid as error:
        raise InvalidInputError(f"CSV input cannot be read: {error}") from error


def _lines_skipping(first_line: int, refused_lines: list[int]) -> Callable[[int], int]:
    """Map a row to its line, stepping over refused lines (exact when no value spans lines)."""

    def line_of_row(row: int) -> int:
        line = first_line + row
        for refused_line in refused_lines:
            if refused_line <= line:
                line += 1
        return line

    return line_of_row


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


def _refuse(row: Any, refused: list[LineError], first_line: int) -> str:
    line = 0 if row.number is None else first_line + row.number - 1
    message = f"expected {row.expected_columns} fields, found {row.actual_columns}"
    refused.append(LineError(line, message))
    return "skip"


def typed_text_column(column: Any) -> Any:
    """Return a text column as int64, else float64, else boolean, else as it is (all null: null)."""
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
