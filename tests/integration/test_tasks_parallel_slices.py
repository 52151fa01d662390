"""One task's slices run by several workers at once, on the embedded stores: the file holds every
row exactly once in order, a cancel stops every worker's slice, ``order=desc`` with a ``limit``
keeps exactly the first rows, and a Parquet file stitched from parts opens in pyarrow, DuckDB and
polars with one footer. A worker claims its next slice while its current one ends
(``services.worker.ClaimAhead``): the next slice is read while the current one's last batches are
encoded, every slice still runs exactly once, and a stop or a cancel leaves no slice held by a
worker that went away."""

from __future__ import annotations

import hashlib
import io
import itertools
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import duckdb
import polars
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from logsluice.domain.tasks import RUNNING_STATUSES, SliceOutcome, SliceStatus, TaskStatus
from logsluice.services.worker import Worker
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    TASKS_URL,
    create,
    decompress,
    download,
    generate_records,
    get,
    load,
    make_worker,
    query_rows,
    read_rows,
    run_queued,
)

pytestmark = pytest.mark.timeout(300)

RECORDS = generate_records(1500)


@pytest.fixture
def server(make_server: ServerFactory) -> Server:
    return make_server(task_rows_per_slice=150, task_batch_rows=32, workers=0)


@pytest.fixture
def client(server: Server) -> Iterator[TestClient]:
    with authorized_client(server) as test_client:
        load(test_client, RECORDS)
        yield test_client


class _SlowEncoder:
    """An encoder that takes a little while per batch, so several workers overlap."""

    def __init__(self, encoder: Any, delay_seconds: float) -> None:
        self._encoder = encoder
        self._delay_seconds = delay_seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def encode(self, batch: pa.RecordBatch) -> Any:
        time.sleep(self._delay_seconds)
        return self._encoder.encode(batch)


def _slow_encoders(server: Server, delay_seconds: float = 0.02) -> None:
    runner = server.container.runner
    build = runner.encoder_factory
    runner.encoder_factory = lambda *args, **kwargs: _SlowEncoder(  # type: ignore[method-assign]
        build(*args, **kwargs), delay_seconds
    )


