"""``DuckLakeLogStore``: the LogStore port on a DuckLake (a catalog database plus Parquet files).

Each process opens an in-memory DuckDB, loads the extensions the lake needs from the installed
packages (:mod:`.extensions`, :func:`lake_extensions`), creates its S3 secret (temporary, never
visible to user SQL: the allow-list refuses secret and ``ducklake_*`` functions) and attaches the
lake as ``lake``; the tables are ``lake."<project>"."<logstore>"`` with the layout of
:mod:`.engine_store`, partitioned by day of the time field, and every append is sorted by time,
so each data file covers a narrow time span and a time-range query reads only the files whose
min/max (kept in the catalog) meet its range. Files of several nodes' appends overlap in time: a
slice read from them is sorted, in pieces (:mod:`.sorted_pieces`).

Any number of processes on any hosts append to one logstore at once: DuckLake commits
optimistically; a commit that conflicts with another node's (a schema change, a concurrent create)
is retried from the start, re-reading the schema (:meth:`DuckLakeLogStore._writing`), so nothing is
lost or doubled. A widening that rewrites the table is announced first and other nodes' appends
wait for it (:mod:`.lake_widening`), so it commits without competing inserts. Compaction and
retention use DuckLake's own maintenance: flush inlined data, merge adjacent files, rewrite files
with deletions, expire snapshots, clean up old and orphaned files.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import tempfile
import time
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
from logsluice.adapters.duckdb.engine_store import DuckDBEngineStore, engine_config, store_errors
from logsluice.adapters.duckdb.errors import translate_errors
from logsluice.adapters.duckdb.extensions import (
    DUCKLAKE,
    HTTPFS,
    POSTGRES,
    SQLITE,
    Extension,
    ExtensionDirectory,
)
from logsluice.adapters.duckdb.lake_location import LakeLocation, parse_lake_url
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
    wait_for,
    withdraw_intent,
)
from logsluice.adapters.duckdb.tables import quote_identifier, table_sql
from logsluice.domain.catalog import LOGSTREAM_FIELD
from logsluice.domain.errors import LogsluiceError
from logsluice.ports import CompactionReport

if TYPE_CHECKING:
    from logsluice.adapters.duckdb.append_plan import ColumnChange
    from logsluice.adapters.duckdb.queries import ScanProfile
    from logsluice.domain.catalog import Logstore
    from logsluice.ports import RecordsQuery

LAKE = "lake"
"""The name the lake is attached under in each process's DuckDB."""
_S3_CREDENTIALS = "logsluice_lake_s3"  # the name of a DuckDB secret, not a secret
MAX_COMMIT_ATTEMPTS = 12
"""Attempts at one write whose commit conflicts with other nodes' before it fails (retryable)."""
_Result = TypeVar("_Result")
LAKE_OPTIONS = {"parquet_row_group_size": 65_536}
"""Options stored in the lake's catalog. Row groups of 64 Ki rows (DuckDB's default is 122,880)
keep the buffers of one column chunk within a node's small cache limit and prune finer by time."""
# DuckDB buffers each part of an S3 upload in memory; its default part size (max file size over
# 10,000 parts, 80 MB) does not fit the cache limit of a node. 8 MB parts allow 80 GB files; a
# few uploads at once keep the buffers to tens of MB. DuckDB also keeps the bytes it reads from S3
# in its buffer pool (the external file cache), up to the memory limit: off, a node exporting
# from S3 peaks as low as one exporting local files (1 M-record task: 631-643 → 547-554 MiB, the
# same CPU); a file is read once per query anyway.
_S3_SETTINGS = (
    "SET GLOBAL s3_uploader_max_filesize = '80GB'",
    "SET GLOBAL s3_uploader_thread_limit = 4",
    "SET GLOBAL enable_external_file_cache = false",
)


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
                _attach(connection, self.location)
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
        """Run ``work``, again from the start while its commit conflicts with another node's (at
        most MAX_COMMIT_ATTEMPTS times) or another node widens a column of its logstore (until
        that widening is done or its intent expires)."""
        attempt, waiting_since = 1, None
        while True:
            try:
                result = work()
            except WideningUnderway as underway:
                waiting_since = waiting_since or time.monotonic()
                wait_for(underway.intent)
                continue
            except LogsluiceError as error:
                if not _is_conflict(error) or attempt == MAX_COMMIT_ATTEMPTS:
                    raise
                structlog.get_logger().info(
                    "lake.commit_conflict_retried", attempt=attempt, cause=str(error.__cause__)
                )
                time.sleep(random.uniform(0, 0.05 * 2 ** min(attempt, 5)))  # noqa: S311
                attempt += 1
                continue
            _log_written(attempt, waiting_since)
            return result

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
        if isinstance(error, WideningUnderway) or _is_conflict(error):
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


