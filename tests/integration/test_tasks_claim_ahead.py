"""A worker claims its next slice while its current one ends (``services.worker.ClaimAhead``):
the next slice is read while the current one's last batches are encoded, every slice still runs
exactly once, and a stop or a cancel leaves no slice held by a worker that went away."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from logsluice.domain.tasks import SliceOutcome, SliceStatus
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
    read_rows,
    run_queued,
)
from tests.integration.test_tasks_parallel_slices import _slow_encoders

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
