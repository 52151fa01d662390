"""What a query read from a DuckLake: the data files its scan opened, from DuckDB's profiler.

DuckLake prunes whole data files by the min/max of their columns kept in the catalog, so the
measure of time-range pruning is files read against files in the table. The profiler's
``DUCKLAKE_SCAN`` node reports ``Total Files Read`` and the first few file names (then ``...``);
its row counts are estimates. Rows scanned are the Parquet row counts of the files read: exact
when the profiler listed every file, else an upper bound (files read times the largest file).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb

from logsluice.adapters.duckdb.queries import ScanProfile


def profile_lake_scan(
    cursor: duckdb.DuckDBPyConnection, statement: str, table_files: list[str]
) -> ScanProfile:
    """Run ``statement`` profiled; return the rows and files (as row groups) its scans read of a
    table whose data files are ``table_files``."""
    cursor.execute("PRAGMA enable_profiling = 'no_output'")
    try:
        cursor.sql(statement).to_arrow_table()
        tree = json.loads(cursor.get_profiling_information(format="json"))
    finally:
        cursor.execute("PRAGMA disable_profiling")
    files_read, listed, complete = 0, [], True
    for node in _scans(tree):
        info = node.get("extra_info", {})
        files_read += int(info.get("Total Files Read", 0))
        names = [name.strip() for name in str(info.get("Filename(s)", "")).split(",") if name]
        complete = complete and "..." not in names
        listed += [name for name in names if name != "..."]
    rows = _file_rows(cursor, table_files)
    if complete:
        scanned = sum(rows.get(name, 0) for name in listed)
    else:
        scanned = files_read * max(rows.values(), default=0)
    return ScanProfile(
        rows_scanned=min(scanned, sum(rows.values())),
        row_groups_scanned=files_read,
        row_groups_total=len(table_files),
    )


def _scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if node.get("operator_name") == "DUCKLAKE_SCAN":
        yield node
    for child in node.get("children", []):
        yield from _scans(child)


def _file_rows(cursor: duckdb.DuckDBPyConnection, files: list[str]) -> dict[str, int]:
    if not files:
        return {}
    rows = cursor.execute(
        "SELECT file_name, num_rows FROM parquet_file_metadata(?)", [files]
    ).fetchall()
    return {str(name): int(count) for name, count in rows}
