"""What the DuckLake store adds to the log-store contract: files, maintenance, many writers.

A dropped logstore leaves no data file (locally and in the bucket); compaction merges small files
through DuckLake's own functions and keeps every record; retention plus compaction removes the
files of deleted days; a time-range query opens only the files of its day; two lake stores (two
DuckDB instances, as two nodes) appending to one logstore on PostgreSQL + S3 with racing schema
changes lose and double nothing, and two appending one idempotency key at the same instant
store it once and answer alike.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from logsluice.adapters.duckdb import engine_appends
from logsluice.adapters.duckdb.append_plan import AppendPlan, plan_append
from logsluice.adapters.duckdb.lake_store import DuckLakeLogStore
from logsluice.adapters.duckdb.query_language import parse_duckdb_query
from logsluice.domain.catalog import Logstore, LogstoreSchema
from logsluice.domain.errors import AppendKeyTakenError
from logsluice.domain.timerange import TimeRange
from logsluice.ports import AppendReceipt, RecordsQuery
from tests.contract.conftest_lake import (
    local_lake_url,
    new_s3_bucket,
    open_lake,
    postgresql_s3_lake_url,
    reset_lake,
)
from tests.s3_server import S3Server

PROJECT = "shop"
BASE = datetime(2026, 3, 1, tzinfo=UTC)
TIME_TYPE = pa.timestamp("us", "UTC")
EVERYTHING = TimeRange(BASE - timedelta(days=1), BASE + timedelta(days=30))


def _records(first_second: int, rows: int, step_seconds: int = 1, **extra: object) -> pa.Table:
    seconds = range(first_second, first_second + rows * step_seconds, step_seconds)
    times = pa.array([BASE + timedelta(seconds=second) for second in seconds], TIME_TYPE)
    columns: dict[str, object] = {"timestamp": times, "number": list(seconds)}
    columns.update({name: [value] * rows for name, value in extra.items()})
    return pa.table(columns)


def _query(logstore: str, time_range: TimeRange = EVERYTHING) -> RecordsQuery:
    return RecordsQuery(PROJECT, logstore, parse_duckdb_query("*"), time_range, limit=10_000_000)


def _numbers(store: DuckLakeLogStore, logstore: str) -> list[int]:
    _, table = store.fetch(_query(logstore))
    return sorted(table.column("number").to_pylist())


@pytest.fixture
def local_lake_dir(tmp_path: Path) -> Iterator[tuple[DuckLakeLogStore, Path]]:
    store = open_lake(local_lake_url(tmp_path))
    yield store, tmp_path / "data"
    store.close()


def _local_files(data: Path) -> list[Path]:
    return [path for path in data.rglob("*") if path.is_file()]


def _bucket_keys(server: S3Server, bucket: str) -> list[str]:
    response = httpx.get(f"{server.endpoint}/{bucket}?list-type=2", timeout=10)
    response.raise_for_status()
    return re.findall(r"<Key>([^<]+)</Key>", response.text)


def test_a_dropped_logstore_leaves_no_files_locally(
    local_lake_dir: tuple[DuckLakeLogStore, Path],
) -> None:
    store, data = local_lake_dir
    for name in ("kept", "dropped"):
        store.create_logstore(Logstore(PROJECT, name, 7, "timestamp", BASE))
        store.append(PROJECT, name, _records(0, 100, step_seconds=3600))  # five days
    dropped_files = [path for path in _local_files(data) if "/dropped/" in str(path)]
    assert len(dropped_files) >= 5

    store.drop_logstore(PROJECT, "dropped")

    assert [path for path in _local_files(data) if "/dropped/" in str(path)] == []
    assert _numbers(store, "kept") == list(range(0, 100 * 3600, 3600))


@pytest.mark.postgresql
def test_a_dropped_logstore_leaves_no_objects_in_the_bucket(
    postgresql_database_factory: Callable[[], str], s3_server: S3Server
) -> None:
    bucket = new_s3_bucket(s3_server)
    store = open_lake(postgresql_s3_lake_url(postgresql_database_factory(), bucket, s3_server))
    try:
        store.create_logstore(Logstore(PROJECT, "dropped", 7, "timestamp", BASE))
        store.append(PROJECT, "dropped", _records(0, 50, step_seconds=3600))
        assert len(_bucket_keys(s3_server, bucket)) >= 3
        store.drop_logstore(PROJECT, "dropped")
        assert _bucket_keys(s3_server, bucket) == []
    finally:
        store.close()


def _external_cache_bytes(store: DuckLakeLogStore) -> int:
    with store._cursor() as cursor:
        row = cursor.execute(
            "SELECT sum(memory_usage_bytes) FROM duckdb_memory() WHERE tag = 'EXTERNAL_FILE_CACHE'"
        ).fetchone()
    return int(row[0] or 0) if row else 0


@pytest.mark.postgresql
def test_records_read_from_the_bucket_are_not_kept_in_memory(
    postgresql_s3_lake: DuckLakeLogStore,
) -> None:
    store = postgresql_s3_lake
    reset_lake(store)
    store.create_logstore(Logstore(PROJECT, "read", 7, "timestamp", BASE))
    store.append(PROJECT, "read", _records(0, 20_000, message="x" * 200))
    reader = store.stream(_query("read"), 1_000)
    assert sum(batch.num_rows for batch in reader) == 20_000
    assert _external_cache_bytes(store) == 0  # DuckDB's cache of remote bytes is off


def test_compaction_merges_small_files_and_keeps_every_record(
    local_lake_dir: tuple[DuckLakeLogStore, Path],
) -> None:
    store, data = local_lake_dir
    store.create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))
    for batch in range(8):  # eight appends over the same two days: 16 small files
        store.append(PROJECT, "web", _records(batch, 48, step_seconds=3600))
    before = store.data_files(PROJECT, "web")
    numbers = _numbers(store, "web")

    report = store.compact(PROJECT, "web")

    assert report.rewritten
    assert report.row_groups_before == len(before) == 16
    assert report.row_groups_after == len(store.data_files(PROJECT, "web")) == 2  # one per day
    assert report.rows == 8 * 48
    assert _numbers(store, "web") == numbers
    # the merged files are gone from the disk, not only from the catalog
    assert sorted(str(path) for path in _local_files(data)) == store.data_files(PROJECT, "web")


def test_retention_then_compaction_deletes_the_files_of_old_days(
    local_lake_dir: tuple[DuckLakeLogStore, Path],
) -> None:
    store, data = local_lake_dir
    store.create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))
    store.append(PROJECT, "web", _records(0, 96, step_seconds=3600))  # four days, four files
    assert store.delete_before(PROJECT, "web", BASE + timedelta(days=2)) == 48
    store.compact(PROJECT, "web")
    files = store.data_files(PROJECT, "web")
    assert len(files) == 2
    assert all(re.search(r"day=[34]/", path) for path in files)
    assert sorted(str(path) for path in _local_files(data)) == files
    assert _numbers(store, "web") == list(range(48 * 3600, 96 * 3600, 3600))


def test_a_one_day_query_opens_only_that_days_files(
    local_lake_dir: tuple[DuckLakeLogStore, Path],
) -> None:
    store, _ = local_lake_dir
    store.create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))
    for batch in range(3):
        store.append(PROJECT, "web", _records(batch * 10, 240, step_seconds=1800))  # five days
    day_two = TimeRange(BASE + timedelta(days=1), BASE + timedelta(days=2))
    profile = store.scan_profile(_query("web", day_two))
    assert profile.row_groups_total == 15
    assert profile.row_groups_scanned == 3  # one file per append covers day two
    assert store.count(_query("web", day_two)) == 3 * 48


@pytest.mark.postgresql
def test_a_node_adding_a_column_another_node_just_added_retries_and_stores(
    postgresql_database_factory: Callable[[], str],
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second node plans its new column on the schema before the first node's commit added
    the same column; its ALTER then meets that column and the append is retried, not refused."""
    url = postgresql_s3_lake_url(postgresql_database_factory(), new_s3_bucket(s3_server), s3_server)
    nodes = [open_lake(url), open_lake(url)]
    second_planned, first_stored = threading.Event(), threading.Event()
    stale_plans = [0]

    def plan_in_turn(stored: LogstoreSchema, records: pa.Table) -> AppendPlan:
        plan = plan_append(stored, records)
        if plan.changes and threading.current_thread().name == "second":
            stale_plans[0] += 1
            if stale_plans[0] == 2:  # the plan it makes holding the lock, just before the ALTER
                second_planned.set()
                assert first_stored.wait(timeout=60)  # the first node commits the column now
        return plan

    monkeypatch.setattr(engine_appends, "plan_append", plan_in_turn)
    failures: list[BaseException] = []
    try:
        nodes[0].create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))

        def first() -> None:
            try:
                assert second_planned.wait(timeout=60)
                nodes[0].append(PROJECT, "web", _records(0, 100, region="eu"))
                first_stored.set()
            except BaseException as error:
                failures.append(error)

        def second() -> None:
            try:
                nodes[1].append(PROJECT, "web", _records(100, 100, region="us"))
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=first), threading.Thread(target=second, name="second")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        assert stale_plans[0] == 2  # its stale plan did meet the column
        assert _numbers(nodes[1], "web") == list(range(200))
    finally:
        for node in nodes:
            node.close()


