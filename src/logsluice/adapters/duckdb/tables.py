"""Names and types of the DuckDB log store: quoted identifiers, and field types in SQL and Arrow.

A logstore is the table ``"<project>"."<logstore>"``; its first column is the time field
(``TIMESTAMPTZ``), then ``logstream``, then the fields in the order they first arrived.
"""

from __future__ import annotations

import pyarrow as pa

from logsluice.domain.catalog import FieldType
from logsluice.domain.names import check_name

FIELD_TYPE_SQL: dict[FieldType, str] = {
    FieldType.BOOLEAN: "BOOLEAN",
    FieldType.BIGINT: "BIGINT",
    FieldType.DOUBLE: "DOUBLE",
    FieldType.VARCHAR: "VARCHAR",
    FieldType.TIMESTAMP: "TIMESTAMPTZ",
}

_SQL_FIELD_TYPE: dict[str, FieldType] = {
    "BOOLEAN": FieldType.BOOLEAN,
    "BIGINT": FieldType.BIGINT,
    "DOUBLE": FieldType.DOUBLE,
    "VARCHAR": FieldType.VARCHAR,
    "TIMESTAMP WITH TIME ZONE": FieldType.TIMESTAMP,
    "TIMESTAMP": FieldType.TIMESTAMP,
}


def quote_identifier(name: str) -> str:
    """Return ``name`` as a DuckDB identifier in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Return ``text`` as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def table_sql(project: str, logstore: str) -> str:
    """Return the quoted, schema-qualified table of a logstore; names are checked first."""
    check_name("project", project)
    check_name("logstore", logstore)
    return f"{quote_identifier(project)}.{quote_identifier(logstore)}"


def field_type_from_sql(type_sql: str) -> FieldType:
    """Map a DuckDB column type to a field type; types logsluice never creates read as VARCHAR."""
    return _SQL_FIELD_TYPE.get(type_sql.upper(), FieldType.VARCHAR)


def field_type_from_arrow(arrow_type: pa.DataType) -> FieldType:
    """Map an incoming Arrow column type to the field type it is stored as."""
    if pa.types.is_boolean(arrow_type):
        return FieldType.BOOLEAN
    if pa.types.is_integer(arrow_type):
        return FieldType.BIGINT
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return FieldType.DOUBLE
    if pa.types.is_timestamp(arrow_type):
        return FieldType.TIMESTAMP
    return FieldType.VARCHAR


def is_nested_arrow(arrow_type: pa.DataType) -> bool:
    """Tell whether a column holds structs, lists or maps (stored as JSON text)."""
    return bool(
        pa.types.is_struct(arrow_type)
        or pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
        or pa.types.is_map(arrow_type)
    )
