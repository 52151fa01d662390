"""``DuckDBLogStore``: the LogStore port on one embedded DuckDB file.

One DuckDB connection per store (create one store per file and process); every call opens its own
cursor on it, so any number of threads may append and query at once. Each project is a DuckDB
schema and each logstore a table whose first column is the time field (``TIMESTAMPTZ``, the
session time zone pinned to UTC), then ``logstream``, then the fields as they arrive. Appends are
sorted by time before they are inserted so row-group zonemaps let time-range queries skip the
rest of the table (``docs/adr/0002-duckdb-log-storage.md``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from logsluice.adapters.disk_space import DirectorySpace
from logsluice.adapters.duckdb.append_plan import AppendPlan, plan_append
from logsluice.adapters.duckdb.compaction import read_row_group_spans, rewrite_sorted
from logsluice.adapters.duckdb.errors import translate_errors
from logsluice.adapters.duckdb.extensions import NO_DOWNLOADS
from logsluice.adapters.duckdb.locks import LogstoreLocks
from logsluice.adapters.duckdb.memory import MemoryBudget
from logsluice.adapters.duckdb.queries import QueryRunner, ScanProfile
from logsluice.adapters.duckdb.tables import (
    field_type_from_sql,
    quote_identifier,
    quote_literal,
    table_sql,
)
from logsluice.domain.catalog import LOGSTREAM_FIELD, Field, Logstore, LogstoreSchema
from logsluice.domain.errors import LogstoreNotFoundError, TooManyFieldsError
from logsluice.ports import CompactionReport, LogstoreStats, LogstreamInfo

if TYPE_CHECKING:
    from logsluice.domain.cdn_statistics import ExportParameters
    from logsluice.ports import ColumnInfo, HistogramBucket, RecordsQuery
    from logsluice.query import ParsedQuery

_INCOMING_VIEW = "logsluice_incoming"
WIDE_FIELDS = 64
"""A table with more columns is wide: DuckDB needs about 128-256 KiB per column for each scan
and insert (a vector per column and thread, one block per column being written), so work on it
runs at the memory limit rather than the cache limit (``docs/reliability.md``, Bad inputs)."""


class DuckDBLogStore:
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
        self._space = DirectorySpace(self.path.parent, min_free_bytes)
        with translate_errors(project="", logstore=""):
            self._connection = duckdb.connect(
                str(self.path), read_only=read_only, config=_config(memory_limit_bytes, threads)
            )
            self._connection.execute("SET GLOBAL TimeZone = 'UTC'")
            self._memory = (
                MemoryBudget(self._connection, cache_limit_bytes, memory_limit_bytes)
                if memory_limit_bytes is not None and cache_limit_bytes is not None
                else None
            )
        self._max_fields = max_fields
        self._locks = LogstoreLocks()
        self._queries = QueryRunner(self._connection, self.schema, self._sorting, WIDE_FIELDS)

    def _sorting(self) -> AbstractContextManager[None]:
        """Context for work that sorts a large input: DuckDB may use its whole memory limit."""
        return self._memory.raised() if self._memory is not None else nullcontext()

    # --- storage -------------------------------------------------------------------------------

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
        with lock.exclusive(), self._cursor() as cursor, _errors(logstore.project, logstore.name):
            for statement in statements:
                cursor.execute(statement)

    def drop_logstore(self, project: str, logstore: str) -> None:
        """Drop the logstore's table, and its project's schema once empty; a no-op if absent."""
        table = table_sql(project, logstore)
        lock = self._locks.get(project, logstore)
        with lock.exclusive(), self._cursor() as cursor, _errors(project, logstore):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            # The schema goes only once empty: other logstores of the project keep it alive. Count
            # them rather than trust DROP SCHEMA's dependency check: DuckDB 1.5.5 forgets that a
            # table depends on its schema once the table was altered, and drops it with the schema.
            if not _has_tables(cursor, project):
                with suppress(duckdb.DependencyException):
                    cursor.execute(f"DROP SCHEMA IF EXISTS {quote_identifier(project)}")

    def schema(self, project: str, logstore: str) -> LogstoreSchema:
        """Return the logstore's fields, time field first. Raises LogstoreNotFoundError."""
        table_sql(project, logstore)
        with self._cursor() as cursor, _errors(project, logstore):
            return _read_schema(cursor, project, logstore)

    def append(self, project: str, logstore: str, records: pa.Table) -> int:
        """Append ``records`` in one transaction and return how many were stored.

        New columns extend the schema and clashing types widen it (under the logstore's exclusive
        lock); appends that change no schema run concurrently. Raises LogstoreNotFoundError, or
        InvalidRecordsError when the time field is missing or not a timestamp.
        """
        table = table_sql(project, logstore)
        if records.num_rows == 0:
            return 0
        self._space.ensure_room(records.nbytes)
        lock = self._locks.get(project, logstore)
        with lock.shared(), self._cursor() as cursor, _errors(project, logstore):
            stored = _read_schema(cursor, project, logstore)
            plan = self._plan(project, logstore, stored, records)
            if not plan.changes:
                with self._wide_work(len(stored.fields)):
                    return _insert(cursor, table, plan, records, stored.time_field)
        with lock.exclusive(), self._cursor() as cursor, _errors(project, logstore):
            stored = _read_schema(cursor, project, logstore)
            plan = self._plan(project, logstore, stored, records)
            with self._wide_work(len(stored.fields) + plan.added_fields):
                return _apply_changes_and_insert(cursor, table, plan, records, stored.time_field)

    def _plan(
        self, project: str, logstore: str, stored: LogstoreSchema, records: pa.Table
    ) -> AppendPlan:
        plan = plan_append(stored, records)
        fields = len(stored.fields) + plan.added_fields
        if self._max_fields is not None and fields > self._max_fields:
            raise TooManyFieldsError(
                f"logstore {project}/{logstore} has {len(stored.fields)} fields and these records "
                f"would add {plan.added_fields}, past the limit of {self._max_fields} fields "
                "(LOGSLUICE_INGEST_MAX_FIELDS); nothing was stored",
                limit=self._max_fields,
                setting="LOGSLUICE_INGEST_MAX_FIELDS",
            )
        return plan

    def _wide_work(self, fields: int) -> AbstractContextManager[None]:
        """Context for work on a table of ``fields`` columns: a wide one gets the memory limit."""
        return self._sorting() if fields > WIDE_FIELDS else nullcontext()

    def logstreams(self, project: str, logstore: str) -> list[LogstreamInfo]:
        """Return the logstreams seen in a logstore with their record counts, ordered by name."""
        table = table_sql(project, logstore)
        column = quote_identifier(LOGSTREAM_FIELD)
        statement = f"SELECT {column}, count(*) FROM {table} GROUP BY ALL ORDER BY {column}"
        with self._cursor() as cursor, _errors(project, logstore):
            rows = cursor.execute(statement).fetchall()
        return [LogstreamInfo(name=str(name), records=int(records)) for name, records in rows]

    def stats(self, project: str, logstore: str) -> LogstoreStats:
        """Return the record count and the oldest and newest record time of a logstore."""
        table = table_sql(project, logstore)
        with self._cursor() as cursor, _errors(project, logstore):
            time_field = quote_identifier(_read_schema(cursor, project, logstore).time_field)
            # epoch microseconds: DuckDB turns TIMESTAMPTZ into Python datetimes only with pytz
            statement = (
                f"SELECT count(*), epoch_us(min({time_field})), epoch_us(max({time_field})) "
                f"FROM {table}"
            )
            row = cursor.execute(statement).fetchone()
        records, first, last = row if row else (0, None, None)
        return LogstoreStats(
            records=int(records),
            first_record_at=_from_epoch_us(first),
            last_record_at=_from_epoch_us(last),
        )

    def delete_before(self, project: str, logstore: str, cutoff: datetime) -> int:
        """Delete records whose time is before ``cutoff``; return how many were deleted."""
        table = table_sql(project, logstore)
        self._space.ensure_room()
        lock = self._locks.get(project, logstore)
        with lock.shared(), self._cursor() as cursor, _errors(project, logstore):
            time_field = _read_schema(cursor, project, logstore).time_field
            cutoff_sql = f"CAST({quote_literal(cutoff.isoformat())} AS TIMESTAMPTZ)"
            statement = f"DELETE FROM {table} WHERE {quote_identifier(time_field)} < {cutoff_sql}"
            row = cursor.execute(statement).fetchone()
        return int(row[0]) if row else 0

    def compact(self, project: str, logstore: str) -> CompactionReport:
        """Re-sort the logstore's table by time when its row groups overlap too much in time.

        Reads the time column's min/max per row group; past the overlap limit of
        ``compaction.py`` rewrites the table sorted by time in one transaction under the
        logstore's exclusive lock (appends wait; queries see the old or the new table). Returns
        what it did. Raises LogstoreNotFoundError, CompactionError when counts would differ.
        """
        table_sql(project, logstore)
        with self._cursor() as cursor, _errors(project, logstore):
            _read_schema(cursor, project, logstore)
            before = read_row_group_spans(cursor, project, logstore)
        if not before.needs_compaction():
            return self._unchanged(project, logstore, before.row_groups)
        self._space.ensure_room()
        lock = self._locks.get(project, logstore)
        with lock.exclusive(), self._cursor() as cursor, _errors(project, logstore):
            time_field = _read_schema(cursor, project, logstore).time_field
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
        table = table_sql(project, logstore)
        with self._cursor() as cursor, _errors(project, logstore):
            row = cursor.execute(f"SELECT count(*) FROM {table}").fetchone()
        rows = int(row[0]) if row else 0
        return CompactionReport(
            rewritten=False, rows=rows, row_groups_before=row_groups, row_groups_after=row_groups
        )

    # --- queries ---------------------------------------------------------------------------------

    def parse_query(self, text: str) -> ParsedQuery:
        """Return the query checked with DuckDB's SQL rules. Raises InvalidQueryError."""
        return self._queries.language.parse_query(text)

    def compile_query(self, request: RecordsQuery) -> str:
        """Return the DuckDB SELECT ``request`` runs. Raises LogstoreNotFoundError,
        InvalidQueryError."""
        with _errors(request.project, request.logstore):
            return self._queries.compile(request)

    def statistics_query(self, parameters: ExportParameters) -> str:
        """Return the DuckDB ``* | SELECT …`` text of a Huawei CDN statistics export."""
        return self._queries.language.statistics_query(parameters)

    def fetch(self, request: RecordsQuery) -> tuple[list[ColumnInfo], pa.Table]:
        """Run the query; return its columns and rows (at most ``request.limit``).

        Raises QueryTimeoutError past ``request.timeout``, InvalidQueryError for a query the engine
        rejects, LogstoreNotFoundError.
        """
        return self._queries.fetch(request)

    def stream(self, request: RecordsQuery, batch_rows: int) -> pa.RecordBatchReader:
        """Return a reader that streams the query's rows, about ``batch_rows`` per batch."""
        return self._queries.stream(request, batch_rows)

    def count(self, request: RecordsQuery) -> int:
        """Return how many rows the query yields over its whole range, ignoring ``limit``."""
        return self._queries.count(request)

    def histogram(self, request: RecordsQuery, bucket: timedelta) -> list[HistogramBucket]:
        """Return the counts of records the query's search matches, per ``bucket`` of time."""
        return self._queries.histogram(request, bucket)

    def scan_profile(self, request: RecordsQuery) -> ScanProfile:
        """Run the query's select under DuckDB's profiler; return the rows its scans read.

        A diagnostic (tests and benchmarks use it to show time-range pruning), not part of the port.
        """
        return self._queries.scan_profile(request)

    def close(self) -> None:
        """Close the DuckDB connection; the store is unusable afterwards."""
        self._connection.close()

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self._connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