@pytest.mark.slow
@pytest.mark.postgresql
def test_two_nodes_appending_with_racing_schema_changes_lose_and_double_nothing(
    postgresql_database_factory: Callable[[], str], s3_server: S3Server
) -> None:
    url = postgresql_s3_lake_url(postgresql_database_factory(), new_s3_bucket(s3_server), s3_server)
    nodes = [open_lake(url), open_lake(url)]
    failures: list[BaseException] = []
    try:
        nodes[0].create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))
        nodes[1].create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))  # a no-op

        def ingest(node: int) -> None:
            try:
                for batch in range(8):
                    first = (node * 8 + batch) * 100
                    # both nodes bring the same new columns, and widen `number` to text at once
                    extra: dict[str, object] = {f"field_{batch % 3}": batch}
                    if batch == 5:
                        extra["kind"] = "text"
                    nodes[node].append(PROJECT, "web", _records(first, 100, **extra))
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=ingest, args=(node,)) for node in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert failures == []
        assert _numbers(nodes[1], "web") == list(range(1600))
        names = {field.name for field in nodes[0].schema(PROJECT, "web").fields}
        assert {"field_0", "field_1", "field_2", "kind"} <= names
    finally:
        for node in nodes:
            node.close()


def test_appends_write_parquet_beyond_the_cache_limit(tmp_path: Path) -> None:
    """The file store runs at its small cache limit between sorts; a lake append writes a Parquet
    row group per column, so the lake runs at the memory limit (it failed out_of_memory)."""
    store = DuckLakeLogStore(
        local_lake_url(tmp_path),
        memory_limit_bytes=256 * 1024 * 1024,
        cache_limit_bytes=16 * 1024 * 1024,
        threads=2,
    )
    try:
        store.create_logstore(Logstore(PROJECT, "wide", 7, "timestamp", BASE))
        rows = 60_000
        text = {
            f"text_{n}": [f"value {n} of record {i} " * 3 for i in range(rows)] for n in range(8)
        }
        records = _records(0, rows).append_column("payload", pa.array(["x" * 200] * rows))
        for name, values in text.items():
            records = records.append_column(name, pa.array(values))
        assert store.append(PROJECT, "wide", records) == rows
        assert store.count(_query("wide")) == rows
    finally:
        store.close()


