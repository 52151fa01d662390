"""How one Arrow table is appended to a logstore table: schema changes first, then one INSERT.

Incoming columns are matched to stored fields case-insensitively. A new column extends the
schema; a column whose type clashes with the stored one widens it (``domain.catalog.widen``) and
DuckDB converts the stored values; the incoming values are cast to the stored type in the INSERT.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from logsluice.adapters.duckdb.tables import (
    FIELD_TYPE_SQL,
    field_type_from_arrow,
    is_nested_arrow,
    quote_identifier,
)
from logsluice.domain.catalog import LOGSTREAM_FIELD, FieldType, LogstoreSchema, widen
from logsluice.domain.errors import InvalidRecordsError

# Arrow types DuckDB stores as the field type without a cast.
_SCALAR_ARROW_TYPES = {
    FieldType.BOOLEAN: pa.bool_(),
    FieldType.INTEGER: pa.int32(),
    FieldType.BIGINT: pa.int64(),
    FieldType.DOUBLE: pa.float64(),
    FieldType.VARCHAR: pa.string(),
}
_NATIVE_ARROW_TYPES = {
    **_SCALAR_ARROW_TYPES,
    FieldType.TIMESTAMP: pa.timestamp("us", "UTC"),
    **{scalar.as_list(): pa.list_(arrow) for scalar, arrow in _SCALAR_ARROW_TYPES.items()},
}


@dataclass(frozen=True)
class ColumnChange:
    """One schema change: a new column (``added``) or a widened one."""

    name: str
    field_type: FieldType
    added: bool
    from_list: bool = False  # a list column widened to text keeps its values as JSON

    def statement(self, table: str) -> str:
        """Return the ALTER TABLE statement that applies this change to ``table``."""
        column = quote_identifier(self.name)
        type_sql = FIELD_TYPE_SQL[self.field_type]
        if self.added:
            return f"ALTER TABLE {table} ADD COLUMN {column} {type_sql}"
        using = f" USING CAST(to_json({column}) AS VARCHAR)" if self.from_list else ""
        return f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_sql}{using}"

    @property
    def is_promotion(self) -> bool:
        """Tell whether the change is a new column or a numeric widening (INTEGER to BIGINT to
        DOUBLE, element-wise in lists), which every DuckDB catalog applies in place."""
        scalar = self.field_type.element or self.field_type
        return self.added or (not self.from_list and scalar.is_numeric)

    def copying_statements(self, table: str) -> tuple[str, ...]:
        """Return this change as a new column filled from the old one, which then replaces it
        (for catalogs that convert no stored values in place, like DuckLake's: the widened
        column moves to the end of the table)."""
        column = quote_identifier(self.name)
        staging = quote_identifier(f"__logsluice_widening_{self.name}")
        value = (
            f"CAST(to_json({column}) AS VARCHAR)"
            if self.from_list
            else f"CAST({column} AS {FIELD_TYPE_SQL[self.field_type]})"
        )
        return (
            f"ALTER TABLE {table} ADD COLUMN {staging} {FIELD_TYPE_SQL[self.field_type]}",
            f"UPDATE {table} SET {staging} = {value}",
            f"ALTER TABLE {table} DROP COLUMN {column}",
            f"ALTER TABLE {table} RENAME COLUMN {staging} TO {column}",
        )


@dataclass(frozen=True)
class AppendPlan:
    """The schema changes an append needs, then the INSERT's columns and SELECT expressions."""

    changes: tuple[ColumnChange, ...]
    insert_columns: tuple[str, ...]
    select_expressions: tuple[str, ...]

    @property
    def added_fields(self) -> int:
        """How many new columns the append adds."""
        return sum(1 for change in self.changes if change.added)

    def insert_statement(self, table: str, source: str, sort_by: str | None) -> str:
        """Return the INSERT copying ``source`` into ``table``, sorted by ``sort_by`` if given."""
        columns = ", ".join(quote_identifier(name) for name in self.insert_columns)
        selects = ", ".join(self.select_expressions)
        order = f" ORDER BY {quote_identifier(sort_by)}" if sort_by else ""
        return f"INSERT INTO {table} ({columns}) SELECT {selects} FROM {source}{order}"


def plan_append(stored: LogstoreSchema, records: pa.Table) -> AppendPlan:
    """Return how to append a table of schema ``incoming`` to a logstore of schema ``stored``.

    Raises InvalidRecordsError when the time field is missing or not a timestamp, or when two
    columns differ only by case.
    """
    incoming: pa.Schema = records.schema
    _check_incoming(stored.time_field, incoming)
    changes: list[ColumnChange] = []
    insert_columns: list[str] = []
    selects: list[str] = []
    for arrow_field in incoming:
        target_name, target_type, change = _target(stored, arrow_field)
        if change is not None:
            changes.append(change)
        insert_columns.append(target_name)
        has_nulls = records.column(arrow_field.name).null_count > 0
        needs_default = _is_logstream(target_name) and has_nulls
        selects.append(_select_expression(arrow_field, target_type, needs_default=needs_default))
    return AppendPlan(tuple(changes), tuple(insert_columns), tuple(selects))


def _check_incoming(time_field: str, incoming: pa.Schema) -> None:
    lowered = [name.lower() for name in incoming.names]
    duplicates = sorted({name for name in lowered if lowered.count(name) > 1})
    if duplicates:
        raise InvalidRecordsError(
            f"columns differ only by case: {', '.join(duplicates)}",
            errors=[{"line": 0, "message": f"duplicate column {name!r}"} for name in duplicates],
        )
    if time_field.lower() not in lowered:
        raise InvalidRecordsError(
            f"records lack the time field {time_field!r}",
            errors=[{"line": 0, "message": f"missing time field {time_field!r}"}],
        )
    time_type = incoming.field(lowered.index(time_field.lower())).type
    if not pa.types.is_timestamp(time_type):
        raise InvalidRecordsError(
            f"time field {time_field!r} must be a timestamp, not {time_type}",
            errors=[{"line": 0, "message": f"time field {time_field!r} is {time_type}"}],
        )


def _target(
    stored: LogstoreSchema, arrow_field: pa.Field
) -> tuple[str, FieldType, ColumnChange | None]:
    incoming_type = _incoming_field_type(arrow_field.type)
    existing = stored.get(arrow_field.name)
    if existing is None:
        return (
            arrow_field.name,
            incoming_type,
            ColumnChange(arrow_field.name, incoming_type, added=True),
        )
    if existing.name.lower() == stored.time_field.lower():
        return existing.name, FieldType.TIMESTAMP, None
    widened = widen(existing.type, incoming_type)
    if widened == existing.type:
        return existing.name, widened, None
    from_list = existing.type.element is not None and widened.element is None
    return existing.name, widened, ColumnChange(existing.name, widened, False, from_list)


def _incoming_field_type(arrow_type: pa.DataType) -> FieldType:
    if pa.types.is_null(arrow_type):
        return FieldType.VARCHAR
    return field_type_from_arrow(arrow_type)


def _is_logstream(name: str) -> bool:
    return name.lower() == LOGSTREAM_FIELD


def _select_expression(
    arrow_field: pa.Field, target_type: FieldType, *, needs_default: bool
) -> str:
    source = quote_identifier(arrow_field.name)
    if is_nested_arrow(arrow_field.type) and target_type.element is None:
        source = f"to_json({source})"
    expression = source
    if _NATIVE_ARROW_TYPES.get(target_type) != arrow_field.type:
        expression = f"CAST({source} AS {FIELD_TYPE_SQL[target_type]})"
    return f"COALESCE({expression}, '')" if needs_default else expression
