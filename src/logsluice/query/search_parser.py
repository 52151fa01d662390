"""Parse the SEARCH part of a query into the tree of ``logsluice.domain.query_ast``.

The grammar lives in ``search.lark`` (LALR(1) with a contextual lexer, so a field value may hold
characters a bare word may not). Lark's errors become ``InvalidQueryError`` with the 0-based offset
in the full query text and the list of what was expected there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from importlib import resources

import lark
from lark import Lark, Token, Tree

from logsluice.domain.errors import InvalidQueryError
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
from logsluice.query.complexity import check_search_depth, too_deep_as_invalid_query

_FIELD_NAME = re.compile(r"[A-Za-z0-9_@][A-Za-z0-9_.\-@]*")
_WILDCARDS = {"*": Wildcard.ANY_RUN, "?": Wildcard.ANY_CHARACTER}
_EXPECTED_NAMES = {
    "WORD": "a word",
    "PHRASE": 'a "quoted phrase"',
    "VALUE": "a value",
    "RANGE_VALUE": "a range bound",
    "COMPARATOR": "a comparison (>, >=, <, <=, =, !=)",
    "RANGE_OPEN": "'[' or '{'",
    "RANGE_CLOSE": "']' or '}'",
    "_COLON": "':'",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "_AND": "AND",
    "_OR": "OR",
    "_NOT": "NOT",
    "_TO": "TO",
    "$END": "the end of the search",
}


@functools.cache
def _parser() -> Lark:
    grammar = resources.files("logsluice.query").joinpath("search.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True)


def parse_search(text: str, offset: int = 0) -> SearchNode:
    """Parse SEARCH ``text`` that starts at ``offset`` in the full query.

    Returns the search tree (``MatchAll`` for an empty search). Raises InvalidQueryError with
    reason ``syntax`` and the offset in the full query where the text stops making sense, or
    reason ``too_complex`` for a search nesting NOT/AND/OR deeper than the limit.
    """
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as error:
        raise _syntax_error(error, text, offset) from None
    check_search_depth(tree, offset)
    with too_deep_as_invalid_query():
        return _SearchBuilder(offset).build(tree)


def _syntax_error(
    error: lark.exceptions.UnexpectedInput, text: str, offset: int
) -> InvalidQueryError:
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        position = error.pos_in_stream or 0
        found = _describe_character(text[position])
        expected: Iterable[str] = error.allowed
    elif isinstance(error, lark.exceptions.UnexpectedToken) and error.token.type != "$END":
        position = error.token.start_pos or 0
        found = f"{error.token.value!r}"
        expected = error.expected
    else:
        position = len(text)
        found = "end of the search"
        expected = getattr(error, "expected", ())
    described = sorted({_EXPECTED_NAMES.get(name, name) for name in expected})
    message = f"unexpected {found} at position {offset + position}"
    if described:
        message += f"; expected {', '.join(described)}"
    return InvalidQueryError(message, position=offset + position, reason="syntax")


def _describe_character(character: str) -> str:
    if character == '"':
        return "unterminated quote"
    if character == "\\":
        return "backslash with nothing to escape"
    return f"character {character!r}"


def unescape(text: str) -> str:
    """Drop each escaping backslash, keeping the character after it."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def pattern_of(raw: str) -> Pattern:
    """Split an unquoted term into literal chunks and wildcards (escaped ``\\*`` stays literal)."""
    parts: list[str | Wildcard] = []
    chunk: list[str] = []
    characters = iter(raw)
    for character in characters:
        if character == "\\":
            chunk.append(next(characters, ""))
        elif character in _WILDCARDS:
            if chunk:
                parts.append("".join(chunk))
                chunk = []
            parts.append(_WILDCARDS[character])
        else:
            chunk.append(character)
    if chunk:
        parts.append("".join(chunk))
    return Pattern(tuple(parts))


class _SearchBuilder:
    """Turns lark's parse tree into query_ast nodes with positions in the full query."""

    def __init__(self, offset: int) -> None:
        self._offset = offset
        self._builders: dict[str, Callable[[list[Tree[Token] | Token]], SearchNode]] = {
            "or_expr": lambda children: Or(tuple(self.build(child) for child in children)),
            "and_expr": lambda children: And(tuple(self.build(child) for child in children)),
            "negation": lambda children: Not(self.build(children[0])),
            "text": lambda children: self._text(_token(children[0])),
            "phrase": lambda children: self._phrase(_token(children[0])),
            "field_match": self._field_match,
            "field_compare": self._field_compare,
            "field_range": self._field_range,
        }

    def build(self, node: Tree[Token] | Token) -> SearchNode:
        if isinstance(node, Token):  # pragma: no cover - the grammar wraps every token in a rule
            raise InvalidQueryError("unexpected token", position=self._at(node), reason="syntax")
        if node.data == "start":
            return self.build(node.children[0]) if node.children else MatchAll(self._offset)
        return self._builders[str(node.data)](node.children)

    def _at(self, token: Token) -> int:
        return self._offset + (token.start_pos or 0)

    def _text(self, token: Token) -> SearchNode:
        if token.value == "*":
            return MatchAll(self._at(token))
        return TextSearch(pattern_of(token.value), self._at(token))

    def _phrase(self, token: Token) -> SearchNode:
        return TextSearch(Pattern((unescape(token.value[1:-1]),)), self._at(token))

    def _field(self, token: Token) -> FieldReference:
        name = unescape(token.value)
        if not _FIELD_NAME.fullmatch(name):
            raise InvalidQueryError(
                f"{name!r} at position {self._at(token)} is not a field name (letters, digits, "
                "'_', '.', '-')",
                position=self._at(token),
                reason="syntax",
            )
        return FieldReference(name, self._at(token))

    def _value(self, token: Token) -> Value:
        raw = token.value[1:-1] if token.type == "PHRASE" else token.value
        return Value(unescape(raw), self._at(token))

    def _field_match(self, children: list[Tree[Token] | Token]) -> SearchNode:
        return self._match(self._field(_token(children[0])), _token(children[1]))

    def _match(self, field: FieldReference, value: Token) -> SearchNode:
        if value.type == "PHRASE":
            return FieldMatch(field, Pattern((unescape(value.value[1:-1]),)), self._at(value))
        if value.value == "*":
            return FieldExists(field)
        return FieldMatch(field, pattern_of(value.value), self._at(value))

    def _field_compare(self, children: list[Tree[Token] | Token]) -> SearchNode:
        field_token, operator, value_token = (_token(child) for child in children)
        field = self._field(field_token)
        if operator.value == "=":
            return self._match(field, value_token)
        if operator.value == "!=":
            return Not(self._match(field, value_token))
        return FieldComparison(field, ComparisonOperator(operator.value), self._value(value_token))

    def _field_range(self, children: list[Tree[Token] | Token]) -> SearchNode:
        field_token, opening, lower, upper, closing = (_token(child) for child in children)
        field = self._field(field_token)
        lower_value, upper_value = self._bound(lower), self._bound(upper)
        if lower_value is None and upper_value is None:
            return FieldExists(field)
        return FieldRange(
            field,
            lower_value,
            upper_value,
            lower_inclusive=opening.value == "[",
            upper_inclusive=closing.value == "]",
        )

    def _bound(self, token: Token) -> Value | None:
        if token.type == "RANGE_VALUE" and token.value == "*":
            return None
        return self._value(token)


def _token(node: Tree[Token] | Token) -> Token:
    if not isinstance(node, Token):  # pragma: no cover - the grammar only puts tokens here
        raise TypeError(f"expected a token, got {node!r}")
    return node
