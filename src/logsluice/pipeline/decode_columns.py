"""Shaping decoded columns into what ``LogStore.append`` takes.

The output has the time field first (``timestamp[us, UTC]``), then ``logstream`` (string), then
the other fields as boolean, int32 (narrow integers stay narrow), int64, float64, string or a list
of those. Nested objects are flattened into leaf fields named by their dotted path
(``{"http": {"status": 500}}`` gives ``http.status``, ADR 0017); lists of scalars stay lists;
lists of objects or of mixed values, maps and other Arrow types become their JSON text or text.
All-null columns are left out, and columns whose names differ only by case are merged (widened
when their types differ). Records built in Python (the per-line fallback) are flattened and widen
clashing values the same way: int and float to float, anything else with text to text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from logsluice.domain.catalog import LOGSTREAM_FIELD
from logsluice.pipeline.decode_time import convert_times
from logsluice.pipeline.decode_types import DecodeOptions, LineError

_KEPT_TYPES = (pa.bool_(), pa.int32(), pa.int64(), pa.float64(), pa.string())
_NARROW_INTEGERS = (pa.int8(), pa.int16(), pa.uint8(), pa.uint16())
_PATH_SEPARATOR = "."


def finish_table(
    raw: pa.Table, row_count: int, options: DecodeOptions, line_of_row: Callable[[int], int]
) -> tuple[pa.Table, list[LineError]]:
    """Return ``raw`` (``row_count`` rows) shaped for append, and the rows refused for their time.

    ``line_of_row`` maps a 0-based row of ``raw`` to its 1-based line in the input.
    """
    raw = flatten_objects(raw)
    groups: dict[str, list[tuple[str, Any]]] = {}
    for name, column in zip(raw.column_names, raw.columns, strict=True):
        groups.setdefault(name.lower(), []).append((name, column))
    time_column = _merged(groups.pop(options.time_field.lower(), []), normalize=False)
    times = convert_times(
        time_column,
        row_count,
        options.arrival_time,
        field_name=options.time_field,
        time_format=options.time_format,
    )
    streams = _logstreams(groups.pop(LOGSTREAM_FIELD, []), row_count, options.logstream)
    names, columns = [options.time_field, LOGSTREAM_FIELD], [times.values, streams]
    for group in groups.values():
        merged = _merged(group, normalize=True)
        if merged is not None and not pa.types.is_null(merged.type):
            names.append(group[0][0])
            columns.append(merged)
    table = pa.table(columns, names=names)
    if not times.bad_rows:
        return table, []
    return _without_rows(table, times.bad_rows, line_of_row)


def concat_widened(tables: list[pa.Table]) -> pa.Table:
    """Concatenate finished tables whose columns may differ in set, case or type (widened)."""
    names: dict[str, str] = {}
    types: dict[str, set[pa.DataType]] = {}
    for table in tables:
        for arrow_field in table.schema:
            names.setdefault(arrow_field.name.lower(), arrow_field.name)
            types.setdefault(arrow_field.name.lower(), set()).add(arrow_field.type)
    targets = {key: _common_type(found) for key, found in types.items()}
    return pa.concat_tables([_conformed(table, names, targets) for table in tables])


def _common_type(types: set[pa.DataType]) -> pa.DataType:
    if len(types) == 1:
        return next(iter(types))
    if types <= {pa.int32(), pa.int64()}:
        return pa.int64()
    if types <= {pa.int32(), pa.int64(), pa.float64()}:
        return pa.float64()
    if all(pa.types.is_list(data_type) for data_type in types):
        elements = {data_type.value_type for data_type in types}
        return pa.list_(_common_type(elements))
    return pa.string()


def _conformed(table: pa.Table, names: dict[str, str], targets: dict[str, pa.DataType]) -> pa.Table:
    by_key = {
        name.lower(): column for name, column in zip(table.column_names, table.columns, strict=True)
    }
    columns = []
    for key, target in targets.items():
        column = by_key.get(key)
        if column is None:
            columns.append(pa.nulls(table.num_rows, target))
        else:
            columns.append(column if column.type == target else _cast_or_text(column, target))
    return pa.table(columns, names=[names[key] for key in targets])


def flatten_objects(table: pa.Table) -> pa.Table:
    """Return ``table`` with its struct columns replaced by their leaves, named by dotted path."""
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    return table


def flatten_record(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return a parsed JSON record's leaves by dotted path (``{"a": {"b": 1}}`` → ``a.b``)."""
    leaves: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            leaves.update(flatten_record(value, name + _PATH_SEPARATOR))
        elif not isinstance(value, dict):
            leaves[name] = value
    return leaves


