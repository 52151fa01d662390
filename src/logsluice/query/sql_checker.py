"""Parse the SQL after ``|`` with sqlglot and check it against the allow-lists.

The syntax allow-list is engine-neutral (``sql_syntax``); the function allow-list and the readings
come from the log store's engine (a ``SqlFunctionRules``). The text is read in the engine's dialect
first; when that fails (to parse, or to pass the checks) it is read in the rules' other readings
(Presto, then MySQL for DuckDB), because SLS users type Presto/MySQL-flavoured SQL (``date_format``,
``approx_percentile``, backquoted names). Whichever reading passes is used; the result is only ever
rendered back from the checked tree, never from the user's text. Every refusal is an
``InvalidQueryError`` whose ``position`` is the 0-based offset in the full query text.

A query may mix both flavours (``approx_percentile`` beside DuckDB's ``quantile_cont``), which no
single reading knows whole, so functions are resolved one by one: a function a reading leaves
unknown is read the way another reading knows it, DuckDB's meaning first, and kept only if that
meaning is on the allow-list. In the DuckDB reading only the foreign names are read so, so a DuckDB
function never takes another engine's meaning.
"""

from __future__ import annotations

import functools
import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from logsluice.domain.errors import InvalidQueryError
from logsluice.query.complexity import check_sql_depth, too_deep_as_invalid_query
from logsluice.query.sql_syntax import ALLOWED_SYNTAX, RECORDS_TABLE_NAMES, SqlFunctionRules

_QUERY_STARTS = frozenset({TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN})
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SET_OPERATIONS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)


def check_sql(sql: str, offset: int, rules: SqlFunctionRules) -> exp.Query:
    """Return the checked sqlglot tree of ``sql``, which starts at ``offset`` in the full query.

    ``rules`` are the log store engine's readings and function allow-list.

    Raises InvalidQueryError (reasons ``syntax``, ``forbidden_comment``, ``multiple_statements``,
    ``forbidden_statement``, ``forbidden_function``, ``forbidden_table``, ``forbidden_syntax``,
    ``reserved_name``, ``too_complex``) pointing at the offending place.
    """
    tokens = _tokenize(sql, offset, rules.dialect)
    _refuse_comments(sql, tokens, offset)
    _refuse_more_statements(tokens, offset)
    _require_query_start(sql, tokens, offset)
    check_sql_depth(tokens, offset)
    with too_deep_as_invalid_query():
        return _parse_and_check(sql, offset, tokens, rules)


def _tokenize(sql: str, offset: int, dialect: str) -> list[Token]:
    try:
        return list(_dialect(dialect).tokenize(sql))
    except TokenError as error:
        position = offset + _unterminated_quote(sql)
        raise InvalidQueryError(
            f"SQL cannot be read at position {position}: unterminated quote or comment",
            position=position,
            reason="syntax",
        ) from error


@functools.cache
def _dialect(name: str) -> Dialect:
    return Dialect.get_or_raise(name)


def _unterminated_quote(sql: str) -> int:
    """Offset of a quote that is never closed, else of the end of the text."""
    opening: int | None = None
    quote = ""
    for index, character in enumerate(sql):
        if opening is None and character in "'\"`":
            opening, quote = index, character
        elif opening is not None and character == quote:
            opening = None
    return opening if opening is not None else len(sql)


def _refuse_comments(sql: str, tokens: list[Token], offset: int) -> None:
    """Comments are refused: they are the classic way to hide a second statement."""
    if not any(token.comments for token in tokens):
        return
    previous_end = -1
    for token in [*tokens, None]:
        start = token.start if token is not None else len(sql)
        gap = sql[previous_end + 1 : start]
        if gap.strip():
            position = offset + previous_end + 1 + (len(gap) - len(gap.lstrip()))
            raise InvalidQueryError(
                f"comments are not allowed in the SQL part (position {position})",
                position=position,
                reason="forbidden_comment",
            )
        previous_end = token.end if token is not None else previous_end
    raise InvalidQueryError(  # pragma: no cover - a comment always leaves a gap between tokens
        "comments are not allowed in the SQL part", position=offset, reason="forbidden_comment"
    )


def _refuse_more_statements(tokens: list[Token], offset: int) -> None:
    seen_semicolon = False
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            seen_semicolon = True
        elif seen_semicolon:
            raise InvalidQueryError(
                f"only one SQL statement is allowed; another starts at position "
                f"{offset + token.start}",
                position=offset + token.start,
                reason="multiple_statements",
            )


def _require_query_start(sql: str, tokens: list[Token], offset: int) -> None:
    if not tokens or tokens[0].token_type == TokenType.SEMICOLON:
        position = offset + len(sql)
        raise InvalidQueryError(
            f"expected a SELECT after '|' at position {position}",
            position=position,
            reason="syntax",
        )
    first = tokens[0]
    if first.token_type not in _QUERY_STARTS:
        raise InvalidQueryError(
            f"only SELECT queries are allowed after '|', not {first.text.upper()!r} "
            f"(position {offset + first.start})",
            position=offset + first.start,
            reason="forbidden_statement",
        )


