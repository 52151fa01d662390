"""Compaction of a logstore's table: re-sort it by time when its row groups overlap too much.

Each append is sorted, but DuckDB fills row groups across appends and records without a time get
the arrival time, so after out-of-order ingest many row groups span old and new times and a
time-range query cannot skip them. The decision reads the time column's min/max per row group from
``pragma_storage_info`` (no scan of the data): the *overlap depth* is the sum of the row groups'
time spans divided by the table's span (1 for a table sorted by time, about N when N row groups
each span everything). Past :data:`OVERLAP_DEPTH_LIMIT` the table is rewritten sorted by time in one
transaction (create, ``INSERT … SELECT … ORDER BY``, count check, drop, rename).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from logsluice.adapters.duckdb.tables import quote_identifier, quote_literal
from logsluice.domain.errors import CompactionError

OVERLAP_DEPTH_LIMIT = 2.0
"""Rewrite when the row groups' time spans add up to more than this many times the table's."""

# DuckDB 1.5's segment statistics read ``[Min: 2026-03-01 00:00:00+00, Max: …][Has Null: …]``
_MIN_PATTERN = r"\[Min: ([^,\]]+), Max: "
_MAX_PATTERN = r", Max: ([^\]]+)\]"


@dataclass(frozen=True)
class RowGroupSpans:
    """The time span of each row group of a table, in epoch microseconds."""

    spans: tuple[tuple[int, int], ...]

    @property
    def row_groups(self) -> int:
        return len(self.spans)

    @property
    def overlap_depth(self) -> float:
        """Sum of the row groups' spans over the table's span; 0 when the table spans no time."""
        if not self.spans:
            return 0.0
        table_span = max(end for _, end in self.spans) - min(start for start, _ in self.spans)
        if table_span <= 0:
            return 0.0
        return sum(end - start for start, end in self.spans) / table_span

    def needs_compaction(self) -> bool:
        """Tell whether the row groups overlap enough in time for a rewrite to pay."""
        return self.row_groups >= 2 and self.overlap_depth > OVERLAP_DEPTH_LIMIT


def read_row_group_spans(
    cursor: duckdb.DuckDBPyConnection, project: str, logstore: str
) -> RowGroupSpans:
    """Return the time column's min/max per row group, from DuckDB's segment statistics."""
    time_stat = "CAST(regexp_extract(CAST(stats AS VARCHAR), {pattern}, 1) AS TIMESTAMPTZ)"
    statement = (
        "SELECT row_group_id, "
        f"min(epoch_us({time_stat.format(pattern=quote_literal(_MIN_PATTERN))})), "
        f"max(epoch_us({time_stat.format(pattern=quote_literal(_MAX_PATTERN))})) "
        "FROM pragma_storage_info(?) "
        "WHERE column_id = 0 AND CAST(stats AS VARCHAR) LIKE '[Min: %' "
        "GROUP BY row_group_id ORDER BY row_group_id"
    )
    name = f"{quote_identifier(project)}.{quote_identifier(logstore)}"
    rows = cursor.execute(statement, [name]).fetchall()
    return RowGroupSpans(spans=tuple((int(start), int(end)) for _, start, end in rows))


def rewrite_sorted(
    cursor: duckdb.DuckDBPyConnection, project: str, logstore: str, time_field: str
) -> int:
    """Rewrite the table sorted by ``time_field`` in one transaction; return its record count.

    Raises CompactionError (after rolling back) when the new table's count differs from the old.
    """
    schema = quote_identifier(project)
    table = f"{schema}.{quote_identifier(logstore)}"
    # a leading underscore is not a valid logstore name, so the new table never meets a logstore
    staging_name = f"_compacting_{logstore}"
    staging = f"{schema}.{quote_identifier(staging_name)}"
    cursor.execute("BEGIN TRANSACTION")
    try:
        cursor.execute(f"CREATE TABLE {staging} ({_columns_sql(cursor, project, logstore)})")
        cursor.execute(
            f"INSERT INTO {staging} SELECT * FROM {table} ORDER BY {quote_identifier(time_field)}"
        )
        rows = _check_counts(cursor, table, staging, project, logstore)
        cursor.execute(f"DROP TABLE {table}")
        cursor.execute(f"ALTER TABLE {staging} RENAME TO {quote_identifier(logstore)}")
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    return rows


def _columns_sql(cursor: duckdb.DuckDBPyConnection, project: str, logstore: str) -> str:
    rows = cursor.execute(
        "SELECT column_name, data_type, column_default, is_nullable FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [project, logstore],
    ).fetchall()
    return ", ".join(
        _column_sql(str(name), str(type_sql), default, bool(nullable))
        for name, type_sql, default, nullable in rows
    )


def _column_sql(name: str, type_sql: str, default: object, nullable: bool) -> str:
    parts = [quote_identifier(name), type_sql]
    if default is not None:
        parts.append(f"DEFAULT {default}")
    if not nullable:
        parts.append("NOT NULL")
    return " ".join(parts)


def _check_counts(
    cursor: duckdb.DuckDBPyConnection, table: str, staging: str, project: str, logstore: str
) -> int:
    row = cursor.execute(
        f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM {staging})"
    ).fetchone()
    old_rows, new_rows = (int(row[0]), int(row[1])) if row else (-1, -2)
    if old_rows != new_rows:
        raise CompactionError(
            f"compaction of {project}/{logstore} copied {new_rows} of {old_rows} records",
            project=project,
            logstore=logstore,
        )
    return new_rows
