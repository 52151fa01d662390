"""Names and types of the DuckDB log store: quoted identifiers, and field types in SQL and Arrow.

A logstore is the table ``"<project>"."<logstore>"``; its first column is the time field
(``TIMESTAMPTZ``), then ``logstream``, then the fields in the order they first arrived.
"""

from __future__ import annotations

import pyarrow as pa

from logsluice.domain.catalog import FieldType
from logsluice.domain.names import check_name

_SCALAR_SQL = {
    FieldType.BOOLEAN: "BOOLEAN",
    FieldType.INTEGER: "INTEGER",
    FieldType.BIGINT: "BIGINT",
    FieldType.DOUBLE: "DOUBLE",
    FieldType.VARCHAR: "VARCHAR",
}
FIELD_TYPE_SQL: dict[FieldType, str] = {
    **_SCALAR_SQL,
    FieldType.TIMESTAMP: "TIMESTAMPTZ",
    **{scalar.as_list(): f"{type_sql}[]" for scalar, type_sql in _SCALAR_SQL.items()},
}

_SQL_FIELD_TYPE: dict[str, FieldType] = {
    **{type_sql: field_type for field_type, type_sql in FIELD_TYPE_SQL.items()},
    "TIMESTAMP WITH TIME ZONE": FieldType.TIMESTAMP,
    "TIMESTAMP": FieldType.TIMESTAMP,
}
# Arrow integer types that fit a 32-bit INTEGER column; other integers are BIGINT.
_SMALL_INTEGERS = (pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16())


def quote_identifier(name: str) -> str:
    """Return ``name`` as a DuckDB identifier in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Return ``text`` as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def table_sql(project: str, logstore: str, catalog: str | None = None) -> str:
    """Return the quoted, schema-qualified table of a logstore; names are checked first.

    ``catalog`` prefixes the name with an attached database (the DuckLake store's ``lake``).
    """
    check_name("project", project)
    check_name("logstore", logstore)
    prefix = f"{quote_identifier(catalog)}." if catalog else ""
    return f"{prefix}{quote_identifier(project)}.{quote_identifier(logstore)}"


def field_type_from_sql(type_sql: str) -> FieldType:
    """Map a DuckDB column type to a field type; types logsluice never creates read as VARCHAR."""
    return _SQL_FIELD_TYPE.get(type_sql.upper(), FieldType.VARCHAR)


def field_type_from_arrow(arrow_type: pa.DataType) -> FieldType:
    """Map an incoming Arrow column type to the field type it is stored as: small integers stay
    INTEGER, a list of scalars a list type; structs, maps and other lists are JSON text."""
    if _is_list(arrow_type):
        element = _scalar_type(arrow_type.value_type)
        return element.as_list() if element is not None else FieldType.VARCHAR
    if pa.types.is_timestamp(arrow_type):
        return FieldType.TIMESTAMP
    return _scalar_type(arrow_type) or FieldType.VARCHAR


def _scalar_type(arrow_type: pa.DataType) -> FieldType | None:
    if pa.types.is_boolean(arrow_type):
        return FieldType.BOOLEAN
    if pa.types.is_integer(arrow_type):
        return FieldType.INTEGER if arrow_type in _SMALL_INTEGERS else FieldType.BIGINT
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return FieldType.DOUBLE
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return FieldType.VARCHAR
    return None


def _is_list(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type))


def is_nested_arrow(arrow_type: pa.DataType) -> bool:
    """Tell whether a column holds structs, lists or maps (stored as JSON text unless a list of
    scalars, see :func:`field_type_from_arrow`)."""
    return bool(
        pa.types.is_struct(arrow_type)
        or pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
        or pa.types.is_map(arrow_type)
    )
