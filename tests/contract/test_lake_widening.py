"""A widening on the lake while other nodes keep appending (ADR 0012, "Widening under load").

Widening a column to text rewrites every row, and DuckLake fails a rewrite whenever another node
inserted meanwhile: the widening node announces an intent first, other nodes' appends wait for
it, and the widening commits at its first try. Two lake stores on PostgreSQL + S3 (two DuckDB
instances, as two nodes): one appends without pause while the other widens; every record is
stored once, the column is text, and the widening ran its rewrite once. On a local lake: a fresh
intent of another node holds an append back until it is gone; an expired one (a crashed
widener's) holds nothing; a widening that fails for good withdraws its intent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from logsluice.adapters.duckdb.append_plan import ColumnChange
from logsluice.adapters.duckdb.lake_store import LAKE, DuckLakeLogStore
from logsluice.adapters.duckdb.lake_widening import (
    WideningIntent,
    announce_statement,
    clear_statement,
    read_intent,
)
from logsluice.adapters.duckdb.query_language import parse_duckdb_query
from logsluice.domain.catalog import FieldType, Logstore
from logsluice.domain.errors import AppendKeyTakenError
from logsluice.domain.timerange import TimeRange
from logsluice.ports import AppendReceipt, RecordsQuery
from tests.contract.conftest_lake import (
    local_lake_url,
    new_s3_bucket,
    open_lake,
    postgresql_s3_lake_url,
)
from tests.s3_server import S3Server

PROJECT = "shop"
BASE = datetime(2026, 3, 1, tzinfo=UTC)
EVERYTHING = TimeRange(BASE - timedelta(days=1), BASE + timedelta(days=30))
STORED_ROWS = 200_000  # enough that the rewrite takes longer than the other node's appends
BATCH_ROWS = 1_000


def _records(first: int, rows: int, status: object) -> pa.Table:
    times = pa.array(
        [BASE + timedelta(milliseconds=number) for number in range(first, first + rows)],
        pa.timestamp("us", "UTC"),
    )
    return pa.table(
        {"timestamp": times, "number": range(first, first + rows), "status": [status] * rows}
    )


def _numbers(store: DuckLakeLogStore, logstore: str) -> list[int]:
    query = RecordsQuery(PROJECT, logstore, parse_duckdb_query("*"), EVERYTHING, limit=10_000_000)
    _, table = store.fetch(query)
    return sorted(table.column("number").to_pylist())


def _status_type(store: DuckLakeLogStore, logstore: str) -> FieldType | None:
    field = store.schema(PROJECT, logstore).get("status")
    return field.type if field else None


def _count_rewrites(store: DuckLakeLogStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return a list that gets a column's name each time ``store`` rewrites it (one per try)."""
    rewrites: list[str] = []
    change_statements = store._change_statements

    def counted(change: ColumnChange, table: str) -> tuple[str, ...]:
        if not change.is_promotion:
            rewrites.append(change.name)
        return change_statements(change, table)

    monkeypatch.setattr(store, "_change_statements", counted)
    return rewrites


