"""Widening intents: how a lake node widens a column while other nodes keep appending (ADR 0012).

A widening to text rewrites every row of the logstore (an UPDATE: a delete and an insert of each
row), and by DuckLake's conflict rules a delete fails when another transaction inserted into the
table meanwhile. So before it rewrites, the widening node announces the widening in the table's
own comment (``COMMENT ON TABLE``, committed alone): a JSON intent naming the node, the column
and when the intent expires. The comment is an alteration of the table, so every append that
began before it fails at its commit and is retried; every append that begins after it reads the
intent in its own transaction and waits (:class:`WideningUnderway`) until the intent is gone or
expired. The widening's own transaction then meets no competing insert, and clears the comment
as it commits. An intent lives a minute plus a second per 8 MiB of the table's data files; if a
widening outlives it (or its node crashed), appends resume, and a retried widening announces
itself again for twice as long; a widening that fails for good withdraws its intent.
"""

from __future__ import annotations

import json
import random
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb

from logsluice.adapters.duckdb.tables import quote_literal

if TYPE_CHECKING:
    from collections.abc import Sequence

INTENT_BASE_LIFETIME = timedelta(seconds=60)
"""How long a widening intent lasts on an empty table."""
INTENT_REWRITE_BYTES_PER_SECOND = 8 * 1024 * 1024
"""The rewrite speed an intent's lifetime assumes (slow on purpose: a widening that outlives its
intent competes with appends again)."""
WIDENING_POLL_SECONDS = 0.25
"""How often a write waiting for another node's widening looks whether it is done."""
_KIND = "logsluice.widening"


class WideningUnderway(Exception):  # noqa: N818  (a signal to wait, not an error)
    """Another node announced a widening of the logstore; an append waits for it."""

    def __init__(self, intent: WideningIntent) -> None:
        super().__init__(f"node {intent.node} is widening {intent.columns}")
        self.intent = intent


@dataclass(frozen=True)
class WideningIntent:
    """A node's announcement that it is widening columns of a logstore, until ``expires_at``."""

    node: str
    columns: tuple[str, ...]
    announced_at: datetime
    expires_at: datetime

    def comment(self) -> str:
        """Return the intent as the table comment that announces it."""
        return json.dumps(
            {
                "kind": _KIND,
                "node": self.node,
                "columns": list(self.columns),
                "announced_at": self.announced_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
            }
        )

    def is_fresh(self, now: datetime) -> bool:
        """Tell whether the intent still holds appends back at ``now``."""
        return now < self.expires_at

    @property
    def lifetime(self) -> timedelta:
        """How long the intent was announced for."""
        return self.expires_at - self.announced_at


def parse_intent(comment: object) -> WideningIntent | None:
    """Return the intent a table comment holds, or None (no comment, or another one)."""
    if not isinstance(comment, str) or _KIND not in comment:
        return None
    try:
        fields = json.loads(comment)
        return WideningIntent(
            node=str(fields["node"]),
            columns=tuple(str(column) for column in fields["columns"]),
            announced_at=datetime.fromisoformat(fields["announced_at"]),
            expires_at=datetime.fromisoformat(fields["expires_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def read_intent(
    cursor: duckdb.DuckDBPyConnection, catalog: str, project: str, logstore: str
) -> WideningIntent | None:
    """Return the widening intent on the logstore's table in the cursor's snapshot, or None."""
    row = cursor.execute(
        "SELECT comment FROM duckdb_tables() "
        "WHERE database_name = ? AND schema_name = ? AND table_name = ?",
        [catalog, project, logstore],
    ).fetchone()
    return parse_intent(row[0]) if row else None


def new_intent(
    node: str,
    columns: tuple[str, ...],
    data_bytes: int,
    previous: WideningIntent | None,
    now: datetime | None = None,
) -> WideningIntent:
    """Return the intent of ``node`` widening ``columns`` of a table of ``data_bytes``; twice as
    long as ``previous`` when that was this node's own (a retried widening outlived it)."""
    announced_at = now or datetime.now(UTC)
    lifetime = INTENT_BASE_LIFETIME + timedelta(
        seconds=data_bytes / INTENT_REWRITE_BYTES_PER_SECOND
    )
    if previous is not None and previous.node == node:
        lifetime = max(lifetime, 2 * previous.lifetime)
    return WideningIntent(node, columns, announced_at, announced_at + lifetime)


def announce_statement(table: str, intent: WideningIntent) -> str:
    """Return the statement putting ``intent`` on ``table``."""
    return f"COMMENT ON TABLE {table} IS {quote_literal(intent.comment())}"


def clear_statement(table: str) -> str:
    """Return the statement removing any intent from ``table`` (run by the widening itself)."""
    return f"COMMENT ON TABLE {table} IS NULL"


def data_bytes(cursor: duckdb.DuckDBPyConnection, catalog: str, project: str, logstore: str) -> int:
    """Return the size of the logstore's current data files."""
    row = cursor.execute(
        "SELECT coalesce(sum(data_file_size_bytes), 0) FROM ducklake_list_files(?, ?, schema => ?)",
        [catalog, logstore, project],
    ).fetchone()
    return int(row[0]) if row else 0


def refuse_if_widening_elsewhere(
    cursor: duckdb.DuckDBPyConnection, catalog: str, project: str, logstore: str, node: str
) -> None:
    """Raise WideningUnderway when a node other than ``node`` holds a fresh widening intent on
    the logstore in the cursor's snapshot."""
    intent = read_intent(cursor, catalog, project, logstore)
    if intent is not None and intent.node != node and intent.is_fresh(datetime.now(UTC)):
        raise WideningUnderway(intent)


def announce_widening(
    cursor: duckdb.DuckDBPyConnection,
    target: Sequence[str],
    table: str,
    node: str,
    columns: tuple[str, ...],
) -> WideningIntent:
    """Commit ``node``'s intent to widen ``columns`` on ``table`` (``target``: catalog, project,
    logstore) in a transaction of its own and return it. Raises WideningUnderway when another
    node's widening comes first."""
    catalog, project, logstore = target
    cursor.execute("BEGIN TRANSACTION")
    try:
        refuse_if_widening_elsewhere(cursor, catalog, project, logstore, node)
        previous = read_intent(cursor, catalog, project, logstore)
        size = data_bytes(cursor, catalog, project, logstore)
        intent = new_intent(node, columns, size, previous)
        cursor.execute(announce_statement(table, intent))
        cursor.execute("COMMIT")
    except BaseException:
        with suppress(duckdb.Error):  # a failed COMMIT has rolled back already
            cursor.execute("ROLLBACK")
        raise
    return intent


def withdraw_intent(
    cursor: duckdb.DuckDBPyConnection, target: Sequence[str], table: str, node: str
) -> None:
    """Remove ``node``'s own intent from ``table`` (``target``: catalog, project, logstore), if
    it is still there, in a transaction of its own."""
    catalog, project, logstore = target
    cursor.execute("BEGIN TRANSACTION")
    try:
        intent = read_intent(cursor, catalog, project, logstore)
        if intent is not None and intent.node == node:
            cursor.execute(clear_statement(table))
        cursor.execute("COMMIT")
    except BaseException:
        with suppress(duckdb.Error):
            cursor.execute("ROLLBACK")
        raise


def wait_for(intent: WideningIntent) -> None:
    """Sleep about a poll interval, or less if the intent expires sooner."""
    remaining = (intent.expires_at - datetime.now(UTC)).total_seconds()
    jitter = random.uniform(0.5, 1.0)  # noqa: S311
    time.sleep(max(0.01, min(WIDENING_POLL_SECONDS * jitter, remaining)))
