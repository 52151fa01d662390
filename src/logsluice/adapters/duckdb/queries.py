"""Running the queries of the log store: SQL from the DuckDB emitter, Arrow out.

Each query runs on its own cursor; a timer interrupts the cursor past the request's timeout, and the
request's cancellation interrupts it when the work it serves is cancelled.
Streams use ``cursor.sql(q).to_arrow_reader(n)``, which produces batches as DuckDB makes them
(``execute(q).to_arrow_reader`` would build the whole result first).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, TypeVar

import duckdb
import pyarrow as pa

from logsluice.adapters.duckdb.emitter import QueryTarget
from logsluice.adapters.duckdb.errors import translate_errors
from logsluice.adapters.duckdb.query_language import DuckDBQueryLanguage
from logsluice.adapters.duckdb.sorted_pieces import PieceReaders, piece_bucket, plan_pieces
from logsluice.adapters.duckdb.tables import field_type_from_arrow, quote_identifier, table_sql
from logsluice.domain.cancellation import interrupting
from logsluice.domain.catalog import LogstoreSchema
from logsluice.domain.errors import InvalidQueryError, QueryCancelledError, QueryTimeoutError
from logsluice.domain.query_ast import MatchAll
from logsluice.domain.query_progress import QueryProgress
from logsluice.domain.timerange import TimeRange
from logsluice.ports import ColumnInfo, HistogramBucket
from logsluice.query.suggestions import position_in_sql, unknown_field_error

if TYPE_CHECKING:
    from logsluice.ports import RecordsQuery

_Result = TypeVar("_Result")


ROW_GROUP_ROWS = 122_880
"""Rows in one full DuckDB row group; scans read whole row groups."""


@dataclass(frozen=True)
class ScanProfile:
    """What the table scans of one query read, from DuckDB's profiler.

    DuckDB 1.5's profiler reports rows scanned but not row groups, so ``row_groups_scanned`` is
    the rows scanned in whole row groups (exact when every row group scanned is full).
    """

    rows_scanned: int
    row_groups_scanned: int
    row_groups_total: int


class QueryRunner:
    """Compiles RecordsQuery objects with the DuckDB emitter and runs them on fresh cursors."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        read_schema: Callable[[str, str], LogstoreSchema],
        sorting: Callable[[], AbstractContextManager[None]] = nullcontext,
        wide_fields: int | None = None,
        *,
        catalog: str | None = None,
        skipped_files: Callable[[RecordsQuery, QueryTarget], tuple[str, ...]] | None = None,
    ) -> None:
        """``sorting`` gives a query the engine's whole memory limit: ``| SQL`` queries, sorted
        export slices and, past ``wide_fields`` columns (None: never), any query of the table.
        ``catalog`` names the attached database holding the tables (``None``: the default).
        ``skipped_files`` (a lake's) returns the data files a slice read in storage order may
        leave out by name and read the rest whole (``QueryTarget.skipped_files``; none: read
        by the time range)."""
        self._connection = connection
        self._read_schema = read_schema
        self._sorting = sorting
        self._wide_fields = wide_fields
        self._catalog = catalog
        self._skipped_files = skipped_files
        self.language = DuckDBQueryLanguage()
        self._emitter = self.language.emitter

    def compile(self, request: RecordsQuery) -> str:
        """Return the SELECT ``request`` runs, as shown to users (the select of ``fetch``)."""
        schema = self._read_schema(request.project, request.logstore)
        return self.language.compile_select(
            request, schema, table_sql(request.project, request.logstore, self._catalog)
        )

    def fetch(self, request: RecordsQuery) -> tuple[list[ColumnInfo], pa.Table]:
        """Return the query's columns and rows, at most ``request.limit`` of them."""
        target = self._target(request)
        statement = self._emitter.select(
            request.query, target, order=request.order, limit=request.limit, sort=request.sort
        )
        table = self._run(
            request, lambda cursor: cursor.sql(statement).to_arrow_table(), target.schema
        )
        return [_column_info(field) for field in table.schema], table

    def count(self, request: RecordsQuery) -> int:
        """Return how many rows the query yields over its whole range."""
        target = self._target(request)
        statement = self._emitter.count(request.query, target)
        row = self._run(request, lambda cursor: cursor.execute(statement).fetchone(), target.schema)
        return int(row[0]) if row else 0

    def histogram(self, request: RecordsQuery, bucket: timedelta) -> list[HistogramBucket]:
        """Return record counts per time bucket, oldest bucket first."""
        target = self._target(request)
        statement = self._emitter.histogram(request.query, target, bucket)
        table = self._run(
            request, lambda cursor: cursor.sql(statement).to_arrow_table(), target.schema
        )
        starts, counts = table.column(0).to_pylist(), table.column(1).to_pylist()
        return [
            HistogramBucket(start=start.astimezone(UTC), count=int(count))
            for start, count in zip(starts, counts, strict=True)
        ]

    def scan_profile(self, request: RecordsQuery) -> ScanProfile:
        """Run the query's select with DuckDB's profiler on and return what its table scans read."""
        target = self._target(request)
        statement = self._emitter.select(
            request.query, target, order=request.order, limit=request.limit
        )

        def profiled(cursor: duckdb.DuckDBPyConnection) -> ScanProfile:
            cursor.execute("PRAGMA enable_profiling = 'no_output'")
            cursor.sql(statement).to_arrow_table()
            totals = json.loads(cursor.get_profiling_information(format="json"))
            cursor.execute("PRAGMA disable_profiling")
            rows_scanned = int(totals["cumulative_rows_scanned"])
            return ScanProfile(
                rows_scanned=rows_scanned,
                row_groups_scanned=-(-rows_scanned // ROW_GROUP_ROWS),
                row_groups_total=_row_groups(cursor, request.project, request.logstore),
            )

        return self._run(request, profiled, target.schema)

    def stream(self, request: RecordsQuery, batch_rows: int) -> pa.RecordBatchReader:
        """Return a reader producing the query's rows about ``batch_rows`` at a time; a slice
        sorted by time is read in pieces (:mod:`.sorted_pieces`)."""
        target = self._target(request)
        pieces = self._sorted_pieces(request, target)
        if len(pieces) > 1:
            return self._stream_pieces(request, target, pieces, batch_rows)
        if self._skipped_files is not None and _is_storage_order_slice(request):
            target = replace(target, skipped_files=self._skipped_files(request, target))
        statement = self._emitter.select(
            request.query, target, order=request.order, limit=request.limit, sort=request.sort
        )
        held = ExitStack()
        if _stream_needs_working_memory(request) or self._is_wide(target.schema):
            held.enter_context(self._sorting())  # until the reader is closed
        cursor = self._connection.cursor()
        held.callback(_finish, cursor, _start_timer(cursor.interrupt, request.timeout))
        try:
            with self._errors(request):
                held.enter_context(interrupting(request.cancellation, cursor.interrupt))
                if request.progress is not None:
                    held.enter_context(_reporting_progress(cursor, request.progress))
                reader = cursor.sql(statement).to_arrow_reader(batch_rows)
        except BaseException:
            held.close()
            raise
        batches = self._batches(request, reader, held)
        # a reader dropped before its first batch never runs the generator's cleanup: do it then
        weakref.finalize(batches, held.close)
        return pa.RecordBatchReader.from_batches(reader.schema, batches)

    def _sorted_pieces(self, request: RecordsQuery, target: QueryTarget) -> list[TimeRange]:
        """The pieces an export slice sorted by time is read in: its range cut where a count of
        all its records (the time column only) passes ``PIECE_ROWS``; one piece for any other
        request."""
        if not _is_sorted_slice(request):
            return [target.time_range]
        bucket = piece_bucket(target.time_range)
        statement = self._emitter.histogram(self.language.parse_query("*"), target, bucket)
        table = self._run_on_cursor(request, lambda cursor: cursor.sql(statement).to_arrow_table())
        buckets = [
            HistogramBucket(start=start.astimezone(UTC), count=int(count))
            for start, count in zip(
                table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True
            )
        ]
        return plan_pieces(target.time_range, buckets, request.order)

    def _stream_pieces(
        self,
        request: RecordsQuery,
        target: QueryTarget,
        pieces: list[TimeRange],
        batch_rows: int,
    ) -> pa.RecordBatchReader:
        statements = [
            self._emitter.select(
                request.query, replace(target, time_range=piece), order=request.order, limit=None
            )
            for piece in pieces
        ]
        held = ExitStack()
        held.enter_context(self._sorting())  # until the reader is closed
        readers = PieceReaders(self._connection, statements, batch_rows)
        held.callback(readers.close)
        held.callback(_cancel_timer, _start_timer(readers.interrupt, request.timeout))
        try:
            with self._errors(request):
                held.enter_context(interrupting(request.cancellation, readers.interrupt))
                schema = readers.open()
        except BaseException:
            held.close()
            raise
        batches = self._batches(request, readers.batches(), held)
        weakref.finalize(batches, held.close)  # as in stream
        return pa.RecordBatchReader.from_batches(schema, batches)

    def _batches(
        self,
        request: RecordsQuery,
        reader: Iterable[pa.RecordBatch],
        held: ExitStack,
    ) -> Iterator[pa.RecordBatch]:
        with held, self._errors(request):
            yield from reader

    def _target(self, request: RecordsQuery) -> QueryTarget:
        schema = self._read_schema(request.project, request.logstore)
        return QueryTarget(
            table_sql=table_sql(request.project, request.logstore, self._catalog),
            time_column=schema.time_field,
            schema=schema,
            time_range=request.time_range,
        )

    def _run(
        self,
        request: RecordsQuery,
        work: Callable[[duckdb.DuckDBPyConnection], _Result],
        schema: LogstoreSchema,
    ) -> _Result:
        """Run ``work`` on a fresh cursor; a ``| SQL`` query or a query of a wide table may use
        the whole memory limit."""
        raised = request.query.has_sql or self._is_wide(schema)
        with self._sorting() if raised else nullcontext():
            return self._run_on_cursor(request, work)

    def _is_wide(self, schema: LogstoreSchema) -> bool:
        return self._wide_fields is not None and len(schema.fields) > self._wide_fields

    def _run_on_cursor(
        self, request: RecordsQuery, work: Callable[[duckdb.DuckDBPyConnection], _Result]
    ) -> _Result:
        cursor = self._connection.cursor()
        timer = _start_timer(cursor.interrupt, request.timeout)
        try:
            with self._errors(request), interrupting(request.cancellation, cursor.interrupt):
                return work(cursor)
        finally:
            _finish(cursor, timer)

    @contextmanager
    def _errors(self, request: RecordsQuery) -> Iterator[None]:
        try:
            with translate_errors(
                project=request.project,
                logstore=request.logstore,
                query_position=_sql_position(request),
                timeout=request.timeout,
                unknown_column=lambda name: self._unknown_column(request, name),
            ):
                yield
        except QueryTimeoutError as error:
            # DuckDB tells no interrupt from another: a cancelled request was not timed out
            if request.cancellation is not None and request.cancellation.cancelled:
                raise QueryCancelledError(
                    "the query was interrupted: its work was cancelled"
                ) from error
            raise

    def _unknown_column(self, request: RecordsQuery, name: str) -> InvalidQueryError:
        fields = self._read_schema(request.project, request.logstore).fields
        position = position_in_sql(request.query, name, "duckdb") if request.query.has_sql else 0
        return unknown_field_error(name, position, [field.name for field in fields], what="column")


def _stream_needs_working_memory(request: RecordsQuery) -> bool:
    """True for a ``| SQL`` query (its aggregations and sorts may need memory) and for an export's
    slice sorted by time (a plain SEARCH, sorted, with no limit). A SEARCH read in storage order or
    a preview with a limit runs within the cache limit."""
    return request.query.has_sql or (request.sort and request.limit is None)


_PROGRESS_SETTINGS = (
    "SET enable_progress_bar = true",
    "SET enable_progress_bar_print = false",
    "SET progress_bar_time = 0",
)


def _reporting_progress(
    cursor: duckdb.DuckDBPyConnection, progress: QueryProgress
) -> AbstractContextManager[None]:
    """Make the cursor track its query's progress and let ``progress`` read it meanwhile."""
    for setting in _PROGRESS_SETTINGS:
        cursor.execute(setting)

    def probe() -> float | None:
        try:
            percent = float(cursor.query_progress())
        except duckdb.Error:
            return None
        return percent if percent >= 0 else None  # -1: no query running

    return progress.probing(probe)


def _is_sorted_slice(request: RecordsQuery) -> bool:
    """True for an export's slice sorted by time: a plain SEARCH, sorted, with no limit (and no
    progress asked, which reports on one query)."""
    return (
        request.sort
        and not request.query.has_sql
        and request.limit is None
        and request.progress is None
    )


def _is_storage_order_slice(request: RecordsQuery) -> bool:
    """True for an export's slice read in storage order: a plain ``*`` SEARCH, unsorted, with no
    limit (its whole range is read, so a file wholly inside it is read whole)."""
    return (
        not request.sort
        and not request.query.has_sql
        and isinstance(request.query.search, MatchAll)
        and request.limit is None
    )


def _start_timer(
    interrupt: Callable[[], None], timeout: timedelta | None
) -> threading.Timer | None:
    if timeout is None:
        return None
    timer = threading.Timer(timeout.total_seconds(), interrupt)
    timer.daemon = True
    timer.start()
    return timer


def _cancel_timer(timer: threading.Timer | None) -> None:
    if timer is not None:
        timer.cancel()


def _finish(cursor: duckdb.DuckDBPyConnection, timer: threading.Timer | None) -> None:
    _cancel_timer(timer)
    cursor.close()


def _sql_position(request: RecordsQuery) -> int:
    """Where DuckDB errors point in the user's text: the SQL part (errors come from it), else 0."""
    return request.query.sql_offset if request.query.has_sql else 0


def _row_groups(cursor: duckdb.DuckDBPyConnection, project: str, logstore: str) -> int:
    row = cursor.execute(
        "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info(?)",
        [f"{quote_identifier(project)}.{quote_identifier(logstore)}"],
    ).fetchone()
    return int(row[0]) if row else 0


def _column_info(field: pa.Field) -> ColumnInfo:
    return ColumnInfo(name=field.name, type=str(field_type_from_arrow(field.type)))
