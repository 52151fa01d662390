"""The SEARCH part of a query as a tree of frozen records.

The query parser builds these nodes; emitters turn them into an engine's SQL. Every node keeps the
0-based offset of its text in the full query, so an emitter that finds a schema problem (an unknown
field, a value that does not fit the field's type) can point at it. Values keep the user's text
(unescaped); their meaning depends on the field's type, which only the emitter knows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Wildcard(enum.Enum):
    """A wildcard inside a pattern: ``*`` is any run of characters, ``?`` exactly one."""

    ANY_RUN = "*"
    ANY_CHARACTER = "?"


@dataclass(frozen=True)
class Pattern:
    """Text with optional wildcards, as literal chunks and ``Wildcard`` markers in order."""

    parts: tuple[str | Wildcard, ...]

    @property
    def has_wildcards(self) -> bool:
        return any(isinstance(part, Wildcard) for part in self.parts)

    @property
    def literal_text(self) -> str:
        """The text with each wildcard written as its character (exact when there are none)."""
        return "".join(part.value if isinstance(part, Wildcard) else part for part in self.parts)


class ComparisonOperator(enum.StrEnum):
    LESS = "<"
    LESS_OR_EQUAL = "<="
    GREATER = ">"
    GREATER_OR_EQUAL = ">="


@dataclass(frozen=True)
class FieldReference:
    """A field name as the user wrote it; matched case-insensitively against the logstore schema."""

    name: str
    position: int


@dataclass(frozen=True)
class Value:
    """A value as the user wrote it (unescaped) and where it starts in the query."""

    text: str
    position: int


@dataclass(frozen=True)
class MatchAll:
    """``*`` or an empty search: every record."""

    position: int


@dataclass(frozen=True)
class TextSearch:
    """A bare word or ``"phrase"``: case-insensitive substring match over the full-text fields."""

    pattern: Pattern
    position: int


@dataclass(frozen=True)
class FieldMatch:
    """``field:value`` (exact, type-aware) or ``field:val*`` (case-insensitive wildcard match)."""

    field: FieldReference
    pattern: Pattern
    value_position: int


@dataclass(frozen=True)
class FieldExists:
    """``field:*`` or ``field:[* TO *]``: the field has a value."""

    field: FieldReference


@dataclass(frozen=True)
class FieldComparison:
    """``field>value`` and the other ordering comparisons."""

    field: FieldReference
    operator: ComparisonOperator
    value: Value


@dataclass(frozen=True)
class FieldRange:
    """``field:[a TO b]`` (inclusive) or ``field:{a TO b}`` (exclusive); a ``None`` end is open."""

    field: FieldReference
    lower: Value | None
    upper: Value | None
    lower_inclusive: bool
    upper_inclusive: bool


@dataclass(frozen=True)
class And:
    operands: tuple[SearchNode, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[SearchNode, ...]


@dataclass(frozen=True)
class Not:
    """Records the operand does not match, including records that lack the operand's field."""

    operand: SearchNode


SearchNode = (
    MatchAll | TextSearch | FieldMatch | FieldExists | FieldComparison | FieldRange | And | Or | Not
)
