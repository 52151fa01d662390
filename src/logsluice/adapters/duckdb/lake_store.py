"""``DuckLakeLogStore``: the LogStore port on a DuckLake (a catalog database plus Parquet files).

Each process opens an in-memory DuckDB, loads the extensions the lake needs from the installed
packages (:mod:`.extensions`), creates its S3 secret (temporary, never visible to user SQL: the
allow-list refuses secret and ``ducklake_*`` functions) and attaches the lake as ``lake``
(:mod:`.lake_attach`); the tables are ``lake."<project>"."<logstore>"`` with the layout of
:mod:`.engine_store`, partitioned by day of the time field, and every append is sorted by time,
so each data file covers a narrow time span and a time-range query reads only the files whose
min/max (kept in the catalog) meet its range. Files of several nodes' appends overlap in time: a
slice read from them is sorted, in pieces (:mod:`.sorted_pieces`).

Any number of processes on any hosts append to one logstore at once: DuckLake commits
optimistically; a commit that conflicts with another node's (a schema change, a concurrent create)
is retried from the start, re-reading the schema (:mod:`.lake_commits`), so nothing is lost or
doubled. A widening that rewrites the table is announced first and other nodes' appends
wait for it (:mod:`.lake_widening`), so it commits without competing inserts. Compaction and
retention use DuckLake's own maintenance: flush inlined data, merge adjacent files, rewrite files
with deletions, expire snapshots, clean up old and orphaned files.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb
import structlog

from logsluice.adapters.disk_space import DirectorySpace
from logsluice.adapters.duckdb.emitter import LAKE_FILE_NAME, QueryTarget
from logsluice.adapters.duckdb.engine_store import DuckDBEngineStore, engine_config, store_errors
from logsluice.adapters.duckdb.errors import translate_errors
from logsluice.adapters.duckdb.extensions import ExtensionDirectory
from logsluice.adapters.duckdb.lake_attach import LAKE, attach_lake, lake_extensions
from logsluice.adapters.duckdb.lake_commits import is_conflict, write_retrying
from logsluice.adapters.duckdb.lake_histogram import (
    file_boundaries,
    files_outside,
    live_file_spans,
    spread_over_buckets,
)
from logsluice.adapters.duckdb.lake_location import parse_lake_url
from logsluice.adapters.duckdb.lake_maintenance import (
    cleanup_statements,
    compaction_statements,
    logstore_files,
    needs_compaction,
)
from logsluice.adapters.duckdb.lake_scans import profile_lake_scan
from logsluice.adapters.duckdb.lake_widening import (
    WideningUnderway,
    announce_widening,
    clear_statement,
    refuse_if_widening_elsewhere,
    withdraw_intent,
)
from logsluice.adapters.duckdb.tables import quote_identifier, table_sql
from logsluice.domain.catalog import LOGSTREAM_FIELD
from logsluice.domain.query_ast import MatchAll
from logsluice.ports import CompactionReport

if TYPE_CHECKING:
    from logsluice.adapters.duckdb.append_plan import ColumnChange
    from logsluice.adapters.duckdb.queries import ScanProfile
    from logsluice.domain.catalog import Logstore
    from logsluice.ports import HistogramBucket, RecordsQuery

# LAKE and lake_extensions (of .lake_attach) are imported from here by tests and benchmarks
__all__ = ["LAKE", "DuckLakeLogStore", "create_lake_log_store", "lake_extensions"]
_Result = TypeVar("_Result")
_Read = TypeVar("_Read")


class DuckLakeLogStore(DuckDBEngineStore):
    """Records of every project in one DuckLake; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        environment: Mapping[str, str] | None = None,
        memory_limit_bytes: int | None = None,
        cache_limit_bytes: int | None = None,
        threads: int | None = None,
        min_free_bytes: int = 0,
        max_fields: int | None = None,
        maintenance_grace: timedelta = timedelta(minutes=10),
    ) -> None:
        """Attach the lake a ``ducklake:`` URL names (see :mod:`.lake_location`).

        ``environment`` supplies the ``AWS_*`` variables the URL does not set; the limits are
        those of :class:`~.engine_store.DuckDBEngineStore`, except ``cache_limit_bytes``: the
        lake runs at ``memory_limit_bytes`` throughout, since its appends write Parquet (a row
        group per column and S3 upload parts in memory) and the memory other parts of DuckDB
        hold (catalog, metadata caches) made the lowered limit fail even small queries. Files
        replaced by compaction or retention are deleted once ``maintenance_grace`` old, so
        queries still reading the previous snapshot (on any node) finish. Raises
        MissingDriverError when the ``lake`` extra is not installed, InvalidInputError for a bad
        URL, BackendUnavailableError when the catalog or data path cannot be reached.
        """
        self.location = parse_lake_url(url, environment or {})
        self.node = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.maintenance_grace = maintenance_grace
        self._last_cleanup = datetime.min.replace(tzinfo=UTC)
        self._extensions = ExtensionDirectory(lake_extensions(self.location))
        self._spill = Path(tempfile.mkdtemp(prefix="logsluice-lake-spill-"))
        config = engine_config(memory_limit_bytes, threads, self._extensions.config())
        config["temp_directory"] = str(self._spill)
        try:
            with translate_errors(project="", logstore=""):
                connection = duckdb.connect(":memory:", config=config)
                self._extensions.load_all(connection)
                attach_lake(connection, self.location)
        except BaseException:
            self._remove_temporaries()
            raise
        local_data = None if self.location.data_on_s3 else Path(self.location.data_path)
        super().__init__(
            connection,
            space=DirectorySpace(local_data, min_free_bytes) if local_data else None,
            memory_limit_bytes=memory_limit_bytes,
            cache_limit_bytes=None,  # see __init__'s docstring
            catalog=LAKE,
            max_fields=max_fields,
        )

    def _writing(self, work: Callable[[], _Result]) -> _Result:
        """Run ``work``, again while its commit conflicts with another node's or another node
        widens a column of its logstore (:func:`~.lake_commits.write_retrying`)."""
        return write_retrying(work)

    def _guard_write(self, cursor: duckdb.DuckDBPyConnection, project: str, logstore: str) -> None:
        """Raise WideningUnderway when another node's widening intent on the logstore is fresh
        in this transaction's snapshot (an older snapshot's commit conflicts with the intent)."""
        refuse_if_widening_elsewhere(cursor, LAKE, project, logstore, self.node)

    def _announce_changes(
        self,
        cursor: duckdb.DuckDBPyConnection,
        project: str,
        logstore: str,
        changes: tuple[ColumnChange, ...],
    ) -> None:
        """Commit a widening intent on the table before changes that rewrite it (any but a new
        column or a numeric promotion): appends that began before it fail at their commit and
        are retried, later ones wait for it (:mod:`.lake_widening`)."""
        columns = tuple(change.name for change in changes if not change.is_promotion)
        if not columns:
            return
        target = (LAKE, project, logstore)
        intent = announce_widening(
            cursor, target, self._table(project, logstore), self.node, columns
        )
        structlog.get_logger().info(
            "lake.widening_announced",
            project=project,
            logstore=logstore,
            columns=list(columns),
            expires_in_seconds=round(intent.lifetime.total_seconds(), 1),
        )

    def _changes_failed(
        self, cursor: duckdb.DuckDBPyConnection, project: str, logstore: str, error: BaseException
    ) -> None:
        """Withdraw this node's widening intent after a failure no retry follows, so other nodes
        need not wait for it to expire (after a conflict the retry announces it again)."""
        if isinstance(error, WideningUnderway) or is_conflict(error):
            return
        with suppress(duckdb.Error):
            withdraw_intent(
                cursor, (LAKE, project, logstore), self._table(project, logstore), self.node
            )

    def _change_statements(self, change: ColumnChange, table: str) -> tuple[str, ...]:
        """DuckLake widens numbers in place; other widenings copy into a new column and remove
        the widening intent in the same transaction."""
        if change.is_promotion:
            return (change.statement(table),)
        return (*change.copying_statements(table), clear_statement(table))

    # --- storage -------------------------------------------------------------------------------

    def create_logstore(self, logstore: Logstore) -> None:
        """Create the logstore's table, partitioned by day; a no-op if it exists."""
        table = self._table(logstore.project, logstore.name)
        time_field = quote_identifier(logstore.time_field)
        statements = (
            f"CREATE SCHEMA IF NOT EXISTS {LAKE}.{quote_identifier(logstore.project)}",
            f"CREATE TABLE IF NOT EXISTS {table} ("
            f"{time_field} TIMESTAMPTZ NOT NULL, "
            f"{quote_identifier(LOGSTREAM_FIELD)} VARCHAR NOT NULL DEFAULT '')",
            f"ALTER TABLE {table} SET PARTITIONED BY "
            f"(year({time_field}), month({time_field}), day({time_field}))",
        )

        def create() -> None:
            lock = self._locks.get(logstore.project, logstore.name)
            errors = store_errors(logstore.project, logstore.name)
            with lock.exclusive(), self._cursor() as cursor, errors:
                if _has_table(cursor, logstore.project, logstore.name):
                    return
                cursor.execute("BEGIN TRANSACTION")
                try:
                    for statement in statements:
                        cursor.execute(statement)
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise

        self._writing(create)

    def drop_logstore(self, project: str, logstore: str) -> None:
        """Drop the logstore's table (and its project's schema once empty) and delete its files.

        The drop expires every earlier snapshot and deletes the files no snapshot needs, so
        nothing of the logstore stays behind. A no-op if absent.
        """
        table = table_sql(project, logstore, LAKE)

        def drop() -> None:
            lock = self._locks.get(project, logstore)
            with lock.exclusive(), self._cursor() as cursor, store_errors(project, logstore):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                self._receipts.forget_logstore(cursor, (project, logstore))
                if not _has_tables(cursor, project):
                    with suppress(duckdb.Error):
                        cursor.execute(f"DROP SCHEMA IF EXISTS {LAKE}.{quote_identifier(project)}")

        self._writing(drop)
        self._expire_and_clean(grace=timedelta(0), cleanup_all=True)

    def compact(self, project: str, logstore: str) -> CompactionReport:
        """Run DuckLake's maintenance on the logstore when it has anything to merge or rewrite
        (:mod:`.lake_maintenance`), then expire snapshots and delete files older than the grace
        (at most once per grace period). Returns the data files before and after (as row
        groups). Raises LogstoreNotFoundError."""
        self.schema(project, logstore)
        before = self._files(project, logstore)
        if self._widening_elsewhere(project, logstore):
            structlog.get_logger().info(
                "lake.compaction_deferred_for_widening", project=project, logstore=logstore
            )
        elif needs_compaction(before, inlining=self.location.inline_rows > 0):
            self._ensure_room()
            for statement in compaction_statements(LAKE, project, logstore):
                self._writing(partial(self._call, project, logstore, statement))
        if datetime.now(UTC) - self._last_cleanup >= self.maintenance_grace:
            self._expire_and_clean(grace=self.maintenance_grace)
        after = self._files(project, logstore)
        return CompactionReport(
            rewritten=after != before,
            rows=self._count_rows(project, logstore),
            row_groups_before=len(before),
            row_groups_after=len(after),
        )

    def planning_histogram(
        self, request: RecordsQuery, bucket: timedelta
    ) -> list[HistogramBucket] | None:
        """Return the rows of a plain ``*`` search per ``bucket`` from the lake's catalog, without
        reading a data file (:mod:`.lake_histogram`); None when the catalog cannot tell them
        exactly (a filter or SQL, deletions, inlined rows, missing statistics, a catalog that
        cannot be read): then :meth:`histogram` reads the data. Raises LogstoreNotFoundError."""
        if request.query.has_sql or not isinstance(request.query.search, MatchAll):
            return None
        time_field = self.schema(request.project, request.logstore).time_field
        spans = self._from_catalog(
            request,
            "lake.catalog_histogram_failed",
            lambda cursor: live_file_spans(
                cursor, LAKE, request.project, request.logstore, time_field
            ),
            None,
        )
        return None if spans is None else spread_over_buckets(spans, request.time_range, bucket)

    def planning_boundaries(self, request: RecordsQuery) -> list[datetime]:
        """Return the instants between the logstore's data files from the catalog
        (:func:`.lake_histogram.file_boundaries`): slices ending there are read file by file
        (:meth:`_skipped_files`); none for a filter or SQL, or when the catalog cannot be read.
        Raises LogstoreNotFoundError."""
        if request.query.has_sql or not isinstance(request.query.search, MatchAll):
            return []
        time_field = self.schema(request.project, request.logstore).time_field
        return self._from_catalog(
            request,
            "lake.catalog_boundaries_failed",
            lambda cursor: file_boundaries(
                cursor, LAKE, request.project, request.logstore, time_field
            ),
            [],
        )

    def _skipped_files(self, request: RecordsQuery, target: QueryTarget) -> tuple[str, ...]:
        """The data files a slice read in storage order leaves out by name, reading the others
        whole (:func:`.lake_histogram.files_outside`); none when a field of the logstore is
        named like DuckLake's ``filename`` column, or the catalog cannot be read (the slice is
        then read by its time range)."""
        if target.schema.get(LAKE_FILE_NAME) is not None:
            return ()
        return self._from_catalog(
            request,
            "lake.catalog_files_failed",
            lambda cursor: files_outside(
                cursor,
                LAKE,
                request.project,
                request.logstore,
                target.time_column,
                target.time_range,
            ),
            (),
        )

    def _from_catalog(
        self,
        request: RecordsQuery,
        event: str,
        read: Callable[[duckdb.DuckDBPyConnection], _Read],
        fallback: _Read,
    ) -> _Read:
        """Return what ``read`` reads from the catalog on a cursor of its own; ``fallback`` (and
        a warning ``event``) when the catalog cannot be read: the caller then reads the data."""
        try:
            with self._cursor() as cursor:
                return read(cursor)
        except duckdb.Error as error:
            structlog.get_logger().warning(
                event, project=request.project, logstore=request.logstore, error=str(error)
            )
            return fallback

    def data_files(self, project: str, logstore: str) -> list[str]:
        """Return the paths of the logstore's current data files (a diagnostic for tests)."""
        return [data for data, _ in self._files(project, logstore)]

    def scan_profile(self, request: RecordsQuery) -> ScanProfile:
        """Run the query's select under DuckDB's profiler; return the rows and data files (as row
        groups) its scans read, and the logstore's data files (:mod:`.lake_scans`). A diagnostic
        for tests and benchmarks, not part of the port."""
        statement = self.compile_query(request)
        files = self.data_files(request.project, request.logstore)
        with self._cursor() as cursor, store_errors(request.project, request.logstore):
            return profile_lake_scan(cursor, statement, files)

    def close(self) -> None:
        """Detach the lake, close DuckDB and remove this process's temporary directories."""
        try:
            super().close()
        finally:
            self._remove_temporaries()

    def _widening_elsewhere(self, project: str, logstore: str) -> bool:
        """Tell whether another node is widening the logstore (compaction would make the
        widening's rewrite conflict, so it waits for the next pass)."""
        with self._cursor() as cursor, store_errors(project, logstore):
            try:
                self._guard_write(cursor, project, logstore)
            except WideningUnderway:
                return True
        return False

    def _files(self, project: str, logstore: str) -> list[tuple[str, str | None]]:
        with self._cursor() as cursor, store_errors(project, logstore):
            return sorted(logstore_files(cursor, LAKE, project, logstore))

    def _call(self, project: str, logstore: str, statement: str) -> None:
        with self._cursor() as cursor, store_errors(project, logstore):
            cursor.execute(statement)

    def _expire_and_clean(self, *, grace: timedelta, cleanup_all: bool = False) -> None:
        self._last_cleanup = datetime.now(UTC)
        for step in range(3):  # each step's cut-off is taken when it starts
            statement = cleanup_statements(LAKE, grace, cleanup_all=cleanup_all)[step]
            self._writing(partial(self._call, "", "", statement))

    def _remove_temporaries(self) -> None:
        self._extensions.remove()
        shutil.rmtree(self._spill, ignore_errors=True)


def create_lake_log_store(
    url: str,
    environment: Mapping[str, str],
    *,
    memory_limit_bytes: int | None,
    cache_limit_bytes: int | None,
    threads: int | None,
    min_free_bytes: int,
    max_fields: int | None,
) -> DuckLakeLogStore:
    """Open the DuckLake store of ``url`` with the process's environment (for ``AWS_*``)."""
    return DuckLakeLogStore(
        url,
        environment=environment,
        memory_limit_bytes=memory_limit_bytes,
        cache_limit_bytes=cache_limit_bytes,
        threads=threads,
        min_free_bytes=min_free_bytes,
        max_fields=max_fields,
    )


def _has_table(cursor: duckdb.DuckDBPyConnection, project: str, logstore: str) -> bool:
    row = cursor.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = ? AND schema_name = ? AND table_name = ?",
        [LAKE, project, logstore],
    ).fetchone()
    return bool(row and row[0])


def _has_tables(cursor: duckdb.DuckDBPyConnection, project: str) -> bool:
    row = cursor.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?",
        [LAKE, project],
    ).fetchone()
    return bool(row and row[0])
