"""The log-store methods shared by every store whose engine is DuckDB: the file and the lake.

A logstore is a table ``[catalog.]"<project>"."<logstore>"``: the time field first
(``TIMESTAMPTZ``, the session time zone pinned to UTC), then ``logstream``, then the fields as they
arrive. :class:`DuckDBEngineStore` appends (schema growth and widening under per-logstore locks),
reads the schema, lists logstreams, counts, deletes by time and runs the queries of the port
through :class:`~.queries.QueryRunner`. The stores add how their tables are created, dropped and
compacted, and wrap each write in :meth:`DuckDBEngineStore._writing` (the lake retries commit
conflicts there, and waits out other nodes' widenings: ``_guard_write``, ``_announce_changes``).
An append's transaction and INSERT are in :mod:`.engine_appends`, its receipts in
:mod:`.store_receipts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import duckdb
import pyarrow as pa

from logsluice.adapters.duckdb.engine_appends import (
    in_transaction,
    insert_records,
    plan_within_limit,
)
from logsluice.adapters.duckdb.errors import translate_errors
from logsluice.adapters.duckdb.extensions import NO_DOWNLOADS
from logsluice.adapters.duckdb.locks import LogstoreLocks
from logsluice.adapters.duckdb.memory import MemoryBudget
from logsluice.adapters.duckdb.queries import QueryRunner
from logsluice.adapters.duckdb.store_receipts import StoreReceipts
from logsluice.adapters.duckdb.tables import (
    field_type_from_sql,
    quote_identifier,
    quote_literal,
    table_sql,
)
from logsluice.domain.catalog import LOGSTREAM_FIELD, Field, LogstoreSchema
from logsluice.domain.errors import LogstoreNotFoundError
from logsluice.ports import AppendReceipt, LogstoreStats, LogstreamInfo

if TYPE_CHECKING:
    from logsluice.adapters.disk_space import DirectorySpace
    from logsluice.adapters.duckdb.append_plan import ColumnChange
    from logsluice.adapters.duckdb.emitter import QueryTarget
    from logsluice.domain.cdn_statistics import ExportParameters
    from logsluice.ports import ColumnInfo, HistogramBucket, RecordsQuery
    from logsluice.query import ParsedQuery

WIDE_FIELDS = 64
"""A table with more columns is wide: DuckDB needs about 128-256 KiB per column for each scan
and insert (a vector per column and thread, one block per column being written), so work on it
runs at the memory limit rather than the cache limit (``docs/reliability.md``, Bad inputs)."""
_Result = TypeVar("_Result")
EngineConfig = dict[str, str | bool | int | float | list[str]]


def engine_config(
    memory_limit_bytes: int | None, threads: int | None, base: EngineConfig | None = None
) -> EngineConfig:
    """Return DuckDB connection settings: ``base`` (no downloads by default) plus the limits."""
    config: EngineConfig = dict(base if base is not None else NO_DOWNLOADS)
    if memory_limit_bytes is not None:
        config["memory_limit"] = f"{memory_limit_bytes}B"
    if threads is not None:
        config["threads"] = threads
    return config


class DuckDBEngineStore:
    """Appends and queries over DuckDB tables; subclasses open the connection and own storage."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        *,
        space: DirectorySpace | None,
        memory_limit_bytes: int | None,
        cache_limit_bytes: int | None,
        catalog: str | None = None,
        max_fields: int | None = None,
    ) -> None:
        """Serve the tables of ``connection`` (of the attached ``catalog`` if given).

        ``space`` refuses writes that would fill its disk (``None``: nothing to watch, e.g. S3);
        with both limits, DuckDB's memory is held to the cache limit except while sorting or
        working on a wide table. An append that would give a logstore more than ``max_fields``
        columns is refused with TooManyFieldsError (``None``: no limit).
        """
        self._connection = connection
        self._catalog = catalog
        self._space = space
        self._connection.execute("SET GLOBAL TimeZone = 'UTC'")
        # A process's first query with parameters makes DuckDB import pandas (~0.3 s of CPU): paid
        # here, at start-up, not by the first search or download task after it.
        self._connection.execute("SELECT ?", [0]).fetchall()
        self._memory = (
            MemoryBudget(connection, cache_limit_bytes, memory_limit_bytes)
            if memory_limit_bytes is not None and cache_limit_bytes is not None
            else None
        )
        self._max_fields = max_fields
        self._locks = LogstoreLocks()
        self._receipts = StoreReceipts(self._cursor, catalog)
        self._queries = QueryRunner(
            connection,
            self.schema,
            self._sorting,
            WIDE_FIELDS,
            catalog=catalog,
            skipped_files=self._skipped_files,
        )

    def _sorting(self) -> AbstractContextManager[None]:
        """Context for work that sorts a large input: DuckDB may use its whole memory limit."""
        return self._memory.raised() if self._memory is not None else nullcontext()

    def _skipped_files(self, request: RecordsQuery, target: QueryTarget) -> tuple[str, ...]:
        """The data files a slice read in storage order may leave out by name: none here (the
        DuckDB file has no data files; a lake store names them)."""
        return ()

    def _table(self, project: str, logstore: str) -> str:
        return table_sql(project, logstore, self._catalog)

    def _writing(self, work: Callable[[], _Result]) -> _Result:
        """Run one write (it opens its own cursors and transaction); the lake retries conflicts."""
        return work()

    def _change_statements(self, change: ColumnChange, table: str) -> tuple[str, ...]:
        """Return the statements applying one schema change (DuckDB converts columns in place)."""
        return (change.statement(table),)

    def _guard_write(self, cursor: duckdb.DuckDBPyConnection, project: str, logstore: str) -> None:
        """Check, in a write's transaction, that the logstore may be written now (no-op; the lake
        raises WideningUnderway while another node widens a column of it)."""

    def _announce_changes(
        self,
        cursor: duckdb.DuckDBPyConnection,
        project: str,
        logstore: str,
        changes: tuple[ColumnChange, ...],
    ) -> None:
        """Prepare other writers for ``changes`` before they are applied (no-op; the lake
        announces a widening that rewrites the table)."""

    def _changes_failed(
        self, cursor: duckdb.DuckDBPyConnection, project: str, logstore: str, error: BaseException
    ) -> None:
        """Clean up after schema changes whose transaction failed with ``error`` (no-op; the
        lake withdraws its widening intent unless a retry will announce it again)."""

    def _ensure_room(self, incoming_bytes: int = 0) -> None:
        if self._space is not None:
            self._space.ensure_room(incoming_bytes)

    # --- storage -------------------------------------------------------------------------------

    def schema(self, project: str, logstore: str) -> LogstoreSchema:
        """Return the logstore's fields, time field first. Raises LogstoreNotFoundError."""
        table_sql(project, logstore)
        with self._cursor() as cursor, store_errors(project, logstore):
            return self._read_schema(cursor, project, logstore)

    def append(
        self,
        project: str,
        logstore: str,
        records: pa.Table,
        *,
        receipt: AppendReceipt | None = None,
    ) -> int:
        """Append ``records`` in one transaction and return how many were stored.

        New columns extend the schema and clashing types widen it (under the logstore's exclusive
        lock); appends that change no schema run concurrently. A ``receipt`` is inserted in the
        same transaction (ADR 0022). Raises LogstoreNotFoundError, InvalidRecordsError when the
        time field is missing or not a timestamp, AppendKeyTakenError when the receipt's key is
        recorded already.
        """
        table_sql(project, logstore)
        if records.num_rows == 0:
            return 0
        self._ensure_room(records.nbytes)
        if receipt is None:
            return self._writing(lambda: self._append_once(project, logstore, records, None))
        self._receipts.ensure()
        with self._receipts.key_lock(receipt.key):
            return self._writing(lambda: self._append_once(project, logstore, records, receipt))

    def append_receipt(self, project: str, logstore: str, key: str) -> AppendReceipt | None:
        """Return the receipt recorded with ``key`` in the logstore, or None."""
        table_sql(project, logstore)
        return self._receipts.read(project, logstore, key)

    def forget_receipts(self, recorded_before: datetime) -> int:
        """Delete the receipts recorded before ``recorded_before``; return how many."""
        return self._receipts.forget(recorded_before)

    def _append_once(
        self, project: str, logstore: str, records: pa.Table, receipt: AppendReceipt | None
    ) -> int:
        table = self._table(project, logstore)
        lock = self._locks.get(project, logstore)
        with lock.shared(), self._cursor() as cursor, store_errors(project, logstore):
            stored = self._read_schema(cursor, project, logstore)
            plan = plan_within_limit(project, logstore, stored, records, self._max_fields)
            if not plan.changes:

                def insert() -> int:
                    self._guard_write(cursor, project, logstore)
                    if receipt is not None:
                        self._receipts.record(cursor, project, logstore, receipt)
                    return insert_records(cursor, table, plan, records, stored.time_field)

                with self._wide_work(cursor, len(stored.fields)):
                    return in_transaction(cursor, insert, receipt)
        with lock.exclusive(), self._cursor() as cursor, store_errors(project, logstore):
            stored = self._read_schema(cursor, project, logstore)
            plan = plan_within_limit(project, logstore, stored, records, self._max_fields)
            self._announce_changes(cursor, project, logstore, plan.changes)

            def change_and_insert() -> int:
                self._guard_write(cursor, project, logstore)
                if receipt is not None:
                    self._receipts.record(cursor, project, logstore, receipt)
                for change in plan.changes:
                    for statement in self._change_statements(change, table):
                        cursor.execute(statement)
                return insert_records(cursor, table, plan, records, stored.time_field)

            with self._wide_work(cursor, len(stored.fields) + plan.added_fields):
                try:
                    return in_transaction(cursor, change_and_insert, receipt)
                except BaseException as error:
                    self._changes_failed(cursor, project, logstore, error)
                    raise

    @contextmanager
    def _wide_work(self, cursor: duckdb.DuckDBPyConnection, fields: int) -> Iterator[None]:
        """Context for an append to a table of ``fields`` columns: a wide one runs at the memory
        limit, and what it wrote is settled (:meth:`_settle_wide_append`) before the limit drops."""
        if fields <= WIDE_FIELDS:
            yield
            return
        with self._sorting():
            yield
            self._settle_wide_append(cursor)

    def _settle_wide_append(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Finish the work a wide append left to the engine while memory is raised (no-op)."""

    def logstreams(self, project: str, logstore: str) -> list[LogstreamInfo]:
        """Return the logstreams seen in a logstore with their record counts, ordered by name."""
        table = self._table(project, logstore)
        column = quote_identifier(LOGSTREAM_FIELD)
        statement = f"SELECT {column}, count(*) FROM {table} GROUP BY ALL ORDER BY {column}"
        with self._cursor() as cursor, store_errors(project, logstore):
            rows = cursor.execute(statement).fetchall()
        return [LogstreamInfo(name=str(name), records=int(records)) for name, records in rows]

    def stats(self, project: str, logstore: str) -> LogstoreStats:
        """Return the record count and the oldest and newest record time of a logstore."""
        table = self._table(project, logstore)
        with self._cursor() as cursor, store_errors(project, logstore):
            time_field = quote_identifier(self._read_schema(cursor, project, logstore).time_field)
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
        self._ensure_room()
        return self._writing(lambda: self._delete_before_once(project, logstore, cutoff))

    def _delete_before_once(self, project: str, logstore: str, cutoff: datetime) -> int:
        table = self._table(project, logstore)
        lock = self._locks.get(project, logstore)
        with lock.shared(), self._cursor() as cursor, store_errors(project, logstore):
            time_field = self._read_schema(cursor, project, logstore).time_field
            cutoff_sql = f"CAST({quote_literal(cutoff.isoformat())} AS TIMESTAMPTZ)"
            statement = f"DELETE FROM {table} WHERE {quote_identifier(time_field)} < {cutoff_sql}"

            def delete() -> int:
                self._guard_write(cursor, project, logstore)
                row = cursor.execute(statement).fetchone()
                return int(row[0]) if row else 0

            return in_transaction(cursor, delete)

    def _count_rows(self, project: str, logstore: str) -> int:
        with self._cursor() as cursor, store_errors(project, logstore):
            table = self._table(project, logstore)
            row = cursor.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    # --- queries ---------------------------------------------------------------------------------

    def parse_query(self, text: str) -> ParsedQuery:
        """Return the query checked with DuckDB's SQL rules. Raises InvalidQueryError."""
        return self._queries.language.parse_query(text)

    def compile_query(self, request: RecordsQuery) -> str:
        """Return the DuckDB SELECT ``request`` runs. Raises LogstoreNotFoundError,
        InvalidQueryError."""
        with store_errors(request.project, request.logstore):
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

    def _read_schema(
        self, cursor: duckdb.DuckDBPyConnection, project: str, logstore: str
    ) -> LogstoreSchema:
        database = "?" if self._catalog else "current_database()"
        rows = cursor.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            f"WHERE database_name = {database} AND schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [*([self._catalog] if self._catalog else []), project, logstore],
        ).fetchall()
        if not rows:
            raise LogstoreNotFoundError(
                f"logstore {project}/{logstore} has no storage", project=project, logstore=logstore
            )
        fields = tuple(
            Field(name=str(name), type=field_type_from_sql(str(type_sql)))
            for name, type_sql in rows
        )
        return LogstoreSchema(time_field=fields[0].name, fields=fields)


def store_errors(project: str, logstore: str) -> AbstractContextManager[None]:
    return translate_errors(project=project, logstore=logstore)


def _from_epoch_us(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))
