"""DuckDB's query language: queries checked with DuckDB's function rules and emitted as its SQL.

Shared by the DuckDB file store and the DuckLake store (both run DuckDB SQL), and by the HTTP
store that reads through a node holding a DuckDB file. It implements the parsing and display side
of the ``QueryCompiler`` port; the stores add the schema and table names.
"""

from __future__ import annotations

from logsluice.adapters.duckdb.cdn_statistics_sql import statistics_query
from logsluice.adapters.duckdb.emitter import DuckDBQueryEmitter, QueryTarget
from logsluice.adapters.duckdb.sql_functions import DUCKDB_SQL_RULES
from logsluice.domain.catalog import LogstoreSchema
from logsluice.domain.cdn_statistics import ExportParameters
from logsluice.ports import RecordsQuery
from logsluice.query import ParsedQuery, parse_query


def parse_duckdb_query(text: str) -> ParsedQuery:
    """Parse and check ``text`` with DuckDB's function rules. Raises InvalidQueryError."""
    return parse_query(text, DUCKDB_SQL_RULES)


class DuckDBQueryLanguage:
    """Parses queries with DuckDB's rules and renders them, and CDN statistics, as DuckDB SQL."""

    rules = DUCKDB_SQL_RULES

    def __init__(self) -> None:
        self.emitter = DuckDBQueryEmitter()

    def parse_query(self, text: str) -> ParsedQuery:
        """Return the checked query. Raises InvalidQueryError pointing at the problem."""
        return parse_duckdb_query(text)

    def compile_select(self, request: RecordsQuery, schema: LogstoreSchema, table_sql: str) -> str:
        """Return the SELECT that ``request`` runs over ``table_sql``, as shown to users.

        Raises InvalidQueryError for fields the schema lacks.
        """
        target = QueryTarget(
            table_sql=table_sql,
            time_column=schema.time_field,
            schema=schema,
            time_range=request.time_range,
        )
        return self.emitter.select(request.query, target, order=request.order, limit=request.limit)

    def statistics_query(self, parameters: ExportParameters) -> str:
        """Return the ``* | SELECT …`` query text that computes a CDN statistics export."""
        return statistics_query(parameters)
