"""What the SQL after ``|`` may contain, whatever the engine: syntax node types and table names.

The structure a query may have (a SELECT with joins, CTEs, windows, operators…) is the same for
every log store engine, so it is listed here as sqlglot node types. Which functions a query may call
is the engine's to say: its adapter gives a :class:`SqlFunctionRules` to ``parse_query``. Node types
are compared exactly (not with ``isinstance``), so a subclass of an allowed node is not allowed by
inheritance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

# Names the records of the query can be read under: ``FROM log`` / ``FROM records``.
RECORDS_TABLE = "records"
RECORDS_TABLE_NAMES = frozenset({"log", RECORDS_TABLE})

ALLOWED_SYNTAX: frozenset[type[exp.Expr]] = frozenset(
    {
        # query structure
        exp.Select,
        exp.Union,
        exp.Intersect,
        exp.Except,
        exp.Subquery,
        exp.With,
        exp.CTE,
        exp.TableAlias,
        exp.From,
        exp.Join,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Qualify,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Distinct,
        exp.Window,
        exp.WindowSpec,
        exp.Filter,
        exp.WithinGroup,
        exp.IgnoreNulls,
        exp.RespectNulls,
        exp.Cube,
        exp.Rollup,
        exp.GroupingSets,
        exp.Exists,
        exp.Any,
        exp.All,
        exp.Table,  # checked further: only the records or a visible CTE
        # values and names
        exp.Column,
        exp.Identifier,
        exp.Star,
        exp.Alias,
        exp.Literal,
        exp.Null,
        exp.Boolean,
        exp.Paren,
        exp.Tuple,
        exp.Var,
        exp.Interval,
        exp.DataType,
        exp.DataTypeParam,
        exp.Bracket,
        exp.Slice,
        exp.Dot,
        exp.PropertyEQ,
        exp.Lambda,
        exp.Kwarg,
        exp.JSONPath,
        exp.JSONPathRoot,
        exp.JSONPathKey,
        exp.JSONPathSubscript,
        exp.JSONPathWildcard,
        exp.JSONPathSlice,
        # operators
        exp.And,
        exp.Or,
        exp.Xor,
        exp.Not,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.SimilarTo,
        exp.Escape,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.IntDiv,
        exp.Mod,
        exp.Neg,
        exp.DPipe,
        exp.BitwiseAnd,
        exp.BitwiseOr,
        exp.BitwiseXor,
        exp.BitwiseNot,
        exp.BitwiseLeftShift,
        exp.BitwiseRightShift,
    }
)


@dataclass(frozen=True)
class SqlFunctionRules:
    """One engine's reading of the SQL after ``|`` and the functions it allows.

    ``readings`` are sqlglot dialects tried in order (the engine's own first, then those whose SQL
    users type, e.g. Presto). ``functions`` are sqlglot function node types and ``function_names``
    the lower-case names of functions sqlglot does not model (``exp.Anonymous``). Refusing one of
    ``foreign_function_names`` lets the next reading try; any other refusal is final. A name
    matching one of ``forbidden_function_patterns`` is always refused.
    """

    readings: tuple[str, ...]
    functions: frozenset[type[exp.Expr]]
    function_names: frozenset[str]
    foreign_function_names: frozenset[str]
    forbidden_function_patterns: tuple[re.Pattern[str], ...] = ()

    @property
    def dialect(self) -> str:
        """The engine's own sqlglot dialect (the first reading)."""
        return self.readings[0]

    def is_forbidden(self, name: str) -> bool:
        """Tell whether a function of this (any-case) name is never allowed."""
        lowered = name.lower()
        return any(pattern.fullmatch(lowered) for pattern in self.forbidden_function_patterns)