@pytest.mark.slow
@pytest.mark.postgresql
@pytest.mark.timeout(600)
def test_a_widening_commits_at_once_while_another_node_keeps_appending(
    postgresql_database_factory: Callable[[], str],
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = postgresql_s3_lake_url(postgresql_database_factory(), new_s3_bucket(s3_server), s3_server)
    widener, appender = open_lake(url), open_lake(url)
    rewrites = _count_rewrites(widener, monkeypatch)
    appended: list[int] = []  # first numbers of the batches the appender stored
    widened, failures = threading.Event(), []
    try:
        widener.create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))
        for first in range(0, STORED_ROWS, 50_000):
            widener.append(PROJECT, "web", _records(first, 50_000, 200))

        def append_until_widened() -> None:
            try:
                after = 0  # batches stored once the widening is done
                first = STORED_ROWS + BATCH_ROWS
                while after < 3:
                    after += widened.is_set()
                    appender.append(PROJECT, "web", _records(first, BATCH_ROWS, 404))
                    appended.append(first)
                    first += BATCH_ROWS
            except BaseException as error:
                failures.append(error)

        def widen() -> None:
            try:
                while len(appended) < 3:  # the other node is appending right now
                    time.sleep(0.01)
                widener.append(PROJECT, "web", _records(STORED_ROWS, BATCH_ROWS, "teapot"))
            except BaseException as error:
                failures.append(error)
            finally:
                widened.set()

        threads = [threading.Thread(target=append_until_widened), threading.Thread(target=widen)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert failures == []
        assert rewrites == ["status"]  # the table was rewritten once: no conflict, no retry
        expected = [
            *range(STORED_ROWS + BATCH_ROWS),
            *(n for f in appended for n in range(f, f + BATCH_ROWS)),
        ]
        assert _numbers(appender, "web") == sorted(expected)  # each record once
        assert _status_type(appender, "web") == FieldType.VARCHAR
        assert len(appended) > 3  # the other node went on appending after the widening
    finally:
        widener.close()
        appender.close()


def _intent(expires_in: timedelta) -> WideningIntent:
    now = datetime.now(UTC)
    return WideningIntent("another-node", ("status",), now, now + expires_in)


def _comment(store: DuckLakeLogStore, statement: str) -> None:
    with store._cursor() as cursor:
        cursor.execute(statement)


def test_a_fresh_intent_of_another_node_holds_appends_back_until_it_is_gone(tmp_path: Path) -> None:
    store = open_lake(local_lake_url(tmp_path))
    table = f'{LAKE}."{PROJECT}"."web"'
    try:
        store.create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))
        _comment(store, announce_statement(table, _intent(timedelta(minutes=5))))
        stored: list[int] = []
        thread = threading.Thread(
            target=lambda: stored.append(store.append(PROJECT, "web", _records(0, 10, 200)))
        )
        thread.start()
        thread.join(timeout=1.5)
        assert thread.is_alive()  # waiting for the other node's widening
        assert stored == []
        _comment(store, clear_statement(table))  # the widening committed
        thread.join(timeout=30)
        assert stored == [10]
        assert _numbers(store, "web") == list(range(10))
    finally:
        store.close()


def test_an_expired_intent_of_a_crashed_widener_holds_nothing_back(tmp_path: Path) -> None:
    store = open_lake(local_lake_url(tmp_path))
    table = f'{LAKE}."{PROJECT}"."web"'
    try:
        store.create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))
        _comment(store, announce_statement(table, _intent(timedelta(seconds=-1))))
        assert store.append(PROJECT, "web", _records(0, 10, 200)) == 10
        assert store.append(PROJECT, "web", _records(10, 10, "teapot")) == 10  # widens it
        assert _status_type(store, "web") == FieldType.VARCHAR
        assert _numbers(store, "web") == list(range(20))
    finally:
        store.close()


def test_a_widening_that_fails_for_good_withdraws_its_intent(tmp_path: Path) -> None:
    """The widening's records carry a key another append recorded: its transaction fails after
    the intent was announced, and other nodes must not wait for the intent to expire."""
    store = open_lake(local_lake_url(tmp_path))
    try:
        store.create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))
        receipt = AppendReceipt("chunk-1", "body", "answer", BASE)
        store.append(PROJECT, "web", _records(0, 10, 200), receipt=receipt)
        with pytest.raises(AppendKeyTakenError):
            store.append(PROJECT, "web", _records(10, 10, "teapot"), receipt=receipt)
        with store._cursor() as cursor:
            assert read_intent(cursor, LAKE, PROJECT, "web") is None
        assert _status_type(store, "web") == FieldType.BIGINT
        assert _numbers(store, "web") == list(range(10))
    finally:
        store.close()
