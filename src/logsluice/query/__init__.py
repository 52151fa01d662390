"""The query language: SEARCH (``status>=500 AND host:web-*``) and ``SEARCH | SQL``.

``parse_query`` checks a query's syntax and SQL safety without a schema, with the function rules of
the log store's engine (``SqlFunctionRules``). Each engine's adapter turns a ParsedQuery into its
own SQL for one logstore, time range, order and limit. See ``docs/query-language.md``.
"""

from logsluice.query.parsed_query import ParsedQuery, parse_query
from logsluice.query.sql_syntax import SqlFunctionRules

__all__ = ["ParsedQuery", "SqlFunctionRules", "parse_query"]