def _config(
    memory_limit_bytes: int | None, threads: int | None
) -> dict[str, str | bool | int | float | list[str]]:
    config: dict[str, str | bool | int | float | list[str]] = dict(NO_DOWNLOADS)
    if memory_limit_bytes is not None:
        config["memory_limit"] = f"{memory_limit_bytes}B"
    if threads is not None:
        config["threads"] = threads
    return config


def _errors(project: str, logstore: str) -> AbstractContextManager[None]:
    return translate_errors(project=project, logstore=logstore)


def _apply_changes_and_insert(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    plan: AppendPlan,
    records: pa.Table,
    time_field: str,
) -> int:
    cursor.execute("BEGIN TRANSACTION")
    try:
        for change in plan.changes:
            cursor.execute(change.statement(table))
        stored_rows = _insert(cursor, table, plan, records, time_field)
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    return stored_rows


def _insert(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    plan: AppendPlan,
    records: pa.Table,
    time_field: str,
) -> int:
    incoming_time = _incoming_name(records, time_field)
    sort_by = None if _is_sorted(records.column(incoming_time)) else incoming_time
    cursor.register(_INCOMING_VIEW, records)
    try:
        cursor.execute(plan.insert_statement(table, _INCOMING_VIEW, sort_by))
    finally:
        cursor.unregister(_INCOMING_VIEW)
    return int(records.num_rows)


