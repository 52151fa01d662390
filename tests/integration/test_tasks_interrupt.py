"""Cancelling a task interrupts the engine's query at once, for every kind of task.

A ``| SQL`` query over a three-way cross join of a few thousand records would run for minutes
without producing a batch; before the fix a cancel was heard but the task stayed CANCELLING and
the query kept its CPU. Here the task must reach CANCELLED (or QUEUED, on a worker shutdown) and
the thread running it must end, well before the query could have finished by itself.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import TASKS_URL, create, generate_records, get, load

# ~3,000³ = 2.7e10 joined rows: minutes of DuckDB work, not a batch before it is done
SLOW_SQL = "* | select sum(a.status * b.status + c.status) as total from log a, log b, log c"
# Its row count needs the whole cross join (an ungrouped aggregate's count is known to be 1 at once)
SLOW_COUNT_SQL = (
    "* | select a.status + b.status + c.status as total from log a, log b, log c "
    "where a.status + b.status + c.status > -1"
)
RECORDS = 3_000
STOP_SECONDS = 20  # far below the query's own run time; the fix stops it within about a second


@pytest.fixture
def slow_client(make_server: ServerFactory) -> tuple[Server, TestClient]:
    server = make_server(query_timeout=timedelta(seconds=1), workers=0)
    with authorized_client(server) as client:
        load(client, generate_records(RECORDS))
        yield server, client


def _claim_and_run(server: Server, shutdown: threading.Event) -> threading.Thread:
    container = server.container
    task = container.task_store.claim_next_task(
        "interrupt-test",
        lease=timedelta(seconds=30),
        now=container.clock.now(),
        max_running_per_project=10,
    )
    assert task is not None
    thread = threading.Thread(target=container.runner.run, args=(task, "interrupt-test", shutdown))
    thread.start()
    return thread


def _wait_running_query(client: TestClient, task_id: str, thread: threading.Thread) -> None:
    """Wait until the task is RUNNING and its query has been busy for a moment."""
    deadline = time.monotonic() + STOP_SECONDS
    while get(client, task_id)["status"] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    assert thread.is_alive()


def _assert_ends(thread: threading.Thread) -> None:
    thread.join(STOP_SECONDS)
    assert not thread.is_alive(), "the query was not interrupted"


def test_cancel_interrupts_a_running_sql_export(slow_client: tuple[Server, TestClient]) -> None:
    server, client = slow_client
    task = create(client, query=SLOW_SQL)
    thread = _claim_and_run(server, threading.Event())
    _wait_running_query(client, task["id"], thread)

    assert client.post(f"{TASKS_URL}/{task['id']}/cancel").json()["status"] == "CANCELLING"

    _assert_ends(thread)
    assert get(client, task["id"])["status"] == "CANCELLED"


def test_delete_interrupts_a_running_sql_export(slow_client: tuple[Server, TestClient]) -> None:
    server, client = slow_client
    task = create(client, query=SLOW_SQL)
    thread = _claim_and_run(server, threading.Event())
    _wait_running_query(client, task["id"], thread)

    assert client.delete(f"{TASKS_URL}/{task['id']}").status_code == 204

    _assert_ends(thread)


def test_a_worker_shutdown_interrupts_the_query_and_queues_the_task_again(
    slow_client: tuple[Server, TestClient],
) -> None:
    server, client = slow_client
    task = create(client, query=SLOW_SQL)
    shutdown = threading.Event()
    thread = _claim_and_run(server, shutdown)
    _wait_running_query(client, task["id"], thread)

    shutdown.set()

    _assert_ends(thread)
    assert get(client, task["id"])["status"] == "QUEUED"


def test_the_estimate_at_create_is_bounded_by_the_query_timeout(
    slow_client: tuple[Server, TestClient],
) -> None:
    _, client = slow_client

    started = time.monotonic()
    task = create(client, query=SLOW_SQL)

    assert time.monotonic() - started < STOP_SECONDS
    # the create answers at once; the slow count goes on after it, bounded by the query timeout
    estimate = task["estimate"]
    assert (estimate["rows"], estimate["bytes"]) == (None, None)
    assert estimate["status"] in ("pending", "unknown")


@pytest.fixture
def patient_client(make_server: ServerFactory) -> tuple[Server, TestClient]:
    """A server whose estimates may run ten minutes: only an interrupt ends one sooner."""
    server = make_server(query_timeout=timedelta(minutes=10), workers=0)
    with authorized_client(server) as client:
        load(client, generate_records(RECORDS))
        yield server, client


def _wait_estimates_end(server: Server) -> None:
    deadline = time.monotonic() + STOP_SECONDS
    while server.container.tasks.running_estimates and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.container.tasks.running_estimates, "the estimate was not interrupted"


@pytest.mark.parametrize("action", ["cancel", "delete"])
def test_cancel_or_delete_interrupts_the_estimate_count(
    patient_client: tuple[Server, TestClient], action: str
) -> None:
    server, client = patient_client
    task = create(client, query=SLOW_COUNT_SQL)
    assert task["estimate"]["status"] == "pending"
    assert len(server.container.tasks.running_estimates) == 1
    time.sleep(1.0)  # the count is busy in the engine

    if action == "cancel":
        assert client.post(f"{TASKS_URL}/{task['id']}/cancel").json()["status"] == "CANCELLED"
    else:
        assert client.delete(f"{TASKS_URL}/{task['id']}").status_code == 204

    _wait_estimates_end(server)
    if action == "cancel":
        assert get(client, task["id"])["estimate"]["rows"] is None