class _CountedHistograms:
    """The log store, counting the histograms asked of it."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self.histograms = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def histogram(self, *args: Any, **kwargs: Any) -> Any:
        self.histograms += 1
        return self._source.histogram(*args, **kwargs)


def test_a_task_whose_rows_fit_one_slice_is_planned_without_a_histogram(
    client: TestClient, server: Server
) -> None:
    runner = server.container.runner
    counted = _CountedHistograms(runner.source)
    runner.source = counted
    expected = sum(1 for record in RECORDS if (record["status"], record["host"]) == (500, "web-1"))
    assert 0 < expected <= 150  # fewer rows than a slice holds
    few = create(client, query="status:500 AND host:web-1")
    many = create(client, query="*")
    assert get(client, few["id"])["estimate"]["rows"] == expected
    run_queued(server)
    few_done, many_done = get(client, few["id"]), get(client, many["id"])
    assert (few_done["status"], few_done["slices_total"]) == ("SUCCEEDED", 1)
    assert many_done["slices_total"] >= 8
    assert counted.histograms == 1  # only the task of many slices read one
    rows = read_rows(decompress(download(client, few["id"]), "none"), "csv")[1]
    assert len(rows) == few_done["rows_written"] == expected


def _run_in_threads(workers: list[Worker]) -> None:
    """Let the workers work on threads of their own until no task is left unfinished."""
    server_store = workers[0]._task_store

    def unfinished() -> bool:
        tasks, _ = server_store.list_tasks("web", status=[*RUNNING_STATUSES, TaskStatus.QUEUED])
        return bool(tasks)

    def drain(worker: Worker) -> None:
        deadline = time.monotonic() + 200
        while unfinished() and time.monotonic() < deadline:
            if worker.run_once() is None:
                time.sleep(0.02)

    threads = [threading.Thread(target=drain, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)


@pytest.mark.parametrize(("export_format", "compression"), [("csv", "zstd"), ("parquet", "none")])
def test_three_workers_share_one_task_and_the_file_holds_every_row_once(
    client: TestClient, server: Server, export_format: str, compression: str
) -> None:
    reference = create(client, name="reference", query="*", format=export_format)
    run_queued(server)
    expected = download(client, reference["id"])
    task = create(client, name="shared", query="*", format=export_format, compression=compression)
    _slow_encoders(server)
    _run_in_threads([make_worker(server) for _ in range(3)])
    finished = get(client, task["id"])
    assert finished["status"] == "SUCCEEDED", finished
    slices = server.container.task_store.list_task_slices(task["id"])
    assert len(slices) >= 8
    assert len({item.lease_owner for item in slices}) >= 2  # slices ran on several workers
    data = download(client, task["id"])
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert hashlib.sha256(data).hexdigest() == manifest["sha256"]
    assert hashlib.md5(data, usedforsecurity=False).hexdigest() == manifest["md5"]
    columns, rows = read_rows(decompress(data, compression), export_format)
    assert (columns, rows) == read_rows(decompress(expected, "none"), export_format)
    assert len(rows) == len(RECORDS)


@pytest.mark.parametrize(("export_format", "compression"), [("csv", "gzip"), ("parquet", "none")])
def test_the_parts_are_hashed_as_their_slices_finish_and_the_checksums_are_the_files(
    client: TestClient, server: Server, export_format: str, compression: str
) -> None:
    task = create(client, query="*", format=export_format, compression=compression)
    run_queued(server)  # one worker, slices in order: each part is hashed as it is written
    slices = server.container.task_store.list_task_slices(task["id"])
    assert len(slices) >= 8
    # every slice carries the running hash through its part, the last one too: the completer
    # read no part back
    assert all(item.file_hash_state is not None for item in slices)
    data = download(client, task["id"])
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert hashlib.sha256(data).hexdigest() == manifest["sha256"]
    assert hashlib.md5(data, usedforsecurity=False).hexdigest() == manifest["md5"]


def test_a_cancel_stops_the_slices_of_every_worker(client: TestClient, server: Server) -> None:
    task = create(client, query="*")
    _slow_encoders(server, delay_seconds=0.5)
    workers = [make_worker(server) for _ in range(2)]
    threads = [threading.Thread(target=worker.run_once) for worker in workers]
    threads[0].start()
    threads[0].join()  # the task started: its slices are planned
    threads = [threading.Thread(target=worker.run_once) for worker in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    store = server.container.task_store
    while sum(item.status == "running" for item in store.list_task_slices(task["id"])) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    cancelled_at = time.monotonic()
    assert client.post(f"{TASKS_URL}/{task['id']}/cancel").json()["status"] == "CANCELLING"
    for thread in threads:
        thread.join(timeout=30)
    stopped_after = time.monotonic() - cancelled_at
    assert get(client, task["id"])["status"] == "CANCELLED"
    slices = store.list_task_slices(task["id"])
    assert not any(item.status == "running" for item in slices)
    assert stopped_after < 5  # both slices heard it at a heartbeat, not at their end
    assert {item.status for item in slices} <= {"queued", "done"}
    assert "queued" in {slices[0].status, slices[1].status}  # stopped mid-slice, given back


def _cancelled_within(client: TestClient, task_id: str, seconds: float) -> dict[str, Any]:
    """Poll the task until it is CANCELLED (a generous bound, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    task = get(client, task_id)
    while task["status"] != "CANCELLED" and time.monotonic() < deadline:
        time.sleep(0.05)
        task = get(client, task_id)
    return task


@pytest.mark.parametrize("one_done", [False, True])
def test_a_cancel_ends_at_once_a_task_none_of_whose_slices_runs(
    client: TestClient, server: Server, one_done: bool
) -> None:
    """Its slices wait for a worker (every one is busy elsewhere) or for a retry: no slice
    heartbeat would hear the cancel, so the cancel itself ends the task."""
    task = create(client, query="*")
    worker = make_worker(server)
    assert worker.run_once() is not None  # the task started: its slices are planned, queued
    store = server.container.task_store
    if one_done:
        assert worker.run_once() is not None  # one slice ran to its end
        work = store.claim_next_work(
            "flaky",
            lease=server.container.runner.settings.lease,
            now=server.container.clock.now(),
            max_running_per_project=1 << 30,
        )
        assert work is not None
        assert work.slice is not None
        later = server.container.clock.now() + timedelta(minutes=5)
        store.fail_slice(
            task["id"],
            work.slice.slice_index,
            "flaky",
            now=later,
            retry_at=later,
            error_message="boom",
        )  # it waits minutes for its retry
    assert get(client, task["id"])["status"] == "RUNNING"
    response = client.post(f"{TASKS_URL}/{task['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "CANCELLED"
    assert _cancelled_within(client, task["id"], 5)["status"] == "CANCELLED"
    slices = store.list_task_slices(task["id"])
    assert not any(item.status == "running" for item in slices)
    assert ("done" in {item.status for item in slices}) is one_done
    assert worker.run_once() is None  # a cancelled task hands out no slices


@pytest.mark.parametrize("limit", [1, 149, 150, 151, 700])
def test_desc_with_a_limit_keeps_exactly_the_newest_rows(
    client: TestClient, server: Server, limit: int
) -> None:
    task = create(client, query="*", order="desc", limit=limit)
    _run_in_threads([make_worker(server) for _ in range(2)])
    finished = get(client, task["id"])
    assert finished["status"] == "SUCCEEDED", finished
    assert finished["truncated"] is True
    columns, rows = read_rows(download(client, task["id"]), "csv")
    query_columns, everything = query_rows(client, "*", order="desc")
    assert len(rows) == limit == finished["rows_written"]
    kept = [(row[columns.index("timestamp")], row[columns.index("message")]) for row in rows]
    matching = [
        (row[query_columns.index("timestamp")], row[query_columns.index("message")])
        for row in everything
    ]
    times = [time for time, _ in kept]
    assert times == sorted(times, reverse=True)
    boundary = times[-1]
    # every row newer than the last one kept is in the file, and nothing older is
    newer = sorted(item for item in matching if item[0] > boundary)
    assert sorted(item for item in kept if item[0] > boundary) == newer
    assert all(time == boundary for time in times[len(newer) :])


def test_a_parquet_file_of_many_parts_opens_everywhere_with_one_footer(
    client: TestClient, server: Server, tmp_path: Any
) -> None:
    task = create(client, query="*", format="parquet")
    _run_in_threads([make_worker(server) for _ in range(2)])
    data = download(client, task["id"])
    path = tmp_path / "export.parquet"
    path.write_bytes(data)
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    assert metadata.num_rows == len(RECORDS)
    slices = server.container.task_store.list_task_slices(task["id"])
    assert metadata.num_row_groups == sum(1 for item in slices if item.rows)  # one per slice
    assert data[:4] == b"PAR1"
    assert data[-4:] == b"PAR1"
    table = pq.read_table(io.BytesIO(data))
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchone() == (len(RECORDS),)
    frame = polars.read_parquet(path)
    assert frame.height == len(RECORDS)
    assert frame["message"].to_list() == table.column("message").to_pylist()


# --- claiming ahead ----------------------------------------------------------------------------


class _Timeline:
    """When each slice's rows began to be read, and when each slice was recorded finished."""

    def __init__(self, server: Server) -> None:
        self.lock = threading.Lock()
        self.read_started: dict[Any, float] = {}
        self.finished: dict[int, float] = {}
        self.ranges: dict[int, Any] = {}
        runner = server.container.runner
        source, store = runner.source, server.container.task_store
        timeline = self

        class _Source:
            def __getattr__(self, name: str) -> Any:
                return getattr(source, name)

            def stream(self, request: Any, *args: Any, **kwargs: Any) -> Any:
                with timeline.lock:
                    timeline.read_started.setdefault(request.time_range, time.monotonic())
                return source.stream(request, *args, **kwargs)

        class _Store:
            def __getattr__(self, name: str) -> Any:
                return getattr(store, name)

            def finish_slice(
                self, task_id: str, slice_index: int, *args: Any, **kwargs: Any
            ) -> Any:
                answer = store.finish_slice(task_id, slice_index, *args, **kwargs)
                with timeline.lock:
                    timeline.finished[slice_index] = time.monotonic()
                return answer

        runner.source = _Source()  # type: ignore[assignment]
        runner.task_store = _Store()  # type: ignore[assignment]

    def overlaps(self, slices: list[Any]) -> int:
        """How many slices began to be read before the slice before them was finished."""
        return sum(
            1
            for before, after in itertools.pairwise(slices)
            if self.read_started[after.time_range] < self.finished[before.slice_index]
        )


def _reference(client: TestClient, server: Server, export_format: str) -> bytes:
    reference = create(client, name="reference", query="*", format=export_format)
    run_queued(server)
    return download(client, reference["id"])


@pytest.mark.parametrize(("export_format", "compression"), [("jsonl", "zstd"), ("parquet", "none")])
def test_one_worker_reads_its_next_slice_while_the_current_one_ends(
    client: TestClient, server: Server, export_format: str, compression: str
) -> None:
    expected = _reference(client, server, export_format)
    task = create(client, query="*", format=export_format, compression=compression)
    _slow_encoders(server, delay_seconds=0.1)  # encoding lags behind reading, as when busy
    timeline = _Timeline(server)
    worker = make_worker(server)
    assert worker.run_chain()  # starts the task; nothing was claimed ahead of a start
    assert worker.run_chain()  # the slices, one claimed ahead of the other
    assert not worker.run_chain()
    finished = get(client, task["id"])
    assert finished["status"] == "SUCCEEDED", finished
    slices = server.container.task_store.list_task_slices(task["id"])
    assert len(slices) >= 8
    assert [item.attempts for item in slices] == [1] * len(slices)  # each ran exactly once
    assert {item.lease_owner for item in slices} == {worker.worker_id}
    # every slice after the first was read while the one before it was still being finished
    assert timeline.overlaps(slices) == len(slices) - 1
    # the worker ran its slices in order, so each part was hashed as it was written
    assert all(item.file_hash_state is not None for item in slices)
    data = download(client, task["id"])
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert hashlib.sha256(data).hexdigest() == manifest["sha256"]
    assert hashlib.md5(data, usedforsecurity=False).hexdigest() == manifest["md5"]
    expected_rows = read_rows(decompress(expected, "none"), export_format)
    assert read_rows(decompress(data, compression), export_format) == expected_rows


def test_three_chaining_workers_run_every_slice_once(client: TestClient, server: Server) -> None:
    expected = _reference(client, server, "csv")
    task = create(client, query="*", compression="gzip")
    _slow_encoders(server)
    workers = [make_worker(server) for _ in range(3)]
    assert workers[0].run_chain()  # the task started: its slices are planned
    threads = [threading.Thread(target=worker.run_chain) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    finished = get(client, task["id"])
    assert finished["status"] == "SUCCEEDED", finished
    slices = server.container.task_store.list_task_slices(task["id"])
    assert [item.attempts for item in slices] == [1] * len(slices)
    assert len({item.lease_owner for item in slices}) >= 2
    columns, rows = read_rows(decompress(download(client, task["id"]), "gzip"), "csv")
    assert (columns, rows) == read_rows(expected, "csv")
    assert len(rows) == len(RECORDS)


def _stop_when_claimed_ahead(server: Server, stop: threading.Event) -> None:
    """Set ``stop`` as the first slice is recorded finished, while the second is claimed ahead
    (its read began at the first slice's last read)."""
    store = server.container.task_store
    runner = server.container.runner

    class _Store:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def finish_slice(self, task_id: str, slice_index: int, *args: Any, **kwargs: Any) -> Any:
            if slice_index == 0:
                assert _running(task_id) == [0, 1]  # slice 1 was claimed ahead
                stop.set()
            return store.finish_slice(task_id, slice_index, *args, **kwargs)

    def _running(task_id: str) -> list[int]:
        deadline = time.monotonic() + 10  # a generous bound for the claim ahead on a busy host
        while True:
            running = [
                item.slice_index
                for item in store.list_task_slices(task_id)
                if item.status == SliceStatus.RUNNING
            ]
            if len(running) > 1 or time.monotonic() > deadline:
                return running
            time.sleep(0.01)

    runner.task_store = _Store()  # type: ignore[assignment]


def test_a_worker_that_stops_gives_back_the_slice_it_claimed_ahead(
    client: TestClient, server: Server
) -> None:
    expected = _reference(client, server, "csv")
    task = create(client, query="*")
    _slow_encoders(server)
    stop = threading.Event()
    worker = make_worker(server, shutdown=stop)
    assert worker.run_chain()  # planned
    _stop_when_claimed_ahead(server, stop)
    worker.run_chain()
    store = server.container.task_store
    slices = store.list_task_slices(task["id"])
    assert slices[0].status == SliceStatus.DONE
    assert slices[1].status == SliceStatus.QUEUED  # given back at once, its attempt not counted
    assert slices[1].attempts == 0
    assert not any(item.status == SliceStatus.RUNNING for item in slices)
    server.container.runner.task_store = store  # type: ignore[assignment]
    run_queued(server)  # another worker finishes the task from there
    finished = get(client, task["id"])
    assert finished["status"] == "SUCCEEDED", finished
    assert read_rows(download(client, task["id"]), "csv") == read_rows(expected, "csv")


def test_a_cancel_ends_the_slice_claimed_ahead_too(client: TestClient, server: Server) -> None:
    task = create(client, query="*")
    _slow_encoders(server, delay_seconds=0.1)
    worker = make_worker(server)
    assert worker.run_chain()  # planned
    store = server.container.task_store

    class _Store:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def finish_slice(
            self, task_id: str, slice_index: int, outcome: SliceOutcome, *args: Any, **kwargs: Any
        ) -> Any:
            if slice_index == 0:  # slice 1 is claimed ahead and reads: cancel now
                response = client.post(f"{TASKS_URL}/{task_id}/cancel")
                assert response.json()["status"] == "CANCELLING", response.text
            return store.finish_slice(task_id, slice_index, outcome, *args, **kwargs)

    server.container.runner.task_store = _Store()  # type: ignore[assignment]
    started = time.monotonic()
    worker.run_chain()
    assert time.monotonic() - started < 60  # generous: it ends, it does not hang
    assert get(client, task["id"])["status"] == "CANCELLED"
    slices = store.list_task_slices(task["id"])
    assert not any(item.status == SliceStatus.RUNNING for item in slices)
    # the slice claimed ahead was given back or, had its rows been encoded before its heartbeat
    # heard the cancel, finished; no slice after it was claimed
    assert slices[1].status in {SliceStatus.QUEUED, SliceStatus.DONE}
    assert [item.attempts for item in slices[2:]] == [0] * (len(slices) - 2)
    assert not worker.run_chain()  # a cancelled task hands out no slices
