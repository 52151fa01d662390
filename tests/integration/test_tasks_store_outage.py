"""Download tasks on an object store that goes down and comes back (ADR 0024), on a real server:
``rclone serve s3`` over a directory, killed with SIGKILL and started again on the same port.

boto3 is told to try each request once (``AWS_MAX_ATTEMPTS=1``), so what these tests see is the
runner's own wait: planning and completing wait in place holding the task's lease, a slice is
queued again without using up its attempts, the task stays RUNNING and shows what it waits for,
and finishes with every row once when the store is back; an outage longer than the window fails
the task naming the store.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from logsluice.adapters.http import HttpLogStore
from logsluice.bootstrap import Server
from logsluice.domain.errors import StorageUnavailableError
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    create,
    decompress,
    generate_records,
    get,
    load,
    make_worker,
    read_rows,
)
from tests.s3_server import RestartableS3Server
from tests.tcp_relay import CuttableRelay

pytestmark = pytest.mark.timeout(180)
RECORDS = 3000


@pytest.fixture
def outage_server(
    make_server: ServerFactory,
    restartable_s3_server: RestartableS3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Server]:
    def build(**overrides: Any) -> Server:
        bucket = restartable_s3_server.bucket("exports")
        for name, value in bucket.server.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # no client retries: the runner's wait shows
        settings = {
            "workers": 0,
            "task_rows_per_slice": 500,
            "artifact_store_url": bucket.url("a"),
            "outage_retry_max_delay": timedelta(seconds=1),
        }
        return make_server(**(settings | overrides))

    return build


def wait_until(check: Callable[[], dict[str, Any] | None], what: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def shown_waiting(client: TestClient, task_id: str) -> dict[str, Any] | None:
    task = get(client, task_id)
    error = task["error"] or {}
    return task if error.get("code") == "backend_unavailable" else None


def assert_whole_file(
    s3: RestartableS3Server, client: TestClient, task: dict[str, Any]
) -> dict[str, Any]:
    done = get(client, task["id"])
    assert done["status"] == "SUCCEEDED", done
    assert done["error"] is None  # what it waited for is not shown any more
    folder = s3.root / "exports" / "a" / "web" / task["id"]
    content = (folder / done["file_name"]).read_bytes()
    manifest = json.loads((folder / "manifest.json").read_bytes())
    assert manifest["sha256"] == hashlib.sha256(content).hexdigest()
    header, rows = read_rows(decompress(content, "gzip"), "csv")
    messages = sorted(row[header.index("message")].split()[1] for row in rows)
    assert messages == sorted(str(index) for index in range(RECORDS))  # every row exactly once
    assert not (s3.root / "exports" / "a" / ".staging" / "parts" / "web" / task["id"]).exists()
    return done


def run_until_ended(server: Server, client: TestClient, task_id: str) -> dict[str, Any]:
    """Run the server's work (a slice may wait for its retry time) until the task ended."""
    worker, deadline = make_worker(server), time.monotonic() + 100
    while (task := get(client, task_id))["status"] in ("QUEUED", "RUNNING"):
        assert time.monotonic() < deadline, task
        if worker.run_once() is None:
            time.sleep(0.2)
    return task


def loaded_task(server: Server) -> tuple[TestClient, dict[str, Any]]:
    """An authorized client of ``server`` with RECORDS records loaded, and a CSV+gzip task of
    them."""
    client = authorized_client(server)
    load(client, generate_records(RECORDS))
    return client, create(client, query="*", format="csv", compression="gzip")


