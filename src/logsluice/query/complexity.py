"""How deeply a query may nest, checked before anything recursive reads it.

The SQL parser (sqlglot), the SEARCH tree builder, the compilers and the SQL renderer all recurse
once per nesting level, twenty Python frames and more for one parenthesis of SQL, so a query of a
few hundred ``NOT``s or parentheses would run out of stack (a RecursionError, once a 500). A query
nesting deeper than :data:`MAX_NESTING_DEPTH` is refused with ``InvalidQueryError`` (reason
``too_complex``) pointing at the first level too deep: the SQL part is measured on its tokens,
before it is parsed; the SEARCH part on the parse tree, which lark builds without recursion. Long
flat chains (``a OR b OR …``, 10,000 terms) do not nest: the engines read them without recursion.
:func:`too_deep_as_invalid_query` turns any RecursionError that still happens into the same error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from lark import Token, Tree
from sqlglot.tokenizer_core import Token as SqlToken
from sqlglot.tokenizer_core import TokenType

from logsluice.domain.errors import InvalidQueryError

# Deep enough for any query a person writes (Elasticsearch allows bool queries 20 deep), and
# shallow enough that the deepest query allowed parses and renders with stack to spare.
MAX_NESTING_DEPTH = 24

_SQL_OPENING = frozenset(
    {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
)
_SQL_CLOSING = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END})
# prefix operators: each one of a run (NOT NOT x, - - 1) is one more level
_SQL_PREFIX = frozenset({TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE})
_SEARCH_LEVELS = frozenset({"negation", "and_expr", "or_expr"})


def check_sql_depth(tokens: Sequence[SqlToken], offset: int) -> None:
    """Refuse SQL whose brackets, CASEs and prefix operators nest past the limit.

    ``offset`` is where the SQL starts in the full query. Raises InvalidQueryError
    (``too_complex``).
    """
    depth = 0
    prefixes = 0
    for token in tokens:
        kind = token.token_type
        if kind in _SQL_CLOSING:
            depth = max(depth - 1, 0)
        prefixes = prefixes + 1 if kind in _SQL_PREFIX else 0
        if kind in _SQL_OPENING:
            depth += 1
        if depth + prefixes > MAX_NESTING_DEPTH:
            raise too_deep(offset + token.start)


def check_search_depth(tree: Tree[Token], offset: int) -> None:
    """Refuse a SEARCH parse tree whose NOT/AND/OR operators nest past the limit.

    Walks the tree with an explicit stack. ``offset`` is where the SEARCH starts in the full query.
    Raises InvalidQueryError (``too_complex``).
    """
    pending: list[tuple[Tree[Token], int]] = [(tree, 0)]
    while pending:
        node, depth = pending.pop()
        if node.data in _SEARCH_LEVELS:
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                raise too_deep(offset + (node.meta.start_pos if not node.meta.empty else 0))
        pending.extend((child, depth) for child in node.children if isinstance(child, Tree))


def too_deep(position: int | None = None) -> InvalidQueryError:
    """The error of a query nested past the limit, at ``position`` in the full query if known."""
    where = f" at position {position}" if position is not None else ""
    return InvalidQueryError(
        f"the query is too complex: it nests deeper than {MAX_NESTING_DEPTH} levels{where} "
        "(parentheses, NOT, function calls, CASE and subqueries each add one); simplify it",
        position=position if position is not None else 0,
        reason="too_complex",
        limit=MAX_NESTING_DEPTH,
    )


@contextmanager
def too_deep_as_invalid_query() -> Iterator[None]:
    """Run the ``with`` block, raising InvalidQueryError (``too_complex``) for a RecursionError.

    The last line of defence behind the depth checks: whatever recursed too deeply has unwound.
    """
    try:
        yield
    except RecursionError:
        raise too_deep() from None