def _parse_and_check(
    sql: str, offset: int, tokens: list[Token], rules: SqlFunctionRules
) -> exp.Query:
    """Try each reading; only a syntax error or an unknown function moves on to the next one."""
    syntax_error: InvalidQueryError | None = None
    policy_error: InvalidQueryError | None = None
    for dialect in rules.readings:
        try:
            tree = _resolve_functions(_parse_one(sql, offset, dialect, tokens), dialect, rules)
            _TreeChecker(sql, offset, tokens, rules).check(tree)
        except InvalidQueryError as error:
            if not _other_reading_may_help(error, rules):
                raise
            if error.reason == "syntax":
                syntax_error = syntax_error or error
            else:
                policy_error = policy_error or error
            continue
        return _quote_unusual_identifiers(tree)
    raise policy_error or syntax_error or _unreadable(offset)


def _other_reading_may_help(error: InvalidQueryError, rules: SqlFunctionRules) -> bool:
    if error.reason == "syntax":
        return True
    function = str(error.details.get("function", "")).lower()
    return error.reason == "forbidden_function" and function in rules.foreign_function_names


def _resolve_functions(tree: exp.Query, reading: str, rules: SqlFunctionRules) -> exp.Query:
    """Replace each unknown function by the allowed function another reading makes of it."""
    for node in list(tree.find_all(exp.Anonymous)):
        name = node.name.lower()
        if name in rules.function_names or rules.is_forbidden(name):
            continue
        if reading == rules.dialect and name not in rules.foreign_function_names:
            continue  # the engine's own reading: its functions keep their meaning
        resolved = _known_elsewhere(node, reading, rules)
        if resolved is not None:
            resolved.meta.update(node.meta)
            node.replace(resolved)
    return tree


def _known_elsewhere(node: exp.Anonymous, reading: str, rules: SqlFunctionRules) -> exp.Expr | None:
    for other in rules.readings:
        builder = _dialect(other).parser_class.FUNCTIONS.get(node.name.upper())
        if other == reading or builder is None:
            continue
        arguments = [argument.copy() for argument in node.expressions]
        try:
            built = builder(arguments)
        except TypeError:
            built = builder(arguments, dialect=_dialect(other))
        if type(built) in rules.functions:
            return built if isinstance(built, exp.Expr) else None
    return None


def _unreadable(offset: int) -> InvalidQueryError:  # pragma: no cover - a reading always fails
    return InvalidQueryError("the SQL part cannot be read", position=offset, reason="syntax")


def _quote_unusual_identifiers(tree: exp.Query) -> exp.Query:
    """Quote names other readings left bare (``$1`` in Presto) so DuckDB reads them as names."""
    for identifier in tree.find_all(exp.Identifier):
        if not identifier.quoted and not _PLAIN_NAME.fullmatch(identifier.name):
            identifier.set("quoted", True)
    return tree


def _parse_one(sql: str, offset: int, dialect: str, tokens: list[Token]) -> exp.Query:
    try:
        reading_tokens = list(_dialect(dialect).tokenize(sql))
        statements = [statement for statement in sqlglot.parse(sql, read=dialect) if statement]
    except (ParseError, TokenError) as error:
        raise _syntax_error(error, sql, offset) from None
    # a reading may know comments DuckDB does not (MySQL's "#"): they would hide text silently
    _refuse_comments(sql, reading_tokens, offset)
    if len(statements) != 1:
        raise InvalidQueryError(
            "exactly one SELECT statement is expected after '|'",
            position=offset,
            reason="multiple_statements" if statements else "syntax",
        )
    tree = statements[0]
    if not isinstance(tree, _SET_OPERATIONS):
        raise InvalidQueryError(
            f"only SELECT queries are allowed after '|', not {tree.key.upper()}",
            position=offset + _position_in_sql(tree, tokens),
            reason="forbidden_statement",
        )
    return tree


def _syntax_error(error: ParseError | TokenError, sql: str, offset: int) -> InvalidQueryError:
    details = error.errors[0] if isinstance(error, ParseError) and error.errors else {}
    position = _offset_of(sql, details) if details else _unterminated_quote(sql)
    description = details.get("description", "cannot be parsed") if details else "cannot be read"
    return InvalidQueryError(
        f"SQL syntax error at position {offset + position}: {description}",
        position=offset + position,
        reason="syntax",
    )


def _offset_of(sql: str, details: dict[str, object]) -> int:
    """sqlglot reports the 1-based line and the column of the last character of the bad token."""
    line, column = details.get("line"), details.get("col")
    if not isinstance(line, int) or not isinstance(column, int):
        return 0
    line_start = sum(len(text) + 1 for text in sql.split("\n")[: max(line - 1, 0)])
    highlight = details.get("highlight")
    width = len(highlight) if isinstance(highlight, str) and highlight else 1
    return max(0, min(len(sql), line_start + column - width))


