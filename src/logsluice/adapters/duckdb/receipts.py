"""Append receipts of the DuckDB stores: idempotency keys stored beside the records (ADR 0022).

One table, ``"_logsluice"."append_receipts"`` in the store's catalog (no project can be named
``_logsluice``), with project, logstore and key unique. A receipt is inserted in the transaction
that inserts its records, so a crash leaves both or neither; a key already there is refused before
any record is written (by a look-up, and in a DuckDB file by the primary key as well; DuckLake has
no keys, so the store serializes appends of one key in the process).
"""

from __future__ import annotations

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


def create_receipts_table(cursor: duckdb.DuckDBPyConnection, catalog: str | None) -> None:
    """Create the receipts table if absent (with a primary key where the catalog has keys)."""
    prefix = f'"{catalog}".' if catalog else ""
    key = "" if catalog else ", PRIMARY KEY (project, logstore, key)"
    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {prefix}{_SCHEMA}")
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {receipts_table(catalog)} ({_COLUMNS}{key})")


def record_receipt(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    project: str,
    logstore: str,
    receipt: AppendReceipt,
) -> None:
    """Insert ``receipt`` into ``table`` in the cursor's transaction. Raises AppendKeyTakenError
    if its key is recorded already."""
    if read_receipt(cursor, table, project, logstore, receipt.key) is not None:
        raise key_taken(receipt.key)
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
