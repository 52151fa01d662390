"""Nested records again on the way out: leaf columns named by dotted path become objects.

The log store keeps a nested record's leaves as columns named by their path (``http.status``,
ADR 0017). JSON Lines and Parquet exports put them back together: ``http.method`` and
``http.status`` become one ``http`` object (a struct in Parquet) holding ``method`` and ``status``,
at any depth. :class:`Nesting` is planned once from the export's pinned schema and applied to every
batch, column by column (no Python per row). A record that has none of an object's leaves gets a
null object, not an object of nulls. A name that cannot nest stays as it is: one with an empty part
(``a..b``), and every name under a path that is itself a leaf (``a`` beside ``a.b``, a field that
was a value in some records and an object in others).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class _Leaf:
    index: int  # the column of the flat batch


@dataclass(frozen=True)
class _Group:
    members: tuple[tuple[str, _Leaf | _Group], ...]


_Node = _Leaf | _Group


@dataclass(frozen=True)
class Nesting:
    """How the columns of one flat schema nest; :meth:`apply` makes the nested batches."""

    top: tuple[tuple[str, _Node], ...]
    nested_schema: pa.Schema

    @classmethod
    def of(cls, schema: pa.Schema) -> Nesting:
        """Plan the nesting of ``schema``'s columns (its field order is kept, group by group)."""
        top = _plan([(name.split("."), index) for index, name in enumerate(schema.names)], schema)
        fields = [pa.field(name, _type_of(node, schema)) for name, node in top]
        return cls(top=top, nested_schema=pa.schema(fields))

    @property
    def changes_anything(self) -> bool:
        """False when no column nests (the batches pass through untouched)."""
        return any(isinstance(node, _Group) for _, node in self.top)

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Return ``batch`` (with the planned flat schema's columns) nested."""
        if not self.changes_anything:
            return batch
        columns = [_column_of(node, batch) for _, node in self.top]
        return pa.RecordBatch.from_arrays(columns, schema=self.nested_schema)


def _plan(paths: list[tuple[list[str], int]], schema: pa.Schema) -> tuple[tuple[str, _Node], ...]:
    """Group ``(path parts, column)`` pairs by their first part, keeping first-seen order."""
    groups: dict[str, list[tuple[list[str], int]]] = {}
    for parts, index in paths:
        key = parts[0] if len(parts) > 1 and all(parts) else ".".join(parts)
        groups.setdefault(key, []).append((parts, index))
    planned: list[tuple[str, _Node]] = []
    for key, members in groups.items():
        nests = all(len(parts) > 1 and all(parts) for parts, _ in members)
        if not nests:
            planned.extend((".".join(parts), _Leaf(index)) for parts, index in members)
            continue
        inner = _plan([(parts[1:], index) for parts, index in members], schema)
        planned.append((key, _Group(inner)))
    return tuple(planned)


def _type_of(node: _Node, schema: pa.Schema) -> pa.DataType:
    if isinstance(node, _Leaf):
        return schema.field(node.index).type
    return pa.struct([pa.field(name, _type_of(child, schema)) for name, child in node.members])


def _column_of(node: _Node, batch: pa.RecordBatch) -> Any:
    if isinstance(node, _Leaf):
        return batch.column(node.index)
    children = [_column_of(child, batch) for _, child in node.members]
    absent = reduce(pc.and_, (pc.is_null(child) for child in children))
    names = [name for name, _ in node.members]
    return pa.StructArray.from_arrays(children, names=names, mask=absent)