def _position_in_sql(node: exp.Expr, tokens: list[Token]) -> int:
    """Where the node starts in the SQL text.

    sqlglot records offsets for names, literals and functions. A node without one (INTO, VALUES,
    LATERAL, a placeholder) is placed at the last token spelled like the start of its SQL that
    comes before the first offset inside it, else at the first offset inside it.
    """
    starts = [start for child in node.walk() if isinstance(start := child.meta.get("start"), int)]
    own_start = node.meta.get("start")
    if isinstance(own_start, int):
        return own_start
    inner = min(starts, default=None)
    keyword = _first_word(node)
    candidates = [
        token.start
        for token in tokens
        if keyword.startswith(token.text.lower()) and (inner is None or token.start <= inner)
    ]
    if candidates:
        return candidates[-1] if inner is not None else candidates[0]
    return inner if inner is not None else (tokens[0].start if tokens else 0)


def _first_word(node: exp.Expr) -> str:
    words = node.sql("duckdb").lstrip("(").split()
    return words[0].lower() if words else "\0"


class _TreeChecker:
    """Walks a parsed tree and refuses the first node that is not on an allow-list."""

    def __init__(self, sql: str, offset: int, tokens: list[Token], rules: SqlFunctionRules) -> None:
        self._sql = sql
        self._offset = offset
        self._tokens = tokens
        self._rules = rules

    def check(self, tree: exp.Expr) -> None:
        for node in tree.walk():
            self._check_node(node)

    def _refuse(
        self, node: exp.Expr, reason: str, message: str, **details: str
    ) -> InvalidQueryError:
        position = self._offset + _position_in_sql(node, self._tokens)
        return InvalidQueryError(
            f"{message} (position {position})", position=position, reason=reason, **details
        )

    def _source(self, node: exp.Expr) -> str:
        meta = node.meta
        start, end = meta.get("start"), meta.get("end")
        if isinstance(start, int) and isinstance(end, int):
            return self._sql[start : end + 1]
        return node.sql_name() if isinstance(node, exp.Func) else node.key

    def _check_node(self, node: exp.Expr) -> None:
        kind = type(node)
        if kind is exp.Anonymous:
            self._check_anonymous(node)
        elif kind is exp.Table:
            self._check_table(node)
        elif kind is exp.CTE:
            self._check_cte(node)
        elif kind is exp.With and node.args.get("recursive"):
            raise self._refuse(node, "forbidden_syntax", "WITH RECURSIVE is not allowed")
        elif kind in self._rules.functions and isinstance(node, exp.Func):
            self._check_function_name(node, node.sql_name())
        elif kind in ALLOWED_SYNTAX:
            return
        elif issubclass(kind, exp.Func):
            name = self._source(node)
            raise self._refuse(
                node, "forbidden_function", f"function {name!r} is not allowed", function=name
            )
        else:
            raise self._refuse(node, "forbidden_syntax", f"{node.key.upper()} is not allowed here")

    def _check_function_name(self, node: exp.Expr, name: str) -> None:
        if self._rules.is_forbidden(name):
            raise self._refuse(
                node, "forbidden_function", f"function {name!r} is never allowed", function=name
            )

    def _check_anonymous(self, node: exp.Expr) -> None:
        self._check_function_name(node, node.name)
        if node.name.lower() not in self._rules.function_names:
            raise self._refuse(
                node,
                "forbidden_function",
                f"function {node.name!r} is not allowed",
                function=node.name,
            )

    def _check_cte(self, node: exp.Expr) -> None:
        if node.alias_or_name.lower() in RECORDS_TABLE_NAMES:
            raise self._refuse(
                node,
                "reserved_name",
                f"{node.alias_or_name!r} names the records; pick another name",
            )

    def _check_table(self, table: exp.Expr) -> None:
        target = table.this
        if isinstance(target, exp.Func):
            name = self._source(target)
            raise self._refuse(
                table, "forbidden_function", f"table function {name!r} is not allowed"
            )
        if not isinstance(target, exp.Identifier):
            raise self._refuse(table, "forbidden_table", "only the records can be read")
        if table.args.get("db") or table.args.get("catalog"):
            raise self._refuse(
                table, "forbidden_table", f"{table.sql('duckdb')!r}: only the records can be read"
            )
        name = target.name.lower()
        if name not in RECORDS_TABLE_NAMES and name not in visible_cte_names(table):
            raise self._refuse(
                table,
                "forbidden_table",
                f"table {target.name!r} is not allowed: read the records with no FROM, "
                "FROM log or FROM records",
            )


def visible_cte_names(node: exp.Expr) -> set[str]:
    """Names of the CTEs in scope at ``node``: a CTE body sees only the CTEs defined before it."""
    names: set[str] = set()
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            earlier = parent.expressions[: _index_of(parent.expressions, child)]
            names.update(cte.alias_or_name.lower() for cte in earlier)
        else:
            with_clause = parent.args.get("with_")
            if isinstance(with_clause, exp.With) and with_clause is not child:
                names.update(cte.alias_or_name.lower() for cte in with_clause.expressions)
        child, parent = parent, parent.parent
    return names


def _index_of(items: list[exp.Expr], item: exp.Expr) -> int:
    return next((index for index, candidate in enumerate(items) if candidate is item), len(items))
