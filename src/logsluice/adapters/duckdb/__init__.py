"""The embedded DuckDB log store: one DuckDB file holds every project's records.

A DuckDB schema per project and a table per logstore; see ``docs/adr/0002-duckdb-log-storage.md``.
"""

from logsluice.adapters.duckdb.log_store import DuckDBLogStore

__all__ = ["DuckDBLogStore"]
