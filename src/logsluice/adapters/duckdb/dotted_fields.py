"""Nested fields in the SQL after ``|``: ``http.status`` names the field ``"http.status"``.

Nested records are stored as leaf fields named by their dotted path (ADR 0017). SQL reads
``http.status`` as column ``status`` of a table ``http``, so before the query runs each dotted
reference that is not a table's column is turned into the quoted field name: ``http.status``,
``records.http.status`` and ``l.http.status`` (``l`` an alias) all become ``"http.status"``
(qualified as written). A dotted reference to a field the logstore lacks, whose first part no
table has, is the ``unknown_field`` error with the nearest field.
"""

from __future__ import annotations

from sqlglot import exp

from logsluice.domain.catalog import LogstoreSchema
from logsluice.domain.errors import InvalidQueryError
from logsluice.query.sql_syntax import RECORDS_TABLE_NAMES
from logsluice.query.suggestions import unknown_field_error


def resolve_dotted_fields(tree: exp.Query, schema: LogstoreSchema, sql_offset: int) -> exp.Query:
    """Return ``tree`` with its dotted field references as quoted field names (in place).

    Raises InvalidQueryError (``unknown_field``) for a dotted path no table and no field has.
    """
    fields = {field.name.lower(): field.name for field in schema.fields}
    tables = _table_names(tree)
    for node in list(tree.find_all(exp.Dot, exp.Column)):
        if _inside_dot(node) or node.parent is None:
            continue  # read as part of the Dot around it, or replaced with an ancestor
        parts = _parts(node)
        qualified = bool(parts) and parts[0].name.lower() in tables
        path = parts[1:] if qualified else parts
        if len(path) < 2:
            continue
        field = fields.get(".".join(part.name for part in path).lower())
        if field is not None:
            node.replace(_field_column(field, path[0], parts[0] if qualified else None))
        elif _prefixes_a_field(path[0].name, fields):
            raise _unknown(path, fields, sql_offset)
    return tree


def _inside_dot(node: exp.Expr) -> bool:
    return isinstance(node.parent, exp.Dot) and node.arg_key == "this"


def _parts(node: exp.Expr) -> list[exp.Identifier]:
    if isinstance(node, exp.Column):
        return [part for part in node.parts if isinstance(part, exp.Identifier)]
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Identifier):
        inner = _parts(node.this)
        return [*inner, node.expression] if inner else []
    return []


def _field_column(
    field: str, first: exp.Identifier, qualifier: exp.Identifier | None
) -> exp.Column:
    column = exp.column(field, quoted=True)
    if qualifier is not None:
        column.set("table", qualifier.copy())
    column.this.meta.update(first.meta)
    return column


def _prefixes_a_field(name: str, fields: dict[str, str]) -> bool:
    prefix = name.lower() + "."
    return any(field.startswith(prefix) for field in fields)


def _unknown(
    parts: list[exp.Identifier], fields: dict[str, str], sql_offset: int
) -> InvalidQueryError:
    start = parts[0].meta.get("start")
    position = sql_offset + (start if isinstance(start, int) else 0)
    path = ".".join(part.name for part in parts)
    return unknown_field_error(path, position, fields.values(), what="column")


def _table_names(tree: exp.Expr) -> set[str]:
    """Every name a column may be qualified with in the query: tables, aliases and CTEs."""
    names = set(RECORDS_TABLE_NAMES)
    for table in tree.find_all(exp.Table):
        names.add(table.name.lower())
        if table.alias:
            names.add(table.alias.lower())
    for alias in tree.find_all(exp.TableAlias):
        names.add(alias.name.lower())
    return names