def _read_schema(cursor: duckdb.DuckDBPyConnection, project: str, logstore: str) -> LogstoreSchema:
    rows = cursor.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [project, logstore],
    ).fetchall()
    if not rows:
        raise LogstoreNotFoundError(
            f"logstore {project}/{logstore} has no storage", project=project, logstore=logstore
        )
    fields = tuple(
        Field(name=str(name), type=field_type_from_sql(str(type_sql))) for name, type_sql in rows
    )
    return LogstoreSchema(time_field=fields[0].name, fields=fields)


def _has_tables(cursor: duckdb.DuckDBPyConnection, schema: str) -> bool:
    row = cursor.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = ?",
        [schema],
    ).fetchone()
    return bool(row and row[0])


def _from_epoch_us(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))


def _is_sorted(times: pa.ChunkedArray) -> bool:
    """Tell whether times never decrease; sorted batches are inserted as they are."""
    if len(times) < 2:
        return True
    values = pc.cast(times, pa.int64())
    return bool(pc.all(pc.less_equal(values.slice(0, len(values) - 1), values.slice(1))).as_py())


def _incoming_name(records: pa.Table, time_field: str) -> str:
    lowered = time_field.lower()
    names: list[str] = records.column_names
    return next(name for name in names if name.lower() == lowered)
