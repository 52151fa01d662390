"""Pointing at a misspelled field: the nearest known name, and where the name stands in the query.

Both the SEARCH compiler and the engine adapters (which learn of an unknown column only from the
engine) use these, so a typo reads the same everywhere: ``unknown field 'stauts' at position 4;
did you mean 'status'?``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenType

from logsluice.domain.errors import InvalidQueryError
from logsluice.query.parsed_query import ParsedQuery

_CUTOFF = 0.6
_NAME_TOKENS = frozenset({TokenType.VAR, TokenType.IDENTIFIER})


def nearest_name(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate most like ``name`` (ignoring case), or None when none is close."""
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=_CUTOFF)
    return by_lower[matches[0]] if matches else None


def unknown_field_error(
    name: str, position: int, candidates: Iterable[str], *, what: str = "field"
) -> InvalidQueryError:
    """Return the ``unknown_field`` error for ``name`` at ``position``, with the nearest name."""
    suggestion = nearest_name(name, candidates)
    message = f"unknown {what} {name!r} at position {position}"
    details: dict[str, object] = {"field": name}
    if suggestion is not None:
        message += f"; did you mean {suggestion!r}?"
        details["suggestion"] = suggestion
    return InvalidQueryError(message, position=position, reason="unknown_field", **details)


def position_in_sql(query: ParsedQuery, name: str, dialect: str) -> int:
    """Return where ``name`` first stands as a name in the query's SQL part (its start if not),
    reading the SQL with the sqlglot ``dialect`` of the engine."""
    sql = query.text[query.sql_offset :]
    wanted = name.lower()
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError:
        return query.sql_offset
    for token in tokens:
        if token.token_type in _NAME_TOKENS and token.text.lower() == wanted:
            return query.sql_offset + token.start
    return query.sql_offset
