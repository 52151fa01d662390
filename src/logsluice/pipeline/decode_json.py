"""Decoding JSON Lines blocks and JSON arrays into append-ready tables.

The fast path hands each piece of a block to ``pyarrow.json.read_json`` (C++, on the calling
thread). A piece that Arrow refuses or cannot represent faithfully (a malformed line, a value
whose type clashes with its column, nested objects or arrays, blank lines) takes the per-line
path: each line is parsed with ``orjson``, which names the lines that are not JSON objects, and
the columns are built and widened in Python. Text columns that Arrow would read as timestamps are
read again as text, and remembered, so a value is stored exactly as it was sent.

Memory stays bounded by the input, whatever its shape: a block is read in pieces of at most
``_PIECE_BYTES`` (Arrow fills every field of a piece for every row, so a piece whose lines each
bring new fields costs fields × rows), and a piece goes to Arrow only when an upper bound of its
fields times its rows is small, its bytes are UTF-8 and no line may nest deeper than
``MAX_NESTING_DEPTH``; otherwise it is read line by line, where each line is checked exactly. The
distinct fields of the whole input are counted as they appear, and past ``max_fields`` the input
is refused (TooManyFieldsError) before anything larger is built.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from logsluice.domain.errors import InvalidRecordsError, TooManyFieldsError
from logsluice.pipeline.decode_columns import (
    concat_widened,
    finish_table,
    flatten_record,
    table_from_records,
)
from logsluice.pipeline.decode_types import (
    MAX_NESTING_DEPTH,
    DecodedChunk,
    DecodeOptions,
    LineError,
)

# Nested objects and lists are read by Arrow and flattened later (decode_columns); only a list of
# lists or of objects is read line by line, where each value becomes its JSON text.
_NESTED_CHECKS = (pa.types.is_map,)
# A block Arrow refuses is cut into pieces and each piece tried again, so a few bad lines send
# only a small piece, not the whole block, down the per-line path.
_PIECES = 16
_SMALLEST_PIECE_LINES = 1024
# Arrow reads a block in pieces this large at most (a longer line is a piece of its own).
_PIECE_BYTES = 64 * 1024
# Pieces are read on the calling thread: for 64 KiB, handing the work to Arrow's thread pool and
# waiting for it cost 15-60 % more CPU and time than reading it here (decoding 100,000 records of
# bench/ingest.py on 2 cores), and a server decodes its requests on threads of its own anyway.
_READ_OPTIONS = pa_json.ReadOptions(use_threads=False)
# A piece goes to Arrow when (an upper bound of) its fields times its rows is below this.
_MAX_ARROW_CELLS = 8_000_000
# Where a key may end: a quote, blanks, a colon (also inside strings, so an upper bound).
_KEY_ENDS = re.compile(rb'"[ \t\r]*:')
# Deleting every byte but brackets and newlines leaves what bounds each line's nesting.
_ALL_BYTES = bytes(range(256))
_NOT_BRACKETS = bytes(byte for byte in _ALL_BYTES if byte not in b"[{\n")
_NOT_COLONS = bytes(byte for byte in _ALL_BYTES if byte not in b":\n")
_SETTING = "LOGSLUICE_INGEST_MAX_FIELDS"
_TOO_DEEP = f"the record nests deeper than {MAX_NESTING_DEPTH} levels of objects and arrays"


@dataclass
class JsonLinesDecoder:
    """Decodes the blocks of one JSON Lines input, remembering columns that must be read as text."""

    options: DecodeOptions
    text_columns: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)

    def decode_block(
        self, block: bytes, first_line: int, line_count: int | None = None
    ) -> DecodedChunk:
        """Return the records of ``block``, whose first line is line ``first_line`` of the input.

        Raises TooManyFieldsError once the input has more than ``options.max_fields`` fields.
        """
        tables: list[pa.Table] = []
        errors: list[LineError] = []
        for piece_first_line, piece_line_count, piece in _bounded_pieces(block, first_line):
            if self._arrow_may_read(piece, piece_line_count):
                table, piece_errors = self._decode(piece, piece_first_line, piece_line_count)
            else:
                table, piece_errors = self._decode_lines(piece, piece_first_line)
            self._count_fields(table.column_names)
            tables.append(table)
            errors.extend(piece_errors)
        if not tables:  # only blank lines
            tables.append(self._decode_lines(b"", first_line)[0])
        # one Arrow chunk per column: DuckDB makes a vector of every column for each chunk it
        # reads, so many small chunks of a wide table cost it far more memory than their bytes
        table = concat_widened(tables).combine_chunks() if len(tables) > 1 else tables[0]
        return DecodedChunk(table, table.num_rows, errors)

    def _arrow_may_read(self, piece: bytes, line_count: int) -> bool:
        """Tell whether Arrow may read ``piece``: bounded fields × rows, UTF-8, shallow."""
        key_bound = piece.count(b":")  # every key ends with one (so do times, URLs: a bound)
        if key_bound * line_count > _MAX_ARROW_CELLS:
            return False
        if _most_in_a_line(piece, _NOT_COLONS) > 4 * self._field_limit():
            return False  # one record of that many fields: Arrow would build them all
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return _most_in_a_line(piece, _NOT_BRACKETS) <= MAX_NESTING_DEPTH

    def _field_limit(self) -> int:
        return self.options.max_fields or 1_000_000

    def _count_fields(self, names: Iterable[str]) -> None:
        self.fields.update(name.lower() for name in names)
        if len(self.fields) > self._field_limit():
            raise self._too_many_fields()

    def _too_many_fields(self) -> TooManyFieldsError:
        limit = self._field_limit()
        return TooManyFieldsError(
            f"the records have more than {limit} distinct fields ({_SETTING}; a nested object "
            "counts its leaves); nothing was stored",
            limit=limit,
            setting=_SETTING,
        )

    def _decode(
        self, block: bytes, first_line: int, line_count: int
    ) -> tuple[pa.Table, list[LineError]]:
        raw = _arrow_read(block, self.text_columns)
        if raw is not None and raw.num_rows == line_count and not _needs_line_path(raw):
            raw = self._with_text_columns(raw, block)
        if raw is not None and raw.num_rows == line_count and not _needs_line_path(raw):
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
            if len(_KEY_ENDS.findall(line)) > 4 * self._field_limit():
                raise self._too_many_fields()  # not parsed: its fields alone pass the limit
            record = _parse_line(line, first_line + offset, errors)
            if record is not None:
                self._count_fields(flatten_record(record))
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
        lines, too_deep = _element_lines(elements[start : start + chunk_records], start + 1)
        chunk = decoder.decode_block(b"\n".join(lines), start + 1, len(lines))
        if too_deep:
            errors = sorted(chunk.errors + too_deep, key=lambda error: error.line)
            chunk = DecodedChunk(chunk.table, chunk.accepted, errors)
        yield chunk


def _element_lines(elements: list[Any], first_line: int) -> tuple[list[bytes], list[LineError]]:
    """Return each element as a JSON line (a blank line for one too deep to write) and the
    errors of those too deep."""
    lines: list[bytes] = []
    too_deep: list[LineError] = []
    for line, element in enumerate(elements, start=first_line):
        try:
            lines.append(orjson.dumps(element))
        except TypeError:  # orjson writes at most 254 levels
            lines.append(b"")
            too_deep.append(LineError(line, _TOO_DEEP))
    return lines, too_deep


def _arrow_read(block: bytes, text_columns: set[str]) -> pa.Table | None:
    if not block.lstrip().startswith(b"{"):
        # Arrow's reader crashes the process (segfault, pyarrow 26) on a block whose first value
        # is `null`; a block that does not start with an object goes down the per-line path.
        return None
    schema = pa.schema([(name, pa.string()) for name in sorted(text_columns)])
    parse_options = pa_json.ParseOptions(explicit_schema=schema if text_columns else None)
    try:
        return pa_json.read_json(
            io.BytesIO(block), read_options=_READ_OPTIONS, parse_options=parse_options
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _needs_line_path(table: pa.Table) -> bool:
    """True when a column needs the per-line path: nesting Arrow cannot keep, or a field name
    that cannot be stored (empty, or holding a NUL), which that path refuses line by line."""
    if any(_bad_name(arrow_field) for arrow_field in table.schema):
        return True
    return any(_unsupported(column.type) for column in table.columns)


def _bad_name(arrow_field: pa.Field) -> bool:
    """True when the field or one of its nested leaves has a name that cannot be stored."""
    if not arrow_field.name or "\x00" in arrow_field.name:
        return True
    if pa.types.is_struct(arrow_field.type):
        return any(_bad_name(child) for child in arrow_field.type)
    return False


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
    problem = _record_problem(value, line.count(b"[") + line.count(b"{"))
    if problem is not None:
        errors.append(LineError(line_number, problem))
        return None
    return value


def _record_problem(record: dict[str, Any], openers: int) -> str | None:
    """Return why a parsed record is refused (too deep, a NUL in a field name), else None."""
    if openers > MAX_NESTING_DEPTH and _depth(record) > MAX_NESTING_DEPTH:
        return _TOO_DEEP
    names = flatten_record(record)
    if any("\x00" in name for name in names):
        return "a field name contains a NUL character"
    if "" in names:
        return "a field name is empty"
    return None


def _depth(value: Any) -> int:
    """Return how deep objects and arrays nest in ``value`` (iteratively: no recursion limit)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in children)
    return deepest


def _bounded_pieces(block: bytes, first_line: int) -> Iterator[tuple[int, int, bytes]]:
    """Cut ``block`` at newlines into pieces of about ``_PIECE_BYTES``.

    Yields (first line, line count, piece)."""
    start = 0
    while start < len(block):
        end = block.find(b"\n", start + _PIECE_BYTES) + 1 or len(block)
        piece = block[start:end]
        line_count = _line_count(piece)
        if not piece.isspace():
            yield first_line, line_count, piece
        first_line += line_count
        start = end


def _most_in_a_line(piece: bytes, others: bytes) -> int:
    """Return the most bytes of one line of ``piece`` that are not in ``others`` (a line's
    ``[`` and ``{`` bound its nesting depth, its ``:`` its fields)."""
    return max(map(len, piece.translate(None, others).split(b"\n")))
