"""Decoding JSON Lines blocks and JSON arrays into append-ready tables.

The fast path hands a whole block to ``pyarrow.json.read_json`` (multi-threaded C++). A block
that Arrow refuses or cannot represent faithfully (a malformed line, a value whose type clashes
with its column, nested objects or arrays, blank lines) takes the per-line path: each line is
parsed with ``orjson``, which names the lines that are not JSON objects, and the columns are built
and widened in Python. Text columns that Arrow would read as timestamps are read again as text,
and remembered, so a value is stored exactly as it was sent.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from logsluice.domain.errors import InvalidRecordsError
from logsluice.pipeline.decode_columns import concat_widened, finish_table, table_from_records
from logsluice.pipeline.decode_types import DecodedChunk, DecodeOptions, LineError

# Nested objects and lists are read by Arrow and flattened later (decode_columns); only a list of
# lists or of objects is read line by line, where each value becomes its JSON text.
_NESTED_CHECKS = (pa.types.is_map,)
# A block Arrow refuses is cut into pieces and each piece tried again, so a few bad lines send
# only a small piece, not the whole block, down the per-line path.
_PIECES = 16
_SMALLEST_PIECE_LINES = 1024


@dataclass
class JsonLinesDecoder:
    """Decodes the blocks of one JSON Lines input, remembering columns that must be read as text."""

    options: DecodeOptions
    text_columns: set[str] = field(default_factory=set)

    def decode_block(
        self, block: bytes, first_line: int, line_count: int | None = None
    ) -> DecodedChunk:
        """Return the records of ``block``, whose first line is line ``first_line`` of the input."""
        count = _line_count(block) if line_count is None else line_count
        table, errors = self._decode(block, first_line, count)
        return DecodedChunk(table, table.num_rows, errors)

    def _decode(
        self, block: bytes, first_line: int, line_count: int
    ) -> tuple[pa.Table, list[LineError]]:
        raw = _arrow_read(block, self.text_columns)
        if raw is not None and raw.num_rows == line_count and not _has_nested(raw):
            raw = self._with_text_columns(raw, block)
        if raw is not None and raw.num_rows == line_count and not _has_nested(raw):
            return finish_table(raw, raw.num_rows, self.options, lambda row: first_line + row)
        if raw is not None or line_count <= _SMALLEST_PIECE_LINES:
            return self._decode_lines(block, first_line)
        return self._decode_pieces(block, first_line)

    def _decode_pieces(self, block: bytes, first_line: int) -> tuple[pa.Table, list[LineError]]:
        tables: list[pa.Table] = []
        errors: list[LineError] = []
        for piece_first_line, piece_line_count, piece in _pieces(block, first_line):
            table, piece_errors = self._decode(piece, piece_first_line, piece_line_count)
            tables.append(table)
            errors.extend(piece_errors)
        return concat_widened(tables), errors

    def _with_text_columns(self, raw: pa.Table, block: bytes) -> pa.Table | None:
        new_text = {
            name
            for name, column in zip(raw.column_names, raw.columns, strict=True)
            if pa.types.is_timestamp(column.type)
            and name.lower() != self.options.time_field.lower()
        }
        if not new_text:
            return raw
        self.text_columns |= new_text
        again = _arrow_read(block, self.text_columns)
        if again is None:
            return None
        order = raw.column_names + [
            name for name in again.column_names if name not in raw.column_names
        ]
        return again.select(order)

    def _decode_lines(self, block: bytes, first_line: int) -> tuple[pa.Table, list[LineError]]:
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        errors: list[LineError] = []
        for offset, line in enumerate(block.split(b"\n")):
            if not line.strip():
                continue
            record = _parse_line(line, first_line + offset, errors)
            if record is not None:
                records.append(record)
                lines.append(first_line + offset)
        table, time_errors = finish_table(
            table_from_records(records), len(records), self.options, lines.__getitem__
        )
        return table, sorted(errors + time_errors, key=lambda error: error.line)


def decode_json_array(
    data: bytes, options: DecodeOptions, chunk_records: int
) -> Iterator[DecodedChunk]:
    """Yield the records of a JSON array (or one object); element ``i`` is reported as line i+1.

    Raises InvalidRecordsError when the body is not JSON or not an array of objects at all.
    """
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidRecordsError(
            f"body is not JSON: {error}", errors=[{"line": 1, "message": str(error)}]
        ) from error
    elements = [parsed] if isinstance(parsed, dict) else parsed
    if not isinstance(elements, list):
        message = "body must be a JSON array of objects"
        raise InvalidRecordsError(message, errors=[{"line": 1, "message": message}])
    decoder = JsonLinesDecoder(options)
    for start in range(0, len(elements), chunk_records):
        part = elements[start : start + chunk_records]
        yield decoder.decode_block(b"\n".join(orjson.dumps(element) for element in part), start + 1)


def _arrow_read(block: bytes, text_columns: set[str]) -> pa.Table | None:
    if not block.lstrip().startswith(b"{"):
        # Arrow's reader crashes the process (segfault, pyarrow 26) on a block whose first value
        # is `null`; a block that does not start with an object goes down the per-line path.
        return None
    schema = pa.schema([(name, pa.string()) for name in sorted(text_columns)])
    parse_options = pa_json.ParseOptions(explicit_schema=schema if text_columns else None)
    try:
        return pa_json.read_json(io.BytesIO(block), parse_options=parse_options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _has_nested(table: pa.Table) -> bool:
    return any(_unsupported(column.type) for column in table.columns)


def _unsupported(data_type: pa.DataType) -> bool:
    if any(check(data_type) for check in _NESTED_CHECKS):
        return True
    if pa.types.is_struct(data_type):
        return any(_unsupported(field.type) for field in data_type)
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return bool(pa.types.is_nested(data_type.value_type))
    return False


def _pieces(block: bytes, first_line: int) -> Iterator[tuple[int, int, bytes]]:
    """Cut ``block`` at newlines into about ``_PIECES`` pieces: (first line, line count, piece)."""
    start, step = 0, max(1, len(block) // _PIECES)
    while start < len(block):
        end = block.find(b"\n", start + step) + 1 or len(block)
        piece = block[start:end]
        line_count = _line_count(piece)
        if not piece.isspace():
            yield first_line, line_count, piece
        first_line += line_count
        start = end


def _line_count(block: bytes) -> int:
    return block.count(b"\n") + (0 if block.endswith(b"\n") else 1)


def _parse_line(line: bytes, line_number: int, errors: list[LineError]) -> dict[str, Any] | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        errors.append(LineError(line_number, f"invalid JSON: {error}"))
        return None
    if not isinstance(value, dict):
        errors.append(LineError(line_number, "a record must be a JSON object"))
        return None
    return value
