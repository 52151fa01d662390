"""The append receipts of one DuckDB engine store: their table made on first use, and key locks.

:class:`StoreReceipts` holds what :class:`~.engine_store.DuckDBEngineStore` keeps about receipts
(ADR 0022): the table (:mod:`.receipts` holds its statements), created the first time a receipt
is written or read, with retries while other nodes of a shared lake create it in the same moment;
a lock per bucket of keys, so appends of one key run one at a time in this process (other nodes
of a lake meet in a guard table, ADR 0027); reading, recording and forgetting receipts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial

import duckdb

from logsluice.adapters.duckdb.engine_appends import in_transaction
from logsluice.adapters.duckdb.errors import translate_errors
from logsluice.adapters.duckdb.receipts import (
    create_receipts_table,
    delete_receipts,
    guard_table,
    read_receipt,
    receipt_tables_exist,
    receipts_table,
    record_receipt,
)
from logsluice.domain.errors import LogsluiceError
from logsluice.ports import AppendReceipt

_RECEIPT_LOCKS = 64
RECEIPTS_CREATE_ATTEMPTS = 5
"""Attempts at creating the receipts table while other nodes of a shared lake may be creating it."""
Target = tuple[str, str]  # (project, logstore)
Cursors = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


class StoreReceipts:
    """The receipts of the store whose tables live in ``catalog`` (None: the file)."""

    def __init__(self, cursors: Cursors, catalog: str | None) -> None:
        """Keep receipts through cursors opened by ``cursors`` (the store's own)."""
        self._cursors = cursors
        self._catalog = catalog
        self.table = receipts_table(catalog)
        self._ready = False
        # lock 0 guards the table's creation; the others serialise appends of one key
        self._locks = tuple(threading.Lock() for _ in range(_RECEIPT_LOCKS))

    def key_lock(self, key: str) -> threading.Lock:
        """Return the lock appends with ``key`` hold while they run."""
        return self._locks[1 + hash(key) % (len(self._locks) - 1)]

    def read(self, project: str, logstore: str, key: str) -> AppendReceipt | None:
        """Return the receipt recorded with ``key`` in the logstore, or None."""
        self.ensure()
        with self._cursors() as cursor, translate_errors(project=project, logstore=logstore):
            return read_receipt(cursor, self.table, project, logstore, key)

    def forget(self, recorded_before: datetime) -> int:
        """Delete the receipts recorded before ``recorded_before``; return how many."""
        self.ensure()
        with self._cursors() as cursor, translate_errors(project="", logstore=""):
            return delete_receipts(cursor, self.table, before=recorded_before)

    def ensure(self) -> None:
        """Create the receipts table on first use (a store opened read-only never writes one)."""
        if self._ready:
            return
        with self._locks[0]:
            for attempt in range(1, RECEIPTS_CREATE_ATTEMPTS + 1):
                try:
                    with self._cursors() as cursor, translate_errors(project="", logstore=""):
                        create = partial(create_receipts_table, cursor, self._catalog)
                        in_transaction(cursor, create)  # all or none: DDL would conflict
                except LogsluiceError:
                    # another node of a shared lake created them in the same moment: its commit
                    # won, ours conflicts; the tables are there now (else try again, then fail)
                    with self._cursors() as cursor, translate_errors(project="", logstore=""):
                        if receipt_tables_exist(cursor, self._catalog):
                            break
                    if attempt == RECEIPTS_CREATE_ATTEMPTS:
                        raise
                    time.sleep(0.05 * attempt)
                else:
                    break
            self._ready = True

    def forget_logstore(self, cursor: duckdb.DuckDBPyConnection, target: Target) -> None:
        """Delete the receipts of a dropped logstore (its keys must not outlive it)."""
        if self._ready or _has_receipts_table(cursor, self._catalog):
            delete_receipts(cursor, self.table, logstore=target)

    def record(
        self, cursor: duckdb.DuckDBPyConnection, project: str, logstore: str, receipt: AppendReceipt
    ) -> None:
        """Record ``receipt`` in the append's transaction; in a catalog without keys (a lake),
        through the key's guard table, so two nodes cannot both record one key (ADR 0027)."""
        catalog = self._catalog
        guard = guard_table(catalog, project, logstore, receipt.key) if catalog else None
        record_receipt(cursor, self.table, project, logstore, receipt, guard=guard)


def _has_receipts_table(cursor: duckdb.DuckDBPyConnection, catalog: str | None) -> bool:
    row = cursor.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = coalesce(?, current_database()) "
        "AND schema_name = '_logsluice' AND table_name = 'append_receipts'",
        [catalog],
    ).fetchone()
    return bool(row and row[0])
