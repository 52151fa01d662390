"""The transaction of one append to a DuckDB engine store, below the store's locks and hooks.

:class:`~.engine_store.DuckDBEngineStore` plans each append within its field limit
(:func:`plan_within_limit`), runs it in one transaction (:func:`in_transaction`: a receipt's key
another append committed first becomes AppendKeyTakenError) and inserts the incoming Arrow table
through a registered view (:func:`insert_records`), sorted by time unless it is sorted already.
Deletes by time run in the same kind of transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from logsluice.adapters.duckdb.append_plan import AppendPlan, plan_append
from logsluice.adapters.duckdb.receipts import key_taken
from logsluice.domain.catalog import LogstoreSchema
from logsluice.domain.errors import TooManyFieldsError
from logsluice.ports import AppendReceipt

_INCOMING_VIEW = "logsluice_incoming"
_Result = TypeVar("_Result")


def plan_within_limit(
    project: str,
    logstore: str,
    stored: LogstoreSchema,
    records: pa.Table,
    max_fields: int | None,
) -> AppendPlan:
    """Return the plan appending ``records`` to ``stored``. Raises TooManyFieldsError when it
    would give the logstore more than ``max_fields`` columns (``None``: no limit)."""
    plan = plan_append(stored, records)
    fields = len(stored.fields) + plan.added_fields
    if max_fields is not None and fields > max_fields:
        raise TooManyFieldsError(
            f"logstore {project}/{logstore} has {len(stored.fields)} fields and these records "
            f"would add {plan.added_fields}, past the limit of {max_fields} fields "
            "(LOGSLUICE_INGEST_MAX_FIELDS); nothing was stored",
            limit=max_fields,
            setting="LOGSLUICE_INGEST_MAX_FIELDS",
        )
    return plan


def in_transaction(
    cursor: duckdb.DuckDBPyConnection,
    work: Callable[[], _Result],
    receipt: AppendReceipt | None = None,
) -> _Result:
    """Run ``work`` in a transaction of ``cursor`` and commit it; roll back if anything fails.
    Raises AppendKeyTakenError when ``receipt``'s key was committed first by another append."""
    cursor.execute("BEGIN TRANSACTION")
    try:
        result = work()
        _commit(cursor, receipt)
    except BaseException:
        with suppress(duckdb.Error):  # a failed COMMIT has rolled back already
            cursor.execute("ROLLBACK")
        raise
    return result


def _commit(cursor: duckdb.DuckDBPyConnection, receipt: AppendReceipt | None) -> None:
    try:
        cursor.execute("COMMIT")
    except duckdb.ConstraintException as error:
        if receipt is None:
            raise
        raise key_taken(receipt.key) from error  # another append committed the key first


def insert_records(
    cursor: duckdb.DuckDBPyConnection,
    table: str,
    plan: AppendPlan,
    records: pa.Table,
    time_field: str,
) -> int:
    """Insert ``records`` into ``table`` as ``plan`` says; return how many were inserted."""
    incoming_time = _incoming_name(records, time_field)
    sort_by = None if _is_sorted(records.column(incoming_time)) else incoming_time
    cursor.register(_INCOMING_VIEW, records)
    try:
        cursor.execute(plan.insert_statement(table, _INCOMING_VIEW, sort_by))
    finally:
        cursor.unregister(_INCOMING_VIEW)
    return int(records.num_rows)


def _is_sorted(times: pa.ChunkedArray) -> bool:
    """Tell whether times never decrease; sorted batches are inserted as they are."""
    if len(times) < 2:
        return True
    values = pc.cast(times, pa.int64())
    return bool(pc.all(pc.less_equal(values.slice(0, len(values) - 1), values.slice(1))).as_py())


def _incoming_name(records: pa.Table, time_field: str) -> str:
    lowered = time_field.lower()
    names: list[str] = records.column_names
    return next(name for name in names if name.lower() == lowered)