def run_in_thread(work: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_planning_waits_for_the_object_store_holding_the_task(
    outage_server: Callable[..., Server], restartable_s3_server: RestartableS3Server
) -> None:
    s3 = restartable_s3_server
    server = outage_server()
    client, task = loaded_task(server)
    s3.kill()
    planner = run_in_thread(make_worker(server).run_once)
    waiting = wait_until(lambda: shown_waiting(client, task["id"]), "the task to show the outage")
    assert waiting["status"] == "RUNNING"
    assert "s3://exports/a" in waiting["error"]["message"]
    assert waiting["slices_total"] == 0  # still planning
    s3.start()
    planner.join(timeout=60)
    assert not planner.is_alive()
    run_until_ended(server, client, task["id"])
    done = assert_whole_file(s3, client, task)
    assert done["attempts"] == 1  # the outage cost no run of the task


def test_completing_waits_for_the_object_store_and_publishes_once(
    outage_server: Callable[..., Server],
    restartable_s3_server: RestartableS3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3 = restartable_s3_server
    server = outage_server()
    client = authorized_client(server)
    load(client, generate_records(RECORDS))
    store = server.container.artifact_store
    complete = store.complete
    completions: list[int] = []

    def crash_then_complete(key: str, numbers: Sequence[int], head: bytes, tail: bytes) -> int:
        if not completions:
            s3.kill()  # the object store dies just as the parts are to be published
        completions.append(len(numbers))
        return complete(key, numbers, head, tail)

    monkeypatch.setattr(store, "complete", crash_then_complete)
    task = create(client, query="*", format="csv", compression="gzip")
    runner = run_in_thread(lambda: run_until_ended(server, client, task["id"]))
    waiting = wait_until(lambda: shown_waiting(client, task["id"]), "the task to show the outage")
    assert waiting["status"] == "RUNNING"
    assert waiting["slices_done"] == waiting["slices_total"] > 1  # every part was written
    s3.start()
    runner.join(timeout=60)
    assert not runner.is_alive()
    assert len(completions) >= 2  # tried while down, then again once it was back
    assert_whole_file(s3, client, task)


def test_a_slice_waits_out_an_outage_longer_than_its_attempts(
    outage_server: Callable[..., Server], restartable_s3_server: RestartableS3Server
) -> None:
    s3 = restartable_s3_server
    server = outage_server(task_slice_attempts=1)  # one failure counted would fail the task
    client, task = loaded_task(server)
    worker = make_worker(server)
    while get(client, task["id"])["slices_done"] < 1:
        assert worker.run_once() is not None
    s3.kill()
    failures = 0
    while failures < 4:  # slices failing for the outage, one second apart
        work = worker.run_once()
        if work is None:
            time.sleep(0.2)
            continue
        failures += 1
        assert get(client, task["id"])["status"] == "RUNNING"
    waiting = get(client, task["id"])
    assert waiting["error"]["code"] == "backend_unavailable"
    s3.start()
    run_until_ended(server, client, task["id"])
    assert_whole_file(s3, client, task)
    slices = server.container.task_store.list_task_slices(task["id"])
    assert max(item.attempts for item in slices) == 1


def test_an_outage_longer_than_the_window_fails_the_task_naming_the_store(
    outage_server: Callable[..., Server], restartable_s3_server: RestartableS3Server
) -> None:
    s3 = restartable_s3_server
    server = outage_server(outage_retry_window=timedelta(seconds=3))
    client, task = loaded_task(server)
    s3.kill()
    current = run_until_ended(server, client, task["id"])
    assert current["status"] == "FAILED"
    assert current["error"]["code"] == "backend_unavailable"
    assert "s3://exports/a stayed unavailable" in current["error"]["message"]


def test_a_worker_stopping_while_it_waits_gives_the_task_back(
    outage_server: Callable[..., Server], restartable_s3_server: RestartableS3Server
) -> None:
    s3 = restartable_s3_server
    server = outage_server()
    client, task = loaded_task(server)
    s3.kill()
    shutdown = threading.Event()
    planner = run_in_thread(make_worker(server, shutdown).run_once)
    wait_until(lambda: shown_waiting(client, task["id"]), "the task to show the outage")
    shutdown.set()
    planner.join(timeout=30)
    assert not planner.is_alive()
    given_back = get(client, task["id"])
    assert (given_back["status"], given_back["error"]) == ("QUEUED", None)
    s3.start()
    run_until_ended(server, client, task["id"])
    assert_whole_file(s3, client, task)


@pytest.mark.postgresql
def test_a_partition_from_the_postgresql_task_store_delays_the_task(
    make_server: ServerFactory,
    postgresql_database_factory: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL is cut off (every connection closed, new ones refused) for 3 s just as a slice
    starts writing its part: the slice waits to be recorded instead of being lost, claims fail
    meanwhile, and the task finishes with every row at its first attempt."""
    database = urlsplit(postgresql_database_factory())
    relay = CuttableRelay(database.port or 5432)
    try:
        url = database._replace(netloc=f"postgres@127.0.0.1:{relay.port}").geturl()
        server = make_server(
            workers=0,
            database_url=url,
            task_rows_per_slice=500,
            outage_retry_max_delay=timedelta(seconds=1),
        )
        client, task = loaded_task(server)
        worker = make_worker(server)
        while get(client, task["id"])["slices_done"] < 1:
            assert worker.run_once() is not None
        store = server.container.artifact_store
        open_part, restored = store.open_part, threading.Timer(3, relay.restore)

        def cut_then_open(key: str, number: int, *more: Any) -> Any:
            if restored.ident is None:  # the first part opened: cut, and restore in 3 s
                relay.cut()
                restored.start()
            return open_part(key, number, *more)

        monkeypatch.setattr(store, "open_part", cut_then_open)
        work = worker.run_once()  # its slice is recorded once the store is back
        restored.join()
        assert work is not None
        assert work.slice is not None
        slices = server.container.task_store.list_task_slices(task["id"])
        recorded = slices[work.slice.slice_index]
        assert (recorded.status.value, recorded.attempts) == ("done", 1)
        done = run_until_ended(server, client, task["id"])
        assert done["status"] == "SUCCEEDED", done
        assert done["attempts"] == 1
        folder = server.container.settings.data_dir / "artifacts" / "web" / task["id"]
        content = (folder / done["file_name"]).read_bytes()
        header, rows = read_rows(decompress(content, "gzip"), "csv")
        messages = sorted(row[header.index("message")].split()[1] for row in rows)
        assert messages == sorted(str(index) for index in range(RECORDS))
    finally:
        relay.close()


def test_a_serving_node_that_cannot_be_reached_is_an_outage() -> None:
    """A worker reading the log store through ``serve`` waits for it when it restarts."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reader = HttpLogStore(f"http://127.0.0.1:{port}", None)
    with pytest.raises(StorageUnavailableError) as raised:
        reader.schema("web", "app")
    assert raised.value.details["store"] == f"the serving node http://127.0.0.1:{port}"