def lake_extensions(location: LakeLocation) -> list[Extension]:
    """Return the extensions a lake needs: DuckLake, its catalog's scanner (PostgreSQL, SQLite;
    a DuckDB catalog needs none) and httpfs for data on S3. Only these are loaded: each one
    loaded holds 5-20 MiB of every node's memory."""
    needed = [DUCKLAKE]
    if location.metadata.startswith("postgres:"):
        needed.append(POSTGRES)
    elif location.metadata.startswith("sqlite:"):
        needed.append(SQLITE)
    if location.data_on_s3:
        needed.append(HTTPFS)
    return needed


def _attach(connection: duckdb.DuckDBPyConnection, location: LakeLocation) -> None:
    if location.local_catalog:
        catalog_file = Path(location.metadata.removeprefix("sqlite:"))
        catalog_file.parent.mkdir(parents=True, exist_ok=True)
    if not location.data_on_s3:
        Path(location.data_path).mkdir(parents=True, exist_ok=True)
    if location.s3 is not None:
        bucket = location.data_path.split("/", 3)[2]
        connection.execute(location.s3.secret_statement(_S3_CREDENTIALS, f"s3://{bucket}"))
        for setting in _S3_SETTINGS:
            connection.execute(setting)
    connection.execute(location.attach_statement(LAKE))
    connection.execute("SET GLOBAL TimeZone = 'UTC'")
    _set_lake_options(connection)


def _set_lake_options(connection: duckdb.DuckDBPyConnection) -> None:
    """Store the lake's write options in its catalog once (the first node to attach does)."""
    current = dict(
        connection.execute("SELECT option_name, value FROM ducklake_options(?)", [LAKE]).fetchall()
    )
    for name, value in LAKE_OPTIONS.items():
        if current.get(name) == str(value):
            continue
        with suppress(duckdb.TransactionException):  # another node set them at the same moment
            connection.execute("CALL ducklake_set_option(?, ?, ?)", [LAKE, name, value])


def _log_written(attempts: int, waiting_since: float | None) -> None:
    """Tell of a write that needed more than one attempt or waited for a widening."""
    if attempts > 1:
        structlog.get_logger().info("lake.write_committed_after_conflicts", attempts=attempts)
    if waiting_since is not None:
        waited = round(time.monotonic() - waiting_since, 3)
        structlog.get_logger().info("lake.write_waited_for_widening", seconds=waited)


def _is_conflict(error: BaseException) -> bool:
    """Tell whether a write failed (``error``: DuckDB's, or ours raised from it) for another
    node's concurrent commit: a commit conflict, or a schema change planned on a schema another
    node changed meanwhile (a column it added)."""
    cause = error.__cause__ if isinstance(error, LogsluiceError) else error
    if isinstance(cause, duckdb.TransactionException):
        return True
    text = str(cause).lower() if cause is not None else ""
    return "conflict" in text or (
        isinstance(cause, duckdb.CatalogException) and "already exists" in text
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
