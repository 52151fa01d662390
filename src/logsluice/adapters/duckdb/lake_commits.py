"""Lake writes retried while other nodes' commits conflict with them or their widenings run.

DuckLake commits optimistically: a write whose commit conflicts with another node's (a schema
change, a concurrent create, a key's guard table) fails, and :func:`write_retrying` runs it again
from the start, re-reading the schema, after a random back-off that doubles with each attempt (at
most ``MAX_COMMIT_ATTEMPTS`` tries). A write that meets another node's widening intent
(:class:`~.lake_widening.WideningUnderway`) waits for it and runs again, without counting an
attempt. Retries and waits are logged as events that ``/metrics`` counts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import duckdb
import structlog

from logsluice.adapters.duckdb.lake_widening import WideningUnderway, wait_for
from logsluice.domain.errors import LogsluiceError

MAX_COMMIT_ATTEMPTS = 12
"""Attempts at one write whose commit conflicts with other nodes' before it fails (retryable)."""
_Result = TypeVar("_Result")


def write_retrying(work: Callable[[], _Result]) -> _Result:
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
            if not is_conflict(error) or attempt == MAX_COMMIT_ATTEMPTS:
                raise
            structlog.get_logger().info(
                "lake.commit_conflict_retried", attempt=attempt, cause=str(error.__cause__)
            )
            time.sleep(random.uniform(0, 0.05 * 2 ** min(attempt, 5)))  # noqa: S311
            attempt += 1
            continue
        _log_written(attempt, waiting_since)
        return result


def is_conflict(error: BaseException) -> bool:
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


def _log_written(attempts: int, waiting_since: float | None) -> None:
    """Tell of a write that needed more than one attempt or waited for a widening."""
    if attempts > 1:
        structlog.get_logger().info("lake.write_committed_after_conflicts", attempts=attempts)
    if waiting_since is not None:
        waited = round(time.monotonic() - waiting_since, 3)
        structlog.get_logger().info("lake.write_waited_for_widening", seconds=waited)
