"""``DuckDBLogStore``: the LogStore port on one embedded DuckDB file.

One DuckDB connection per store (create one store per file and process); every call opens its own
cursor on it, so any number of threads may append and query at once. Each project is a DuckDB
schema and each logstore a table (layout and the shared methods in :mod:`.engine_store`). Appends
are sorted by time before they are inserted so row-group zonemaps let time-range queries skip the
rest of the table (``docs/adr/0002-duckdb-log-storage.md``).
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from logsluice.adapters.disk_space import DirectorySpace
from logsluice.adapters.duckdb.compaction import read_row_group_spans, rewrite_sorted
from logsluice.adapters.duckdb.engine_store import DuckDBEngineStore, engine_config, store_errors
from logsluice.adapters.duckdb.errors import translate_errors
from logsluice.adapters.duckdb.tables import quote_identifier, table_sql
from logsluice.domain.catalog import LOGSTREAM_FIELD
from logsluice.ports import CompactionReport

if TYPE_CHECKING:
    from logsluice.adapters.duckdb.queries import ScanProfile
    from logsluice.domain.catalog import Logstore
    from logsluice.ports import RecordsQuery


class DuckDBLogStore(DuckDBEngineStore):
    """Records of every project in one DuckDB file; see the module docstring for the layout."""

    def __init__(
        self,
        path: Path | str,
        *,
        memory_limit_bytes: int | None = None,
        cache_limit_bytes: int | None = None,
        threads: int | None = None,
        min_free_bytes: int = 0,
        max_fields: int | None = None,
        read_only: bool = False,
    ) -> None:
        """Open (or create) the DuckDB file at ``path``.

        ``read_only`` opens an existing file for reading only, which any number of processes may
        do at once while none writes it (e.g. export workers of a benchmark).

        ``memory_limit_bytes`` caps DuckDB's buffer pool (memory stays flat only with a cap).
        With ``cache_limit_bytes`` too, the pool is held to that smaller limit except while an
        export sorts a slice, compaction rewrites a table or work touches a wide table (see
        :mod:`.memory`). ``threads`` sets DuckDB's worker threads. ``None`` leaves DuckDB's
        default. Appends, compactions and deletes that would leave less than ``min_free_bytes``
        free on the file's disk are refused with DiskFullError before DuckDB writes anything (a
        write that fails for want of space can leave DuckDB unusable until restarted). An append
        that would give a logstore more than ``max_fields`` columns is refused with
        TooManyFieldsError (``None``: no limit). Raises BackendUnavailableError when the file
        cannot be opened (e.g. locked by a process).
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with translate_errors(project="", logstore=""):
            connection = duckdb.connect(
                str(self.path),
                read_only=read_only,
                config=engine_config(memory_limit_bytes, threads),
            )
            super().__init__(
                connection,
                space=DirectorySpace(self.path.parent, min_free_bytes),
                memory_limit_bytes=memory_limit_bytes,
                cache_limit_bytes=cache_limit_bytes,
                max_fields=max_fields,
            )

    def _settle_wide_append(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Checkpoint now, at the memory limit: checkpointing a wide table needs about 1 MiB per
        column, and an automatic checkpoint that a later, narrow append starts at the cache limit
        would fail, a fatal DuckDB error that closes the database."""
        with suppress(duckdb.TransactionException):  # a concurrent checkpoint: it settles this
            cursor.execute("CHECKPOINT")

    def create_logstore(self, logstore: Logstore) -> None:
        """Create the logstore's table (and its project's schema); a no-op if it exists."""
        table = table_sql(logstore.project, logstore.name)
        statements = (
            f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(logstore.project)}",
            f"CREATE TABLE IF NOT EXISTS {table} ("
            f"{quote_identifier(logstore.time_field)} TIMESTAMPTZ NOT NULL, "
            f"{quote_identifier(LOGSTREAM_FIELD)} VARCHAR NOT NULL DEFAULT '')",
        )
        lock = self._locks.get(logstore.project, logstore.name)
        errors = store_errors(logstore.project, logstore.name)
        with lock.exclusive(), self._cursor() as cursor, errors:
            for statement in statements:
                cursor.execute(statement)

    def drop_logstore(self, project: str, logstore: str) -> None:
        """Drop the logstore's table, and its project's schema once empty; a no-op if absent."""
        table = table_sql(project, logstore)
        lock = self._locks.get(project, logstore)
        with lock.exclusive(), self._cursor() as cursor, store_errors(project, logstore):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            self._receipts.forget_logstore(cursor, (project, logstore))
            # The schema goes only once empty: other logstores of the project keep it alive. Count
            # them rather than trust DROP SCHEMA's dependency check: DuckDB 1.5.5 forgets that a
            # table depends on its schema once the table was altered, and drops it with the schema.
            if not _has_tables(cursor, project):
                with suppress(duckdb.DependencyException):
                    cursor.execute(f"DROP SCHEMA IF EXISTS {quote_identifier(project)}")

    def compact(self, project: str, logstore: str) -> CompactionReport:
        """Re-sort the logstore's table by time when its row groups overlap too much in time.

        Reads the time column's min/max per row group; past the overlap limit of
        ``compaction.py`` rewrites the table sorted by time in one transaction under the
        logstore's exclusive lock (appends wait; queries see the old or the new table). Returns
        what it did. Raises LogstoreNotFoundError, CompactionError when counts would differ.
        """
        table_sql(project, logstore)
        with self._cursor() as cursor, store_errors(project, logstore):
            self._read_schema(cursor, project, logstore)
            before = read_row_group_spans(cursor, project, logstore)
        if not before.needs_compaction():
            return self._unchanged(project, logstore, before.row_groups)
        self._ensure_room()
        lock = self._locks.get(project, logstore)
        with lock.exclusive(), self._cursor() as cursor, store_errors(project, logstore):
            time_field = self._read_schema(cursor, project, logstore).time_field
            before = read_row_group_spans(cursor, project, logstore)
            if not before.needs_compaction():
                return self._unchanged(project, logstore, before.row_groups)
            with self._sorting():
                rows = rewrite_sorted(cursor, project, logstore, time_field)
            after = read_row_group_spans(cursor, project, logstore)
        return CompactionReport(
            rewritten=True,
            rows=rows,
            row_groups_before=before.row_groups,
            row_groups_after=after.row_groups,
        )

    def _unchanged(self, project: str, logstore: str, row_groups: int) -> CompactionReport:
        rows = self._count_rows(project, logstore)
        return CompactionReport(
            rewritten=False, rows=rows, row_groups_before=row_groups, row_groups_after=row_groups
        )

    def scan_profile(self, request: RecordsQuery) -> ScanProfile:
        """Run the query's select under DuckDB's profiler; return the rows its scans read.

        A diagnostic (tests and benchmarks use it to show time-range pruning), not part of the port.
        """
        return self._queries.scan_profile(request)


def _has_tables(cursor: duckdb.DuckDBPyConnection, schema: str) -> bool:
    row = cursor.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = ?",
        [schema],
    ).fetchone()
    return bool(row and row[0])
