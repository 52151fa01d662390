"""A ``logsluice worker`` process reading through the serving node: cancelling its task, or
stopping the worker with SIGTERM, interrupts the node's query too.

The worker reads records over ``/internal/v1/records/stream``; a ``| SQL`` query over a cross join
produces nothing for minutes, so before the fix the worker waited on the stream and the node's
DuckDB kept two cores busy long after the cancel. Now the worker shuts its connection and the node
interrupts its query when the connection closes: the task ends and ``serve`` goes idle.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.acceptance.conftest import free_port
from tests.acceptance.test_tasks_crash_recovery import TOKEN, Processes, _environment
from tests.integration.tasks_support import generate_records

pytestmark = pytest.mark.slow

SLOW_SQL = "* | select sum(a.status * b.status + c.status) as total from log a, log b, log c"
RECORDS = 3_000
TASKS_URL = "/api/v1/projects/web/download-tasks"
SPEC = {
    "logstore": "app",
    "query": SLOW_SQL,
    "from": "2026-03-01T00:00:00Z",
    "to": "2026-03-01T06:00:00Z",
}
WAIT_SECONDS = 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _cpu_used_during(pid: int, seconds: float) -> float:
    before = _cpu_seconds(pid)
    time.sleep(seconds)
    return _cpu_seconds(pid) - before


def _streams_interrupted(log: Path) -> int:
    """Count the node's record streams that ended because their client went away."""
    events = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.startswith(b"{")]
    return sum(1 for event in events if event.get("event") == "records.interrupted")


def _wait_interrupted(log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if _streams_interrupted(log):
            return
        time.sleep(0.1)
    raise AssertionError("the serving node's query was not interrupted")


def _wait_status(client: httpx.Client, task_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"{TASKS_URL}/{task_id}").json()
        if task["status"] == wanted:
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not become {wanted}: {task}")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop_all()


@pytest.fixture
def node(tmp_path: Path, processes: Processes) -> tuple[Processes, dict[str, str], int, int]:
    environment = _environment(tmp_path / "data", query_timeout="2", duckdb_threads="2")
    port = free_port()
    serve = processes.serve(environment, port, "--no-workers")
    with _client(port) as client:
        assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
        logstores = "/api/v1/projects/web/logstores"
        assert client.post(logstores, json={"name": "app"}).status_code == 201
        body = b"".join(orjson.dumps(record) + b"\n" for record in generate_records(RECORDS))
        assert client.post(f"{logstores}/app/records", content=body).status_code == 200
    return processes, environment, port, serve.pid


def _client(port: int) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )


def _start_slow_task(
    processes: Processes, environment: dict[str, str], port: int, client: httpx.Client
) -> tuple[str, Any]:
    worker = processes.start(
        "worker", environment, "worker", "--server", f"http://127.0.0.1:{port}"
    )
    created = client.post(TASKS_URL, json=SPEC)
    assert created.status_code == 201, created.text
    task_id: str = created.json()["id"]
    _wait_status(client, task_id, "RUNNING")
    return task_id, worker


def test_cancel_interrupts_the_serving_nodes_query(
    node: tuple[Processes, dict[str, str], int, int],
) -> None:
    processes, environment, port, serve_pid = node
    with _client(port) as client:
        task_id, _ = _start_slow_task(processes, environment, port, client)
        time.sleep(2.0)  # the node's DuckDB is at work on the join
        assert _streams_interrupted(processes.log_dir / "serve.log") == 0

        assert client.post(f"{TASKS_URL}/{task_id}/cancel").status_code == 200

        _wait_status(client, task_id, "CANCELLED")
        _wait_interrupted(processes.log_dir / "serve.log")  # its reading thread has returned
        assert _cpu_used_during(serve_pid, 2.0) < 0.5  # and DuckDB is idle again
        assert client.get("/healthz").status_code == 200


def test_a_worker_stopped_with_sigterm_interrupts_the_nodes_query(
    node: tuple[Processes, dict[str, str], int, int],
) -> None:
    processes, environment, port, serve_pid = node
    with _client(port) as client:
        task_id, worker = _start_slow_task(processes, environment, port, client)
        time.sleep(2.0)

        worker.send_signal(signal.SIGTERM)

        assert worker.wait(timeout=WAIT_SECONDS) == 0
        _wait_status(client, task_id, "QUEUED")
        _wait_interrupted(processes.log_dir / "serve.log")
        assert _cpu_used_during(serve_pid, 2.0) < 0.5
