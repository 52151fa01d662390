"""Compile a SEARCH tree into a sqlglot boolean expression for one logstore's schema.

The expression is engine-neutral sqlglot (ILIKE, LOWER, comparisons, casts), so each emitter renders
it in its own dialect. Every user value becomes a sqlglot literal, never SQL text. Fields are looked
up case-insensitively; an unknown field or a value that cannot apply to a field's type raises
``InvalidQueryError`` pointing at the field or value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

from sqlglot import exp

from logsluice.domain.catalog import MESSAGE_FIELD, Field, FieldType, LogstoreSchema
from logsluice.domain.errors import InvalidQueryError, InvalidTimeRangeError
from logsluice.domain.query_ast import (
    And,
    ComparisonOperator,
    FieldComparison,
    FieldExists,
    FieldMatch,
    FieldRange,
    FieldReference,
    MatchAll,
    Not,
    Or,
    Pattern,
    SearchNode,
    TextSearch,
    Value,
    Wildcard,
)
from logsluice.domain.timerange import parse_time
from logsluice.query.suggestions import unknown_field_error

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER_DIGITS = 19  # shorter integers fit a BIGINT; longer ones are compared as doubles
_LIKE_ESCAPE = "\\"
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_COMPARISONS: dict[ComparisonOperator, type[exp.Binary]] = {
    ComparisonOperator.LESS: exp.LT,
    ComparisonOperator.LESS_OR_EQUAL: exp.LTE,
    ComparisonOperator.GREATER: exp.GT,
    ComparisonOperator.GREATER_OR_EQUAL: exp.GTE,
}


def timestamp_literal(moment: datetime) -> exp.Expr:
    """A ``TIMESTAMPTZ`` literal for a UTC instant (constant, so engines can prune by it)."""
    text = moment.astimezone(UTC).isoformat(sep=" ")
    return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMPTZ"))


class SearchCompiler:
    """Builds the WHERE condition of a SEARCH for one logstore schema."""

    def __init__(self, schema: LogstoreSchema, time_column: str) -> None:
        self._schema = schema
        self._time_column = time_column

    def compile(self, node: SearchNode) -> exp.Expr:
        """Return the boolean condition; raises InvalidQueryError for schema problems."""
        if isinstance(node, And | Or | Not):
            return self._connective(node)
        return self._leaf(node)

    def _connective(self, node: And | Or | Not) -> exp.Expr:
        if isinstance(node, Not):
            inner = exp.Coalesce(this=self.compile(node.operand), expressions=[exp.false()])
            return exp.Not(this=exp.Paren(this=inner))
        operands = [exp.Paren(this=self.compile(operand)) for operand in node.operands]
        return exp.and_(*operands) if isinstance(node, And) else exp.or_(*operands)

    def _leaf(self, node: SearchNode) -> exp.Expr:
        if isinstance(node, MatchAll):
            return exp.true()
        if isinstance(node, TextSearch):
            return self._text_search(node)
        if isinstance(node, FieldMatch):
            return self._field_match(node)
        if isinstance(node, FieldExists):
            column, kind = self._resolve(node.field)
            present = exp.Not(this=exp.Is(this=column, expression=exp.null()))
            if kind.element is None:
                return present
            return exp.and_(present, _non_empty(column.copy()))
        if isinstance(node, FieldComparison):
            return self._comparison(node)
        if isinstance(node, FieldRange):
            return self._range(node)
        raise TypeError(f"not a search node: {node!r}")  # pragma: no cover

    # --- full text ---------------------------------------------------------------------------

    def _text_search(self, node: TextSearch) -> exp.Expr:
        parts = (Wildcard.ANY_RUN, *node.pattern.parts, Wildcard.ANY_RUN)
        like = like_pattern(Pattern(parts))
        matches = [_ilike(_as_text(column, kind), like) for column, kind in self._text_columns()]
        if not matches:
            return exp.false()
        return exp.or_(*matches) if len(matches) > 1 else matches[0]

    def _text_columns(self) -> list[tuple[exp.Expr, FieldType]]:
        message = self._schema.get(MESSAGE_FIELD)
        fields = [message] if message else self._varchar_fields()
        return [(exp.column(field.name, quoted=True), field.type) for field in fields]

    def _varchar_fields(self) -> list[Field]:
        return [field for field in self._schema.fields if field.type == FieldType.VARCHAR]

    # --- fields ------------------------------------------------------------------------------

    def _resolve(self, reference: FieldReference) -> tuple[exp.Expr, FieldType]:
        field = self._schema.get(reference.name)
        if field is None and reference.name.lower() == self._time_column.lower():
            field = Field(self._time_column, FieldType.TIMESTAMP)
        if field is None:
            names = [known.name for known in self._schema.fields]
            raise unknown_field_error(reference.name, reference.position, names)
        return exp.column(field.name, quoted=True), field.type

    def _field_match(self, node: FieldMatch) -> exp.Expr:
        return _any_element(
            *self._resolve(node.field), lambda column, kind: self._match(node, column, kind)
        )

    def _match(self, node: FieldMatch, column: exp.Expr, kind: FieldType) -> exp.Expr:
        if node.pattern.has_wildcards:
            return _ilike(_as_text(column, kind), like_pattern(node.pattern))
        value = Value(node.pattern.literal_text, node.value_position)
        if kind == FieldType.VARCHAR:
            return exp.EQ(this=exp.Lower(this=column), expression=exp.Lower(this=_string(value)))
        return exp.EQ(this=column, expression=self._literal(node.field, kind, value))

    def _comparison(self, node: FieldComparison) -> exp.Expr:
        return _any_element(
            *self._resolve(node.field), lambda column, kind: self._compare(node, column, kind)
        )

    def _compare(self, node: FieldComparison, column: exp.Expr, kind: FieldType) -> exp.Expr:
        column, kind = _numeric_view(column, kind, node.value)
        literal = self._literal(node.field, kind, node.value)
        return _COMPARISONS[node.operator](this=column, expression=literal)

    def _range(self, node: FieldRange) -> exp.Expr:
        return _any_element(
            *self._resolve(node.field), lambda column, kind: self._within(node, column, kind)
        )

    def _within(self, node: FieldRange, column: exp.Expr, kind: FieldType) -> exp.Expr:
        column, kind = _numeric_view(column, kind, node.lower, node.upper)
        conditions: list[exp.Expr] = []
        if node.lower is not None:
            lower = exp.GTE if node.lower_inclusive else exp.GT
            literal = self._literal(node.field, kind, node.lower)
            conditions.append(lower(this=column.copy(), expression=literal))
        if node.upper is not None:
            upper = exp.LTE if node.upper_inclusive else exp.LT
            literal = self._literal(node.field, kind, node.upper)
            conditions.append(upper(this=column.copy(), expression=literal))
        return exp.and_(*conditions)

    def _literal(self, reference: FieldReference, kind: FieldType, value: Value) -> exp.Expr:
        if kind.is_numeric:
            return _number(reference, kind, value)
        if kind == FieldType.BOOLEAN:
            return _boolean(reference, value)
        if kind == FieldType.TIMESTAMP:
            return _timestamp(reference, value)
        return _string(value)


_ELEMENT = "element"


def _any_element(
    column: exp.Expr, kind: FieldType, predicate: Callable[[exp.Expr, FieldType], exp.Expr]
) -> exp.Expr:
    """``predicate`` of a scalar field; of a list field, true when some element satisfies it."""
    element = kind.element
    if element is None:
        return predicate(column, kind)
    body = predicate(exp.column(_ELEMENT), element)
    matching = exp.ArrayFilter(
        this=column, expression=exp.Lambda(this=body, expressions=[exp.to_identifier(_ELEMENT)])
    )
    return _non_empty(matching)


def _non_empty(items: exp.Expr) -> exp.Expr:
    return exp.GT(this=exp.ArraySize(this=items), expression=exp.Literal.number(0))


def like_pattern(pattern: Pattern) -> str:
    """A LIKE pattern for ``pattern``, with ``\\`` escaping literal ``%``, ``_`` and ``\\``."""
    pieces: list[str] = []
    for part in pattern.parts:
        if part is Wildcard.ANY_RUN:
            pieces.append("%")
        elif part is Wildcard.ANY_CHARACTER:
            pieces.append("_")
        else:
            pieces.append(re.sub(r"([\\%_])", r"\\\1", str(part)))
    return "".join(pieces)


def _ilike(column: exp.Expr, like: str) -> exp.Expr:
    ilike = exp.ILike(this=column, expression=exp.Literal.string(like))
    return exp.Escape(this=ilike, expression=exp.Literal.string(_LIKE_ESCAPE))


def _as_text(column: exp.Expr, kind: FieldType) -> exp.Expr:
    if kind == FieldType.VARCHAR:
        return column
    return exp.cast(column, exp.DataType.build("VARCHAR"))


def _numeric_view(
    column: exp.Expr, kind: FieldType, *bounds: Value | None
) -> tuple[exp.Expr, FieldType]:
    """A text field compared with numbers compares as numbers, and its non-numbers never match.

    A numeric field widened to text by one clashing value (``status`` ``"OK"`` among 500s) keeps
    its numeric meaning: ``status>=500`` must not turn into a byte-order comparison of text.
    """
    values = [bound.text.strip() for bound in bounds if bound is not None]
    if kind != FieldType.VARCHAR or not values or not all(map(_is_number, values)):
        return column, kind
    return exp.TryCast(this=column, to=exp.DataType.build("DOUBLE")), FieldType.DOUBLE


def _is_number(text: str) -> bool:
    return _DECIMAL.fullmatch(text) is not None and math.isfinite(float(text))


def _string(value: Value) -> exp.Expr:
    return exp.Literal.string(value.text)


def _type_mismatch(
    reference: FieldReference, kind: FieldType, value: Value, expected: str
) -> InvalidQueryError:
    return InvalidQueryError(
        f"{value.text!r} at position {value.position} is not {expected}, but field "
        f"{reference.name!r} is {kind.value}",
        position=value.position,
        reason="type_mismatch",
        field=reference.name,
    )


def _number(reference: FieldReference, kind: FieldType, value: Value) -> exp.Expr:
    text = value.text.strip()
    if len(text) < _INTEGER_DIGITS and _INTEGER.fullmatch(text):
        return exp.Literal.number(str(int(text)))
    if _DECIMAL.fullmatch(text) and math.isfinite(decimal := float(text)):
        return exp.Literal.number(repr(decimal))
    raise _type_mismatch(reference, kind, value, "a number")


def _boolean(reference: FieldReference, value: Value) -> exp.Expr:
    truth = _BOOLEANS.get(value.text.strip().lower())
    if truth is None:
        raise _type_mismatch(reference, FieldType.BOOLEAN, value, "true or false")
    return exp.true() if truth else exp.false()


def _timestamp(reference: FieldReference, value: Value) -> exp.Expr:
    try:
        moment = parse_time(value.text, field_name=reference.name)
    except InvalidTimeRangeError:
        raise _type_mismatch(
            reference, FieldType.TIMESTAMP, value, "a time (RFC 3339 or epoch)"
        ) from None
    return timestamp_literal(moment)
