"""The query language: SEARCH (``status>=500 AND host:web-*``) and ``SEARCH | SQL``.

``parse_query`` checks a query's syntax and SQL safety without a schema; a ``QueryEmitter``
(``DuckDBQueryEmitter`` for the embedded log store) turns it into an engine's SQL for one logstore,
time range, order and limit. See ``docs/query-language.md``.
"""

from logsluice.query.emitter import DuckDBQueryEmitter, QueryEmitter, QueryTarget
from logsluice.query.parsed_query import ParsedQuery, parse_query

__all__ = ["DuckDBQueryEmitter", "ParsedQuery", "QueryEmitter", "QueryTarget", "parse_query"]
