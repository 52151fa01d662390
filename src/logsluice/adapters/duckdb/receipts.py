"""Append receipts of the DuckDB stores: idempotency keys stored beside the records (ADR 0022).

One table, ``"_logsluice"."append_receipts"`` in the store's catalog (no project can be named
``_logsluice``), with project, logstore and key unique. A receipt is inserted in the transaction
that inserts its records, so a crash leaves both or neither; a key already there is refused before
any record is written (by a look-up, and in a DuckDB file by the primary key as well).

DuckLake has no keys, and its transactions are snapshots: two nodes appending with one key at the
same instant would both find no receipt and both commit. So in a catalog without keys each append
with a key also updates the one row of a *guard table* chosen by a stable hash of (project,
logstore, key), one of ``GUARD_TABLES`` (ADR 0027). DuckLake refuses the commit of a transaction
that inserts into or deletes from a table another transaction deleted from since it began (an
update is both), so of two appends of one key the second to commit conflicts; the store retries
it from the start, it finds the first one's receipt, and it is answered as a replay. Appends of
different keys meet in one guard table only by chance (one in ``GUARD_TABLES``) and are retried.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import duckdb

from logsluice.domain.errors import AppendKeyTakenError
from logsluice.ports import AppendReceipt

_SCHEMA = '"_logsluice"'
_COLUMNS = (
    "project VARCHAR NOT NULL, logstore VARCHAR NOT NULL, key VARCHAR NOT NULL, "
    "fingerprint VARCHAR NOT NULL, response VARCHAR NOT NULL, recorded_at TIMESTAMPTZ NOT NULL"
)


def receipts_table(catalog: str | None) -> str:
    """The quoted receipts table of a store whose tables live in ``catalog`` (None: the file)."""
    prefix = f'"{catalog}".' if catalog else ""
    return f'{prefix}{_SCHEMA}."append_receipts"'


GUARD_TABLES = 64
"""Guard tables of a catalog without keys: appends of one key update the same one."""


def guard_table(catalog: str, project: str, logstore: str, key: str) -> str:
    """The quoted guard table of ``key`` in ``catalog`` (the same on every node)."""
    bucket = zlib.crc32(f"{project}\0{logstore}\0{key}".encode()) % GUARD_TABLES
    return _guard_table(catalog, bucket)


def _guard_table(catalog: str, bucket: int) -> str:
    return f'"{catalog}".{_SCHEMA}."append_guard_{bucket:02d}"'


def create_receipts_table(cursor: duckdb.DuckDBPyConnection, catalog: str | None) -> None:
    """Create the receipts table if absent: with a primary key where the catalog has keys, else
    with the guard tables (each made with its one row, in one statement)."""
    prefix = f'"{catalog}".' if catalog else ""
    key = "" if catalog else ", PRIMARY KEY (project, logstore, key)"
    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {prefix}{_SCHEMA}")
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {receipts_table(catalog)} ({_COLUMNS}{key})")
    if catalog is None:
        return
    for bucket in range(GUARD_TABLES):
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {_guard_table(catalog, bucket)} AS "
            "SELECT CAST(0 AS BIGINT) AS appends"
        )


def receipt_tables_exist(cursor: duckdb.DuckDBPyConnection, catalog: str | None) -> bool:
    """Tell whether the receipts table (and in a catalog without keys, every guard table) exist."""
    row = cursor.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = coalesce(?, current_database()) AND schema_name = '_logsluice' "
        "AND (table_name = 'append_receipts' OR starts_with(table_name, 'append_guard_'))",
        [catalog],
    ).fetchone()
    return bool(row and row[0] == 1 + (GUARD_TABLES if catalog else 0))


def record_receipt(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    project: str,
    logstore: str,
    receipt: AppendReceipt,
    *,
    guard: str | None = None,
) -> None:
    """Insert ``receipt`` into ``table`` in the cursor's transaction, updating the ``guard``
    table (:func:`guard_table`) first when given. Raises AppendKeyTakenError if its key is
    recorded already."""
    if read_receipt(cursor, table, project, logstore, receipt.key) is not None:
        raise key_taken(receipt.key)
    if guard is not None:
        cursor.execute(f"UPDATE {guard} SET appends = appends + 1")
    try:
        cursor.execute(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)",
            [
                project,
                logstore,
                receipt.key,
                receipt.fingerprint,
                receipt.response,
                receipt.recorded_at,
            ],
        )
    except (duckdb.ConstraintException, duckdb.TransactionException) as error:
        raise key_taken(receipt.key) from error


def key_taken(key: str) -> AppendKeyTakenError:
    """The error of an append whose key another append recorded first."""
    return AppendKeyTakenError(
        f"idempotency key {key!r} was recorded by another request at the same time", key=key
    )


def read_receipt(
    cursor: duckdb.DuckDBPyConnection, table: str, project: str, logstore: str, key: str
) -> AppendReceipt | None:
    """Return the receipt of ``key`` in the logstore, or None."""
    row = cursor.execute(
        f"SELECT fingerprint, response, epoch_us(recorded_at) FROM {table} "
        "WHERE project = ? AND logstore = ? AND key = ?",
        [project, logstore, key],
    ).fetchone()
    if row is None:
        return None
    fingerprint, response, recorded_us = row
    # epoch microseconds: DuckDB turns TIMESTAMPTZ into Python datetimes only with pytz
    recorded_at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(recorded_us))
    return AppendReceipt(key, str(fingerprint), str(response), recorded_at)


def delete_receipts(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    *,
    before: datetime | None = None,
    logstore: tuple[str, str] | None = None,
) -> int:
    """Delete the receipts recorded before ``before``, or those of one (project, logstore)."""
    if logstore is not None:
        statement = f"DELETE FROM {table} WHERE project = ? AND logstore = ?"
        parameters: list[object] = list(logstore)
    else:
        statement = f"DELETE FROM {table} WHERE recorded_at < ?"
        parameters = [before]
    row = cursor.execute(statement, parameters).fetchone()
    return int(row[0]) if row else 0