def normalize_column(column: Any) -> Any:
    """Return ``column`` as boolean, int32, int64, float64, string, a list of one of those, or
    null type, keeping every value (anything else becomes its JSON text or text)."""
    data_type = column.type
    if pa.types.is_dictionary(data_type):
        return normalize_column(pc.cast(column, data_type.value_type))
    if data_type in _KEPT_TYPES or pa.types.is_null(data_type):
        return column
    if data_type in _NARROW_INTEGERS:
        return pc.cast(column, pa.int32())
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return _scalar_list(column)
    if pa.types.is_integer(data_type):
        return _cast_or_text(column, pa.int64())
    if pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return _cast_or_text(column, pa.float64())
    if _is_nested(data_type):
        return pa.array(json_texts(column.to_pylist()), type=pa.string())
    return _cast_or_text(column, pa.string())


def _scalar_list(column: Any) -> Any:
    """A list of scalars keeps its (normalized) element type; any other list is JSON text."""
    element = column.type.value_type
    if pa.types.is_null(element):
        return pc.cast(column, pa.list_(pa.string()))
    for target in (pa.bool_(), pa.int64(), pa.float64(), pa.string()):
        if _same_kind(element, target):
            return pc.cast(column, pa.list_(target))
    return pa.array(json_texts(column.to_pylist()), type=pa.string())


def _same_kind(element: pa.DataType, target: pa.DataType) -> bool:
    if target == pa.int64():
        return bool(pa.types.is_integer(element))
    if target == pa.float64():
        return bool(pa.types.is_floating(element))
    if target == pa.string():
        return bool(pa.types.is_string(element) or pa.types.is_large_string(element))
    return bool(element == target)


def table_from_records(records: list[dict[str, Any]]) -> pa.Table:
    """Return the columns of parsed JSON records (flattened), widening values whose types clash."""
    records = [flatten_record(record) for record in records]
    names = list(dict.fromkeys(key for record in records for key in record))
    columns = [python_column([record.get(name) for record in records]) for name in names]
    return pa.table(columns, names=names)


def python_column(values: list[Any]) -> pa.Array:
    """Return one column of Python values: Arrow's own inference, else the widened type; a list
    of scalars stays a list."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return _widened(values)
    if pa.types.is_list(array.type):
        return normalize_column(array)
    return _widened(values) if _is_nested(array.type) else array


def json_texts(values: Iterable[Any]) -> list[str | None]:
    """Return values as text: strings as they are, anything else as JSON."""
    return [None if value is None else _as_text(value) for value in values]


def _widened(values: list[Any]) -> pa.Array:
    kinds = {type(value) for value in values if value is not None}
    if kinds == {int, float}:
        return pa.array([None if value is None else float(value) for value in values], pa.float64())
    return pa.array(json_texts(values), type=pa.string())


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _is_nested(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_struct(data_type)
        or pa.types.is_list(data_type)
        or pa.types.is_large_list(data_type)
        or pa.types.is_fixed_size_list(data_type)
        or pa.types.is_map(data_type)
    )


def as_text(column: Any) -> Any:
    """Return ``column`` as text: strings as they are, lists and objects as JSON."""
    return _cast_or_text(column, pa.string())


def _cast_or_text(column: Any, data_type: pa.DataType) -> Any:
    if _is_nested(column.type) and data_type == pa.string():
        return pa.array(json_texts(column.to_pylist()), type=pa.string())
    try:
        return pc.cast(column, data_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        return pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array(json_texts(_plain(column.to_pylist())), type=pa.string())


def _plain(values: list[Any]) -> list[Any]:
    return [value.hex() if isinstance(value, bytes) else value for value in values]


def _merged(group: list[tuple[str, Any]], *, normalize: bool) -> Any:
    columns = [normalize_column(column) if normalize else column for _, column in group]
    if not columns:
        return None
    if len(columns) == 1:
        return columns[0]
    types = {column.type for column in columns if not pa.types.is_null(column.type)}
    if len(types) > 1:
        target = _common_type(types)
        columns = [_cast_or_text(normalize_column(column), target) for column in columns]
    return pc.coalesce(*columns)


def _logstreams(group: list[tuple[str, Any]], row_count: int, default: str | None) -> Any:
    fallback = default or ""
    column = _merged(group, normalize=True)
    if column is None or pa.types.is_null(column.type):
        return pa.repeat(pa.scalar(fallback, pa.string()), row_count)
    return pc.fill_null(_cast_or_text(column, pa.string()), fallback)


def _without_rows(
    table: pa.Table, bad_rows: tuple[tuple[int, str], ...], line_of_row: Callable[[int], int]
) -> tuple[pa.Table, list[LineError]]:
    keep = [True] * table.num_rows
    for row, _ in bad_rows:
        keep[row] = False
    errors = [LineError(line_of_row(row), message) for row, message in bad_rows]
    return table.filter(pa.array(keep)), errors
