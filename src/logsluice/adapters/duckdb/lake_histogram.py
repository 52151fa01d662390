"""A lake's planning histogram from its catalog: rows per time bucket without reading a data file.

DuckLake keeps, for every data file, its row count and the min/max of each column. When a
logstore's current rows are exactly the rows of its live data files — no deletions (delete files
or deletions inlined in the catalog), no rows inlined in the catalog, no file holding rows of a
later snapshot (a file merged by compaction holds rows of earlier ones), and every file has
min/max of the time column — :func:`live_file_spans` returns each file's rows and time
span, read in one catalog transaction; otherwise None, and the caller reads the data. The counts
are then spread over time buckets (:func:`spread_over_buckets`): a file's rows evenly over its
[min, max] (all in one bucket when min == max), clipped to the range, so the total is exact for
files wholly inside the range and proportional for a file the range cuts through.

The same statistics say which files a slice may skip (:func:`files_outside`) and where slices
may end between files (:func:`file_boundaries`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from logsluice.adapters.duckdb.lake_maintenance import logstore_files
from logsluice.domain.timerange import TimeRange
from logsluice.ports import HistogramBucket

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _live(template: str) -> str:
    """``template`` with each ``LIVE(a)``: the row of alias ``a`` is visible in snapshot $1."""
    return re.sub(
        r"LIVE\((\w)\)",
        r"\1.begin_snapshot <= $1 AND (\1.end_snapshot IS NULL OR \1.end_snapshot > $1)",
        template,
    )


# Every read is of one snapshot ($1), so the reads agree even where the catalog database (over
# PostgreSQL, SQLite) does not keep one view for the whole transaction.
_SNAPSHOT = "SELECT max(snapshot_id) FROM {m}.ducklake_snapshot"
_TABLE = _live("""
SELECT t.table_id
FROM {m}.ducklake_table t JOIN {m}.ducklake_schema s ON s.schema_id = t.schema_id
WHERE s.schema_name = $2 AND t.table_name = $3 AND LIVE(s) AND LIVE(t)
""")
_COLUMN = _live("""
SELECT c.column_id FROM {m}.ducklake_column c
WHERE c.table_id = $2 AND c.column_name = $3 AND c.parent_column IS NULL AND LIVE(c)
""")
_FILES = _live("""
SELECT f.data_file_id, f.record_count, f.partial_max, f.path,
       epoch_us(TRY_CAST(c.min_value AS TIMESTAMPTZ)),
       epoch_us(TRY_CAST(c.max_value AS TIMESTAMPTZ))
FROM {m}.ducklake_data_file f
LEFT JOIN {m}.ducklake_file_column_stats c
  ON c.data_file_id = f.data_file_id AND c.table_id = f.table_id AND c.column_id = $3
