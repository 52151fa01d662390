"""DuckLake's own maintenance, as the lake store runs it: what to call, and when it is needed.

Compaction of one logstore flushes inlined rows into files, merges adjacent small files (DuckLake
merges within a partition, so within a day) and rewrites files carrying deletions. It is needed
only when a day's partition holds more than one file, a file has deletions, or rows may be
inlined; otherwise a compaction pass costs one listing of the logstore's files. Expiring
snapshots and deleting the files no snapshot needs any more is lake-wide, so a process runs it at
most once per grace period.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import duckdb

from logsluice.adapters.duckdb.tables import quote_literal


def logstore_files(
    cursor: duckdb.DuckDBPyConnection, catalog: str, project: str, logstore: str
) -> list[tuple[str, str | None]]:
    """Return the logstore's current data files, each with its deletion file (or None)."""
    rows = cursor.execute(
        "SELECT data_file, delete_file FROM ducklake_list_files(?, ?, schema => ?)",
        [catalog, logstore, project],
    ).fetchall()
    return [(str(data), None if delete is None else str(delete)) for data, delete in rows]


def needs_compaction(files: Iterable[tuple[str, str | None]], *, inlining: bool) -> bool:
    """Tell whether merging or rewriting could change anything: a day's partition holds several
    files, a file has deletions, or appends may have been inlined into the catalog."""
    listed = list(files)
    partitions = {posixpath.dirname(data) for data, _ in listed}
    has_deletions = any(delete is not None for _, delete in listed)
    return inlining or has_deletions or len(listed) > len(partitions)


def compaction_statements(catalog: str, project: str, logstore: str) -> tuple[str, ...]:
    """Return the calls that flush, merge and rewrite one logstore's files."""
    lake = quote_literal(catalog)
    names = f"{quote_literal(logstore)}, schema => {quote_literal(project)}"
    return (
        f"CALL ducklake_flush_inlined_data({lake}, schema_name => {quote_literal(project)}, "
        f"table_name => {quote_literal(logstore)})",
        f"CALL ducklake_merge_adjacent_files({lake}, {names})",
        f"CALL ducklake_rewrite_data_files({lake}, {names})",
    )


def cleanup_statements(catalog: str, grace: timedelta, *, cleanup_all: bool) -> list[str]:
    """Return the calls that expire snapshots older than ``grace`` and delete the files they
    alone needed (all at once with ``cleanup_all``) and orphans of failed writes; each cut-off
    is taken when the list is made, so call it right before running each step."""
    lake = quote_literal(catalog)
    cutoff = f"CAST({quote_literal((datetime.now(UTC) - grace).isoformat())} AS TIMESTAMPTZ)"
    cleanup = "cleanup_all => true" if cleanup_all else f"older_than => {cutoff}"
    return [
        f"CALL ducklake_expire_snapshots({lake}, older_than => {cutoff})",
        f"CALL ducklake_cleanup_old_files({lake}, {cleanup})",
        f"CALL ducklake_delete_orphaned_files({lake}, older_than => {cutoff})",
    ]