def test_two_nodes_appending_one_key_at_the_same_instant_store_it_once(
    postgresql_database_factory: Callable[[], str],
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each round, two nodes append the same records with the same idempotency key, and both
    have looked for the key and written their rows before either commits (they meet at COMMIT):
    one stores them, the other's commit conflicts on the key's guard table, its retry finds the
    receipt, and it answers with the first one's response. Exactly one copy per round."""
    url = postgresql_s3_lake_url(postgresql_database_factory(), new_s3_bucket(s3_server), s3_server)
    nodes = [open_lake(url), open_lake(url)]
    rounds = 8
    at_commit = threading.Barrier(2, timeout=60)
    first_commit_of_round: dict[tuple[str, int], bool] = {}
    commit = engine_appends._commit

    def meet_at_commit(cursor: object, receipt: AppendReceipt | None) -> None:
        attempt = (threading.current_thread().name, current_round[0])
        if receipt is not None and attempt not in first_commit_of_round:
            first_commit_of_round[attempt] = True
            at_commit.wait()  # only each node's first try of a round: a retry commits alone
        commit(cursor, receipt)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_appends, "_commit", meet_at_commit)
    current_round = [0]
    answers: dict[int, list[str]] = {0: [], 1: []}
    failures: list[BaseException] = []
    try:
        nodes[0].create_logstore(Logstore(PROJECT, "web", 7, "timestamp", BASE))
        for round_number in range(rounds):
            current_round[0] = round_number
            records = _records(round_number * 10, 10)
            key = f"chunk-{round_number}"

            def send(node: int, records: pa.Table = records, key: str = key) -> None:
                receipt = AppendReceipt(key, "same-body", f"answer of node {node}", BASE)
                try:
                    nodes[node].append(PROJECT, "web", records, receipt=receipt)
                    answers[node].append(receipt.response)
                except AppendKeyTakenError:
                    replayed = nodes[node].append_receipt(PROJECT, "web", key)
                    answers[node].append(replayed.response if replayed else "no receipt")
                except BaseException as error:
                    failures.append(error)

            threads = [threading.Thread(target=send, args=(n,), name=f"node-{n}") for n in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        assert failures == []
        assert _numbers(nodes[1], "web") == list(range(rounds * 10))  # one copy of each round
        assert answers[0] == answers[1]  # the loser answers as the winner did
        assert all(answer.startswith("answer of node ") for answer in answers[0])
    finally:
        for node in nodes:
            node.close()