WHERE f.table_id = $2 AND LIVE(f)
""")
_DELETE_FILES = _live("""
SELECT count(*) FROM {m}.ducklake_delete_file d WHERE d.table_id = $2 AND LIVE(d)
""")
_INLINED_TABLES = "SELECT table_name FROM {m}.ducklake_inlined_data_tables WHERE table_id = ?"
_INLINED_ROWS = _live("SELECT count(*) FROM {table} i WHERE LIVE(i)")
_INLINED_DELETIONS = """
SELECT count(*) FROM {table} WHERE begin_snapshot <= $1 AND list_contains($2, file_id)
"""


@dataclass(frozen=True)
class FileSpan:
    """One live data file: its rows and the microseconds since the epoch of its first and last."""

    rows: int
    first_us: int
    last_us: int


def live_file_spans(
    cursor: duckdb.DuckDBPyConnection, lake: str, project: str, logstore: str, time_field: str
) -> list[FileSpan] | None:
    """Return the rows and time spans of the logstore's live data files, read from the catalog
    of the lake attached as ``lake`` in one transaction; None when they are not exactly its rows
    (see the module). Raises duckdb.Error when the catalog cannot be read."""
    with _catalog(cursor, lake) as metadata:
        return _read_spans(cursor, metadata, project, logstore, time_field)


@contextmanager
def _catalog(cursor: duckdb.DuckDBPyConnection, lake: str) -> Iterator[str]:
    """Yield the quoted name of the catalog of the lake attached as ``lake``, read in one
    transaction (rolled back: nothing is written)."""
    cursor.execute("BEGIN TRANSACTION")
    try:
        yield _quoted(f"__ducklake_metadata_{lake}")
    finally:
        cursor.execute("ROLLBACK")


def _read_spans(
    cursor: duckdb.DuckDBPyConnection, m: str, project: str, logstore: str, time_field: str
) -> list[FileSpan] | None:
    live = _live_files(cursor, m, project, logstore, time_field)
    if live is None:
        return None
    snapshot, table_id, files = live
    if any(low is None or high is None for _, _, _, _, low, high in files):
        return None
    # a merged file holds rows of several snapshots, all visible in the current one
    if any(partial is not None and partial > snapshot for _, _, partial, _, _, _ in files):
        return None
    if _count(cursor, _DELETE_FILES.format(m=m), snapshot, table_id) or _has_inlined_rows(
        cursor, m, snapshot, table_id
    ):
        return None
    if _has_inlined_deletions(cursor, m, snapshot, table_id, [int(row[0]) for row in files]):
        return None
    return [FileSpan(int(rows), int(low), int(high)) for _, rows, _, _, low, high in files]


def _live_files(
    cursor: duckdb.DuckDBPyConnection, m: str, project: str, logstore: str, time_field: str
) -> tuple[int, int, list[tuple[Any, ...]]] | None:
    """Return the current snapshot, the logstore's table id and its live data files (id, rows,
    partial max, path, first and last time in microseconds or None); None when the table or its
    time column is not in the catalog."""
    snapshot = _count(cursor, _SNAPSHOT.format(m=m))
    table = cursor.execute(_TABLE.format(m=m), [snapshot, project, logstore]).fetchall()
    if len(table) != 1:
        return None
    table_id = int(table[0][0])
    column = cursor.execute(_COLUMN.format(m=m), [snapshot, table_id, time_field]).fetchall()
    if len(column) != 1:
        return None
    files = cursor.execute(_FILES.format(m=m), [snapshot, table_id, column[0][0]]).fetchall()
    return snapshot, table_id, files


def files_outside(
    cursor: duckdb.DuckDBPyConnection,
    lake: str,
    project: str,
    logstore: str,
    time_field: str,
    time_range: TimeRange,
) -> tuple[str, ...]:
    """Return the data files (as DuckLake's ``filename`` names them) whose time statistics prove
    they hold no record of ``time_range``, when every other file with statistics lies wholly
    inside it; else none (a file the range cuts through, or one without statistics, is better
    read by the range). Skipping them is safe whatever happens meanwhile: a file's statistics
    never change, and a file written since is not skipped. Raises duckdb.Error when the catalog
    cannot be read."""
    with _catalog(cursor, lake) as metadata:
        ranges = _file_ranges(cursor, metadata, project, logstore, time_field)
    if not ranges:
        return ()
    start_us, end_us = _epoch_us(time_range.start), _epoch_us(time_range.end)
    outside: list[str] = []
    for path, low, high in ranges:
        if low is None or high is None:
            return ()
        if high < start_us or low >= end_us:
            outside.append(path)
        elif low < start_us or high >= end_us:
            return ()  # cut through by the range: read by the range
    if not outside:
        return ()
    by_name: dict[str, list[str]] = {}
    for path in outside:
        by_name.setdefault(posixpath.basename(path), []).append(path)
    listed = [data for data, _ in logstore_files(cursor, lake, project, logstore)]
    return tuple(sorted(data for data in listed if _named_by(data, by_name)))


def file_boundaries(
    cursor: duckdb.DuckDBPyConnection, lake: str, project: str, logstore: str, time_field: str
) -> list[datetime]:
    """Return the instants between data files: each is the first time of a file that starts
    after every earlier file ended, so a slice ending there cuts no file. None are returned when
    a file lacks time statistics. Raises duckdb.Error when the catalog cannot be read."""
    with _catalog(cursor, lake) as metadata:
        ranges = _file_ranges(cursor, metadata, project, logstore, time_field)
    spans = [(low, high) for _, low, high in ranges if low is not None and high is not None]
    if len(spans) != len(ranges):
        return []
    boundaries: list[datetime] = []
    latest: int | None = None
    for low, high in sorted(spans):
        if latest is not None and low > latest:
            boundaries.append(_EPOCH + timedelta(microseconds=low))
        latest = high if latest is None else max(latest, high)
    return boundaries


def _file_ranges(
    cursor: duckdb.DuckDBPyConnection, m: str, project: str, logstore: str, time_field: str
) -> list[tuple[str, int | None, int | None]]:
    live = _live_files(cursor, m, project, logstore, time_field)
    if live is None:
        return []
    return [(str(path), low, high) for _, _, _, path, low, high in live[2]]


def _named_by(data_file: str, by_name: dict[str, list[str]]) -> bool:
    """True when the listed ``data_file`` (a full path) is one of the catalog's paths (each full,
    or relative to the table's directory), kept by their last segment in ``by_name``."""
    paths = by_name.get(posixpath.basename(data_file), [])
    return any(data_file == path or data_file.endswith("/" + path) for path in paths)


def _has_inlined_rows(
    cursor: duckdb.DuckDBPyConnection, m: str, snapshot: int, table_id: int
) -> bool:
    """True when rows of the table live in the catalog (data inlining) in ``snapshot``."""
    names = cursor.execute(_INLINED_TABLES.format(m=m), [table_id]).fetchall()
    return any(
        _count(cursor, _INLINED_ROWS.format(table=f"{m}.{_quoted(str(name))}"), snapshot)
        for (name,) in names
    )


def _has_inlined_deletions(
    cursor: duckdb.DuckDBPyConnection, m: str, snapshot: int, table_id: int, file_ids: list[int]
) -> bool:
    """True when deletions of rows of the live files are inlined in the catalog. Its table exists
    only once a deletion was inlined, so this runs last: a missing table ends the transaction."""
    if not file_ids:
        return False
    table = f"{m}.{_quoted(f'ducklake_inlined_delete_{int(table_id)}')}"
    try:
        return bool(_count(cursor, _INLINED_DELETIONS.format(table=table), snapshot, file_ids))
    except duckdb.CatalogException:
        return False


def _count(cursor: duckdb.DuckDBPyConnection, statement: str, *parameters: object) -> int:
    row = cursor.execute(statement, list(parameters)).fetchone()
    return int(row[0]) if row else 0


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def spread_over_buckets(
    spans: list[FileSpan], time_range: TimeRange, bucket: timedelta
) -> list[HistogramBucket]:
    """Return the files' rows per ``bucket`` of ``time_range`` (buckets aligned to multiples of
    ``bucket`` since the epoch, as the data histogram's; empty ones left out), oldest first.

    A file's rows are spread evenly over its span and clipped to the range: a file wholly inside
    counts all its rows, one the range cuts through its share. Buckets get whole rows: the running
    total is rounded, so every bucket boundary is within half a row of the spread and the total is
    exact when no file is cut."""
    width = bucket // _MICROSECOND
    start, end = _epoch_us(time_range.start), _epoch_us(time_range.end)
    origin = start // width * width
    shares = [0.0] * (-(-(end - origin) // width) + 1)
    for span in spans:
        _add_file(shares, span, start, end, origin, width)
    counts = _whole_rows(shares)
    return [
        HistogramBucket(start=_EPOCH + (origin + index * width) * _MICROSECOND, count=count)
        for index, count in enumerate(counts)
        if count > 0
    ]


def _add_file(
    shares: list[float], span: FileSpan, start: int, end: int, origin: int, width: int
) -> None:
    """Add the file's rows inside [start, end) to ``shares``, spread evenly over its span."""
    if span.last_us < start or span.first_us >= end or span.rows <= 0:
        return
    if span.first_us == span.last_us:
        shares[(span.first_us - origin) // width] += span.rows
        return
    low, high = max(span.first_us, start), min(span.last_us, end)
    rate = span.rows / (span.last_us - span.first_us)
    index = (low - origin) // width
    while low < high:
        bucket_end = min(origin + (index + 1) * width, high)
        shares[index] += rate * (bucket_end - low)
        low, index = bucket_end, index + 1


def _whole_rows(shares: list[float]) -> list[int]:
    """Whole rows per bucket: the differences of the rounded running total of ``shares``."""
    counts, running, rounded_before = [], 0.0, 0
    for share in shares:
        running += share
        rounded = round(running)
        counts.append(rounded - rounded_before)
        rounded_before = rounded
    return counts


def _epoch_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND
