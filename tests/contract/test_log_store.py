"""Contract of the LogStore port, run against every implementation in ``LOG_STORES``.

Covers storage (create, drop, append, schema growth and widening, atomicity), the queries
(fetch, stream, count, histogram, errors, timeouts), logstreams, retention and concurrent use.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from logsluice.adapters.duckdb import sorted_pieces
from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.catalog import FieldType, Logstore
from logsluice.domain.errors import (
    AppendKeyTakenError,
    InvalidQueryError,
    InvalidRecordsError,
    LogsluiceError,
    LogstoreNotFoundError,
    QueryTimeoutError,
)
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.ports import AppendReceipt, LogStore, LogstoreStats, RecordsQuery

PROJECT = "shop"
LOGSTORE = "web-logs"
TIME = "timestamp"
BASE = datetime(2026, 3, 1, tzinfo=UTC)
TIME_TYPE = pa.timestamp("us", "UTC")
WHOLE_DAY = TimeRange(BASE, BASE + timedelta(days=1))


def _logstore(name: str = LOGSTORE, time_field: str = TIME) -> Logstore:
    return Logstore(PROJECT, name, 7, time_field, BASE)


def _records(seconds: list[int], **columns: list[object]) -> pa.Table:
    times = pa.array([BASE + timedelta(seconds=second) for second in seconds], TIME_TYPE)
    return pa.table({TIME: times, **{name: pa.array(values) for name, values in columns.items()}})


def _query(text: str = "*", time_range: TimeRange = WHOLE_DAY, **options: object) -> RecordsQuery:
    return RecordsQuery(PROJECT, LOGSTORE, parse_query(text), time_range, **options)  # type: ignore[arg-type]


@pytest.fixture
def store(log_store: LogStore) -> LogStore:
    log_store.create_logstore(_logstore())
    return log_store


def _types(store: LogStore) -> dict[str, FieldType]:
    return {field.name: field.type for field in store.schema(PROJECT, LOGSTORE).fields}


def _all_rows(store: LogStore) -> list[dict[str, object]]:
    _, table = store.fetch(_query())
    return table.to_pylist()  # type: ignore[no-any-return]


# --- create, drop, schema ---------------------------------------------------------------------


def test_a_new_logstore_has_the_time_field_then_logstream(store: LogStore) -> None:
    store.create_logstore(_logstore())  # a second create is a no-op
    schema = store.schema(PROJECT, LOGSTORE)
    assert schema.time_field == TIME
    assert [(f.name, f.type) for f in schema.fields] == [
        (TIME, FieldType.TIMESTAMP),
        ("logstream", FieldType.VARCHAR),
    ]


def test_a_custom_time_field_comes_first(log_store: LogStore) -> None:
    log_store.create_logstore(_logstore("events", time_field="ts"))
    assert log_store.schema(PROJECT, "events").time_field == "ts"


def test_drop_removes_records_and_storage(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([1], message=["a"]))
    store.drop_logstore(PROJECT, LOGSTORE)
    store.drop_logstore(PROJECT, LOGSTORE)  # absent: a no-op
    with pytest.raises(LogstoreNotFoundError):
        store.schema(PROJECT, LOGSTORE)
    with pytest.raises(LogstoreNotFoundError):
        store.append(PROJECT, LOGSTORE, _records([1], message=["a"]))
    store.create_logstore(_logstore())
    assert store.count(_query()) == 0


def test_dropping_one_logstore_keeps_the_others(store: LogStore) -> None:
    store.create_logstore(_logstore("other"))
    store.append(PROJECT, "other", _records([1], message=["kept"]))
    store.drop_logstore(PROJECT, LOGSTORE)
    assert store.logstreams(PROJECT, "other")[0].records == 1


# --- nested records: dotted leaf fields, lists, int32 (ADR 0017) -----------------------------


def test_append_keeps_int32_lists_and_dotted_fields(store: LogStore) -> None:
    records = _records(
        [1, 2],
        **{"http.status": pa.array([503, 200], pa.int32())},  # type: ignore[arg-type]
        tags=[["web", "canary"], []],
        codes=[[1, 2], None],
    )
    store.append(PROJECT, LOGSTORE, records)
    assert list(_types(store).items())[2:] == [
        ("http.status", FieldType.INTEGER),
        ("tags", FieldType.VARCHAR_LIST),
        ("codes", FieldType.BIGINT_LIST),
    ]
    _, table = store.fetch(_query(order=Order.ASC))
    assert table.schema.field("http.status").type == pa.int32()
    assert pa.types.is_list(table.schema.field("tags").type)
    assert table.column("tags").to_pylist() == [["web", "canary"], []]
    assert table.column("codes").to_pylist() == [[1, 2], None]


def test_lists_widen_element_wise_and_to_json_text_beside_scalars(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([1], codes=[[1, 2]], tags=[["a"]]))
    store.append(PROJECT, LOGSTORE, _records([2], codes=[[2.5]], tags=["plain text"]))
    types = _types(store)
    assert (types["codes"], types["tags"]) == (FieldType.DOUBLE_LIST, FieldType.VARCHAR)
    rows = sorted(_all_rows(store), key=lambda row: str(row[TIME]))
    assert [row["codes"] for row in rows] == [[1.0, 2.0], [2.5]]
    assert [row["tags"] for row in rows] == ['["a"]', "plain text"]


def test_dotted_paths_and_list_elements_are_searchable(store: LogStore) -> None:
    store.append(
        PROJECT,
        LOGSTORE,
        _records([1, 2, 3], **{"http.status": [503, 200, 500]}, tags=[["web"], ["mobile"], []]),  # type: ignore[arg-type]
    )
    assert store.count(_query("http.status>=500")) == 2
    assert store.count(_query("tags:web")) == 1
    assert store.count(_query("http.status>=500 AND NOT tags:web")) == 1
    _, table = store.fetch(_query("* | select http.status, count(*) as n group by 1 order by 1"))
    assert table.to_pylist() == [
        {"http.status": 200, "n": 1}, {"http.status": 500, "n": 1}, {"http.status": 503, "n": 1}
    ]  # fmt: skip


# --- append -----------------------------------------------------------------------------------


def test_append_stores_records_and_extends_the_schema(store: LogStore) -> None:
    assert store.append(PROJECT, LOGSTORE, _records([2, 1], status=[200, 500])) == 2
    assert store.append(PROJECT, LOGSTORE, _records([3], message=["hi"], ok=[True])) == 1
    assert list(_types(store).items())[2:] == [
        ("status", FieldType.BIGINT),
        ("message", FieldType.VARCHAR),
        ("ok", FieldType.BOOLEAN),
    ]
    rows = _all_rows(store)
    assert [row["status"] for row in rows] == [500, 200, None]
    assert [row["message"] for row in rows] == [None, None, "hi"]
    assert rows[0][TIME] == BASE + timedelta(seconds=1)
    assert rows[0][TIME].utcoffset() == timedelta(0)


def test_an_empty_append_stores_nothing(store: LogStore) -> None:
    assert store.append(PROJECT, LOGSTORE, _records([]).slice(0, 0)) == 0


def test_bigint_widens_to_double_with_values_preserved(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([1, 2], latency=[7, -(2**52)]))
    store.append(PROJECT, LOGSTORE, _records([3], latency=[2.5]))
    assert _types(store)["latency"] == FieldType.DOUBLE
    assert [row["latency"] for row in _all_rows(store)] == [7.0, float(-(2**52)), 2.5]


def test_any_type_widens_to_varchar_with_values_converted(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([1], code=[404], ok=[True], ratio=[0.5]))
    store.append(PROJECT, LOGSTORE, _records([2], code=["E42"], ok=["maybe"], ratio=["n/a"]))
    types = _types(store)
    assert (types["code"], types["ok"], types["ratio"]) == (FieldType.VARCHAR,) * 3
    first, second = _all_rows(store)
    assert (first["code"], first["ok"], float(first["ratio"])) == ("404", "true", 0.5)
    assert (second["code"], second["ok"], second["ratio"]) == ("E42", "maybe", "n/a")


def test_narrower_incoming_values_fit_the_stored_type(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([1], value=["text"], number=[1.5]))
    store.append(PROJECT, LOGSTORE, _records([2], value=[12], number=[3]))
    assert _types(store)["value"] == FieldType.VARCHAR
    assert _types(store)["number"] == FieldType.DOUBLE
    assert [(row["value"], row["number"]) for row in _all_rows(store)] == [
        ("text", 1.5),
        ("12", 3.0),
    ]


def test_field_names_match_case_insensitively(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([1], Host=["a"]))
    store.append(PROJECT, LOGSTORE, _records([2], host=["b"]))
    assert [name for name in _types(store) if name.lower() == "host"] == ["Host"]
    assert [row["Host"] for row in _all_rows(store)] == ["a", "b"]


def test_missing_logstream_is_empty_text(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([1, 2], logstream=["app", None]))
    assert [row["logstream"] for row in _all_rows(store)] == ["app", ""]


def test_records_without_a_time_field_are_refused(store: LogStore) -> None:
    with pytest.raises(InvalidRecordsError):
        store.append(PROJECT, LOGSTORE, pa.table({"message": ["no time"]}))
    with pytest.raises(InvalidRecordsError):
        store.append(PROJECT, LOGSTORE, pa.table({TIME: ["2026-03-01"], "message": ["text"]}))


def test_a_failing_append_leaves_nothing_behind(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([1], status=[200]))
    before = _types(store)
    times = pa.array([BASE, None], TIME_TYPE)  # a record without time breaks the insert
    failing = pa.table({TIME: times, "status": ["text", "x"], "extra": [1, 2]})
    with pytest.raises(LogsluiceError):
        store.append(PROJECT, LOGSTORE, failing)
    assert _types(store) == before
    assert store.count(_query()) == 1


# --- queries -----------------------------------------------------------------------------------


@pytest.fixture
def filled(store: LogStore) -> LogStore:
    """600 records, one per second from BASE; every 10th has status 500, the rest 200."""
    seconds = list(range(600))
    store.append(
        PROJECT,
        LOGSTORE,
        _records(
            seconds,
            status=[500 if second % 10 == 0 else 200 for second in seconds],
            message=[f"request {second}" for second in seconds],
            logstream=["api" if second % 3 else "worker" for second in seconds],
        ),
    )
    return store


def test_fetch_returns_columns_and_rows_in_time_order(filled: LogStore) -> None:
    columns, table = filled.fetch(_query(limit=5))
    assert [column.name for column in columns] == [TIME, "logstream", "status", "message"]
    assert table.num_rows == 5
    assert table.schema.field(TIME).type == TIME_TYPE
    assert table.column("message").to_pylist() == [f"request {i}" for i in range(5)]
    _, newest = filled.fetch(_query(order=Order.DESC, limit=2))
    assert newest.column("message").to_pylist() == ["request 599", "request 598"]


def test_fetch_in_storage_order_returns_the_rows_of_the_range(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([500, 501, 502], n=[500, 501, 502]))
    store.append(PROJECT, LOGSTORE, _records([10, 11, 90_000], n=[10, 11, 90_000]))
    _, unsorted = store.fetch(_query(sort=False))
    _, by_time = store.fetch(_query())
    assert by_time.column("n").to_pylist() == [10, 11, 500, 501, 502]
    assert sorted(unsorted.column("n").to_pylist()) == [10, 11, 500, 501, 502]
    _, sample = store.fetch(_query(sort=False, limit=2))
    assert sample.num_rows == 2
    assert set(sample.column("n").to_pylist()) <= {10, 11, 500, 501, 502}


def test_fetch_reads_only_the_time_range(filled: LogStore) -> None:
    minute = TimeRange(BASE + timedelta(minutes=2), BASE + timedelta(minutes=3))
    _, table = filled.fetch(_query("status>=500", minute))
    assert table.column("message").to_pylist() == [f"request {i}" for i in range(120, 180, 10)]


def test_fetch_runs_sql_after_the_search(filled: LogStore) -> None:
    columns, table = filled.fetch(
        _query("* | select logstream, count(*) as n group by logstream order by logstream")
    )
    assert [column.name for column in columns] == ["logstream", "n"]
    assert table.to_pylist() == [{"logstream": "api", "n": 400}, {"logstream": "worker", "n": 200}]


def test_count_ignores_the_limit(filled: LogStore) -> None:
    assert filled.count(_query(limit=3)) == 600
    assert filled.count(_query("status>=500")) == 60
    assert filled.count(_query("status>=500 | select status, count(*) group by status")) == 1


def test_histogram_counts_per_bucket(filled: LogStore) -> None:
    buckets = filled.histogram(_query("status>=500"), timedelta(minutes=1))
    assert [bucket.start for bucket in buckets] == [BASE + timedelta(minutes=m) for m in range(10)]
    assert {bucket.count for bucket in buckets} == {6}
    assert all(bucket.start.utcoffset() == timedelta(0) for bucket in buckets)


def test_stream_yields_every_row_in_batches(filled: LogStore) -> None:
    reader = filled.stream(_query(), batch_rows=100)
    assert reader.schema.field(TIME).type == TIME_TYPE
    batches = list(reader)
    assert sum(batch.num_rows for batch in batches) == 600
    assert len(batches) >= 2
    times = pa.Table.from_batches(batches).column(TIME).to_pylist()
    assert times == sorted(times)


@pytest.mark.parametrize("order", [Order.ASC, Order.DESC])
def test_a_sorted_slice_read_in_pieces_yields_every_matching_row_in_time_order(
    store: LogStore, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sorted_pieces, "PIECE_ROWS", 50)  # 600 records: about 12 pieces
    for start in (400, 0, 200):  # appended out of time order
        seconds = list(range(start, start + 200))
        store.append(PROJECT, LOGSTORE, _records(seconds, status=[s % 7 for s in seconds]))
    ten_minutes = TimeRange(BASE, BASE + timedelta(minutes=10))  # buckets of 2.3 s
    reader = store.stream(_query("status>0", ten_minutes, order=order), batch_rows=64)
    times = pa.Table.from_batches(list(reader), schema=reader.schema).column(TIME).to_pylist()
    expected = [BASE + timedelta(seconds=second) for second in range(600) if second % 7]
    assert times == (expected if order is Order.ASC else expected[::-1])


def test_an_unknown_column_in_sql_is_an_invalid_query(filled: LogStore) -> None:
    text = "status>=500 | select stauts from records"
    with pytest.raises(InvalidQueryError) as raised:
        filled.fetch(_query(text))
    assert raised.value.reason == "unknown_field"
    assert raised.value.position == text.index("stauts")
    assert raised.value.details["suggestion"] == "status"
    assert "did you mean 'status'?" in raised.value.message


def test_a_query_past_its_timeout_is_interrupted(filled: LogStore) -> None:
    slow = "* | select count(*) as n from records a, records b, records c, records d"
    with pytest.raises(QueryTimeoutError):
        filled.fetch(_query(slow, timeout=timedelta(milliseconds=200)))
    assert filled.count(_query(timeout=timedelta(seconds=30))) == 600  # the store still works


def test_queries_on_a_missing_logstore_fail_as_not_found(log_store: LogStore) -> None:
    with pytest.raises(LogstoreNotFoundError):
        log_store.count(_query())


# --- logstreams and retention ---------------------------------------------------------------------


def test_logstreams_are_listed_with_counts(filled: LogStore) -> None:
    assert [(info.name, info.records) for info in filled.logstreams(PROJECT, LOGSTORE)] == [
        ("api", 400),
        ("worker", 200),
    ]


def test_delete_before_removes_only_older_records(filled: LogStore) -> None:
    deleted = filled.delete_before(PROJECT, LOGSTORE, BASE + timedelta(seconds=100))
    assert deleted == 100
    assert filled.count(_query()) == 500
    _, oldest = filled.fetch(_query(limit=1))
    assert oldest.column(TIME).to_pylist() == [BASE + timedelta(seconds=100)]


# --- concurrency ---------------------------------------------------------------------------------


def test_concurrent_appends_and_queries_lose_nothing(store: LogStore) -> None:
    writers, batches_per_writer, rows_per_batch = 4, 10, 50
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for batch in range(batches_per_writer):
                first = (writer * batches_per_writer + batch) * rows_per_batch
                seconds = list(range(first, first + rows_per_batch))
                # odd writers bring a new column per batch: schema changes race plain appends
                extra = {f"field_{writer}_{batch}": [batch] * rows_per_batch} if writer % 2 else {}
                store.append(
                    PROJECT, LOGSTORE, _records(seconds, writer=[writer] * rows_per_batch, **extra)
                )
        except BaseException as error:
            failures.append(error)

    def read() -> None:
        try:
            for _ in range(20):
                store.count(_query())
                store.fetch(_query(order=Order.DESC, limit=10))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert store.count(_query()) == writers * batches_per_writer * rows_per_batch
    for writer in range(writers):
        assert store.count(_query(f"writer:{writer}")) == batches_per_writer * rows_per_batch


# --- time-range pruning -------------------------------------------------------------------------


def _second_batch(first_second: int, rows: int, *, reverse: bool) -> pa.Table:
    start = int(BASE.timestamp()) + first_second
    seconds = pa.array(range(start, start + rows), pa.int64())
    if reverse:
        seconds = seconds.take(pa.array(range(rows - 1, -1, -1)))
    micros = pa.compute.multiply(seconds, 1_000_000)
    return pa.table({TIME: micros.cast(TIME_TYPE), "value": seconds})


def test_a_narrow_time_range_reads_only_its_row_groups(store: LogStore) -> None:
    """Appends are sorted by time before insert, so zonemaps prune the rest of the table."""
    scan_profile = getattr(store, "scan_profile", None)
    if scan_profile is None:
        pytest.skip("this log store has no scan profiler")
    rows_per_batch, batches = 131_072, 4
    for batch in range(batches):  # the third batch arrives in reverse time order
        table = _second_batch(batch * rows_per_batch, rows_per_batch, reverse=batch == 2)
        store.append(PROJECT, LOGSTORE, table)
    total = rows_per_batch * batches
    middle = BASE + timedelta(seconds=int(2.5 * rows_per_batch))
    narrow = _query("*", TimeRange(middle, middle + timedelta(minutes=1)))
    assert store.count(narrow) == 60
    profile = scan_profile(narrow)
    assert profile.rows_scanned <= total // 4
    assert profile.row_groups_scanned < profile.row_groups_total
    everything = scan_profile(_query("*", TimeRange(BASE, BASE + timedelta(days=30))))
    assert everything.rows_scanned == total


def test_stats_count_the_records_and_their_time_span(store: LogStore) -> None:
    assert store.stats(PROJECT, LOGSTORE) == LogstoreStats(0, None, None)
    store.append(PROJECT, LOGSTORE, _records([30, 5, 7200]))

    assert store.stats(PROJECT, LOGSTORE) == LogstoreStats(
        records=3,
        first_record_at=BASE + timedelta(seconds=5),
        last_record_at=BASE + timedelta(seconds=7200),
    )
    with pytest.raises(LogstoreNotFoundError):
        store.stats(PROJECT, "missing")


# --- idempotent appends (ADR 0022) -----------------------------------------------------------


def _receipt(key: str = "chunk-1", fingerprint: str = "f1", at: datetime = BASE) -> AppendReceipt:
    return AppendReceipt(
        key=key, fingerprint=fingerprint, response='{"accepted":2}', recorded_at=at
    )


def test_an_append_with_a_receipt_stores_both(store: LogStore) -> None:
    receipt = _receipt()
    assert store.append_receipt(PROJECT, LOGSTORE, "chunk-1") is None
    assert store.append(PROJECT, LOGSTORE, _records([1, 2], n=[1, 2]), receipt=receipt) == 2
    assert store.append_receipt(PROJECT, LOGSTORE, "chunk-1") == receipt
    assert store.append_receipt(PROJECT, LOGSTORE, "chunk-2") is None


def test_a_key_recorded_already_stores_nothing(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([1], n=[1]), receipt=_receipt())
    for records in (_records([2], n=[2]), _records([3], n=[3], new_field=["x"])):
        with pytest.raises(AppendKeyTakenError):
            store.append(PROJECT, LOGSTORE, records, receipt=_receipt(fingerprint="other"))
    assert [row["n"] for row in _all_rows(store)] == [1]
    assert "new_field" not in _types(store)
    assert store.append_receipt(PROJECT, LOGSTORE, "chunk-1") == _receipt()


def test_a_failing_append_records_no_receipt(store: LogStore) -> None:
    without_time = pa.table({"n": [1]})
    with pytest.raises(InvalidRecordsError):
        store.append(PROJECT, LOGSTORE, without_time, receipt=_receipt())
    assert store.append_receipt(PROJECT, LOGSTORE, "chunk-1") is None
    assert store.append(PROJECT, LOGSTORE, _records([1], n=[1]), receipt=_receipt()) == 1


def test_keys_belong_to_one_logstore_and_go_with_it(store: LogStore) -> None:
    store.create_logstore(_logstore("other"))
    store.append(PROJECT, LOGSTORE, _records([1], n=[1]), receipt=_receipt())
    assert store.append(PROJECT, "other", _records([1], n=[1]), receipt=_receipt()) == 1
    store.drop_logstore(PROJECT, LOGSTORE)
    store.create_logstore(_logstore())
    assert store.append_receipt(PROJECT, LOGSTORE, "chunk-1") is None
    assert store.append_receipt(PROJECT, "other", "chunk-1") == _receipt()


def test_receipts_older_than_a_moment_are_forgotten(store: LogStore) -> None:
    for index in range(4):
        moment = BASE + timedelta(hours=index)
        records = _records([index], n=[index])
        store.append(PROJECT, LOGSTORE, records, receipt=_receipt(f"k{index}", at=moment))
    assert store.forget_receipts(BASE + timedelta(hours=2)) == 2
    kept = [store.append_receipt(PROJECT, LOGSTORE, f"k{index}") for index in range(4)]
    assert [receipt.key if receipt else None for receipt in kept] == [None, None, "k2", "k3"]
    assert len(_all_rows(store)) == 4  # forgetting keys never touches records


def test_concurrent_appends_of_one_key_store_it_once(store: LogStore) -> None:
    store.append(PROJECT, LOGSTORE, _records([0], n=[0]))  # the schema exists: appends run at once
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def append(index: int) -> None:
        barrier.wait()
        try:
            store.append(PROJECT, LOGSTORE, _records([1, 2], n=[index, index]), receipt=_receipt())
            outcomes.append("stored")
        except AppendKeyTakenError:
            outcomes.append("taken")

    threads = [threading.Thread(target=append, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["stored", "taken", "taken", "taken"]
    assert len(_all_rows(store)) == 3
