"""Turn the text of a query (``SEARCH``, ``SEARCH | SQL``, or BLS's ``match …``) into a ParsedQuery.

Parsing needs no schema: the SEARCH part is checked for syntax, the SQL part for syntax, for the
syntax allow-list of ``sql_syntax`` and for the function rules of the log store's engine (its
adapter passes them; services reach them through the log store's ``parse_query``). Schema problems
(unknown fields, values that do not fit a field's type) are found later by the engine's emitter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import Dialect, exp

from logsluice.domain.query_ast import SearchNode
from logsluice.query.search_parser import parse_search
from logsluice.query.sql_checker import check_sql
from logsluice.query.sql_syntax import SqlFunctionRules

# BLS writes ``match SEARCH``; ``match`` is a prefix only when a space, '|' or the end follows it.
_MATCH_PREFIX = re.compile(r"\s*match(?=\s|\||\Z)", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedQuery:
    """A query whose syntax and SQL safety have been checked.

    ``search`` is the SEARCH tree; ``has_sql`` tells whether a ``| SQL`` part follows. The checked
    sqlglot tree and the offset of the SQL text are kept for the emitters.
    """

    text: str
    search: SearchNode
    has_sql: bool
    _sql_tree: exp.Query | None = field(default=None, repr=False, compare=False)
    _sql_offset: int = field(default=0, repr=False, compare=False)

    @property
    def sql_tree(self) -> exp.Query | None:
        """A copy of the checked SQL tree (callers may transform it freely), or None."""
        return self._sql_tree.copy() if self._sql_tree is not None else None

    @property
    def sql_offset(self) -> int:
        """0-based offset of the SQL text (just after the ``|``) in ``text``."""
        return self._sql_offset


def parse_query(text: str, rules: SqlFunctionRules) -> ParsedQuery:
    """Parse and check a query with an engine's SQL ``rules``; no schema is needed.

    Returns the ParsedQuery. Raises InvalidQueryError with ``position`` (0-based offset into
    ``text``) and ``reason`` (``syntax``, ``forbidden_function``, ``forbidden_table``,
    ``multiple_statements``, ``forbidden_statement``, ``forbidden_syntax``, ``forbidden_comment``,
    ``reserved_name``, ``too_complex`` for a query nesting deeper than the limit).
    """
    search_start = _search_start(text)
    pipe = find_pipe(text, search_start)
    search_end = len(text) if pipe is None else pipe
    search = parse_search(text[search_start:search_end], search_start)
    if pipe is None:
        return ParsedQuery(text=text, search=search, has_sql=False)
    sql_offset = pipe + 1
    tree = check_sql(text[sql_offset:], sql_offset, rules)
    return ParsedQuery(text, search, True, _sql_tree=tree, _sql_offset=sql_offset)


def warm_up(rules: SqlFunctionRules) -> None:
    """Build the SEARCH parser and load the engine's sqlglot dialects now rather than on first use.

    Both are built lazily and take ~0.1 s together; a server calls this at start so that its first
    query or download task does not pay for them.
    """
    parse_query("warm_up:1 | SELECT count(*) AS n", rules)
    for reading in rules.readings:
        Dialect.get_or_raise(reading)


def _search_start(text: str) -> int:
    prefix = _MATCH_PREFIX.match(text)
    return prefix.end() if prefix else 0


def find_pipe(text: str, start: int = 0) -> int | None:
    """Offset of the first ``|`` at or after ``start`` that is not quoted or escaped, else None."""
    quoted = False
    escaped = False
    for index in range(start, len(text)):
        character = text[index]
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif character == "|" and not quoted:
            return index
    return None
