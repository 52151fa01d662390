"""Ctrl-C (a real SIGINT to a real CLI process) while a download task is created or watched.

The server runs without workers, so a task stays QUEUED for as long as a test looks at it. A
relay in front of the server holds the create request in flight, which is where the CLI used to
print only ``Aborted!`` and lose the task's id.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.conftest import RunningServer, start_server, stop_server
from tests.acceptance.relay import HoldingRelay, holding_relay

pytestmark = pytest.mark.slow
PROJECT = "ops"
CREATE = ["task", "create", "level:ERROR", "-p", PROJECT, "-l", "app", "--since", "30d", "--wait"]
SQL_CREATE = [
    "task", "create", "* | select level, count(*) as n group by level", "-p", PROJECT,
    "-l", "app", "--since", "30d", "--wait",
]  # fmt: skip
TASK_ID = re.compile(r"task ([0-9a-f]{32}) keeps running")


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with no workers: tasks stay QUEUED."""
    server = start_server(tmp_path_factory.mktemp("idle") / "data", "--no-workers")
    with server.admin() as admin:
        assert admin.post("/api/v1/projects", json={"name": PROJECT}).status_code == 201
        url = f"/api/v1/projects/{PROJECT}/logstores"
        assert admin.post(url, json={"name": "app"}).status_code == 201
        lines = b'{"level": "ERROR", "message": "boom"}\n{"level": "INFO", "message": "ok"}\n'
        assert admin.post(f"{url}/app/records", content=lines).json()["accepted"] == 2
    yield server
    stop_server(server)


def _task_status(server: RunningServer, task_id: str) -> str:
    with server.admin() as admin:
        response = admin.get(f"/api/v1/projects/{PROJECT}/download-tasks/{task_id}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def _interrupt(process: subprocess.Popen[str], times: int) -> tuple[int, str, str]:
    for _ in range(times):
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return process.returncode, stdout, stderr


def _wait_for_output(process: subprocess.Popen[str], text: str) -> str:
    assert process.stderr is not None
    seen = ""
    while text not in seen:
        line = process.stderr.readline()
        assert line, f"the CLI ended before printing {text!r}: {seen}"
        seen += line
    return seen


def test_ctrl_c_while_watching_leaves_the_task_running(idle_server: RunningServer) -> None:
    process = idle_server.start_cli(*CREATE)
    before = _wait_for_output(process, "QUEUED")
    code, _, after = _interrupt(process, 1)
    stderr = before + after
    assert code == 130, stderr
    match = TASK_ID.search(stderr)
    assert match, stderr
    task_id = match.group(1)
    assert f"logsluice task wait {task_id} -p {PROJECT}" in stderr
    assert f"logsluice task download {task_id} -p {PROJECT}" in stderr
    assert f"logsluice task cancel {task_id} -p {PROJECT}" in stderr
    assert "Aborted" not in stderr
    assert _task_status(idle_server, task_id) == "QUEUED"


def test_a_second_ctrl_c_cancels_the_task(idle_server: RunningServer) -> None:
    process = idle_server.start_cli(*CREATE)
    _wait_for_output(process, "QUEUED")
    process.send_signal(signal.SIGINT)
    _wait_for_output(process, "Press Ctrl-C again")
    code, _, stderr = _interrupt(process, 1)
    assert code == 130, stderr
    task_id = re.search(r"task ([0-9a-f]{32}) CANCELL", stderr)
    assert task_id, stderr
    assert _task_status(idle_server, task_id.group(1)) == "CANCELLED"


def test_cancel_on_interrupt_cancels_at_the_first_ctrl_c(idle_server: RunningServer) -> None:
    process = idle_server.start_cli(*CREATE, "--cancel-on-interrupt")
    _wait_for_output(process, "QUEUED")
    code, _, stderr = _interrupt(process, 1)
    assert code == 130, stderr
    task_id = re.search(r"task ([0-9a-f]{32}) CANCELL", stderr)
    assert task_id, stderr
    assert _task_status(idle_server, task_id.group(1)) == "CANCELLED"


def _create_through(relay: HoldingRelay, server: RunningServer) -> subprocess.Popen[str]:
    relay.hold_posts.set()
    process = server.start_cli(*SQL_CREATE, LOGSLUICE_SERVER=relay.url)
    assert relay.post_arrived.wait(timeout=60), "the create request never came"
    return process


def test_ctrl_c_while_a_sql_task_is_created_still_tells_its_id(
    idle_server: RunningServer,
) -> None:
    port = int(idle_server.url.rsplit(":", 1)[1])
    with holding_relay(port) as relay:
        process = _create_through(relay, idle_server)
        process.send_signal(signal.SIGINT)
        _wait_for_output(process, "waiting for its id")
        relay.release()
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    match = TASK_ID.search(stderr)
    assert match, stderr
    assert match.group(1) in stdout  # "task ID QUEUED (estimate: …)"
    assert _task_status(idle_server, match.group(1)) == "QUEUED"


def test_two_ctrl_c_while_creating_cancel_the_task_once_it_exists(
    idle_server: RunningServer,
) -> None:
    port = int(idle_server.url.rsplit(":", 1)[1])
    with holding_relay(port) as relay:
        process = _create_through(relay, idle_server)
        process.send_signal(signal.SIGINT)
        _wait_for_output(process, "waiting for its id")
        process.send_signal(signal.SIGINT)
        _wait_for_output(process, "cancelling the task once it exists")
        relay.release()
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    task_id = re.search(r"task ([0-9a-f]{32}) CANCELL", stderr)
    assert task_id, stderr
    assert _task_status(idle_server, task_id.group(1)) == "CANCELLED"


def test_giving_up_on_a_hung_create_names_the_idempotency_key(
    idle_server: RunningServer,
) -> None:
    port = int(idle_server.url.rsplit(":", 1)[1])
    with holding_relay(port) as relay:
        process = _create_through(relay, idle_server)
        for message in ("waiting for its id", "cancelling the task once it exists"):
            process.send_signal(signal.SIGINT)
            _wait_for_output(process, message)
        code, _, stderr = _interrupt(process, 1)
        relay.release()
    assert code == 130, stderr
    same = re.search(r"--from (\S+) --to (\S+) --idempotency-key (cli-[0-9a-f]{32})", stderr)
    assert same, stderr
    repeated = [*SQL_CREATE[:7], "--from", same.group(1), "--to", same.group(2)]
    again = idle_server.cli(*repeated, "--idempotency-key", same.group(3), "--json")
    assert again.returncode == 0, again.stderr
    once_more = idle_server.cli(*repeated, "--idempotency-key", same.group(3), "--json")
    assert json.loads(once_more.stdout)["id"] == json.loads(again.stdout)["id"]


def test_task_wait_reattaches_and_reports_how_the_task_ended(
    idle_server: RunningServer, tmp_path: Path
) -> None:
    created = idle_server.cli(*CREATE[:-1], "--json")
    assert created.returncode == 0, created.stderr
    task_id = re.search(r'"id": "([0-9a-f]{32})"', created.stdout)
    assert task_id
    process = idle_server.start_cli("task", "wait", task_id.group(1), "-p", PROJECT)
    _wait_for_output(process, "QUEUED")
    code, _, stderr = _interrupt(process, 1)
    assert code == 130
    assert f"logsluice task wait {task_id.group(1)} -p {PROJECT}" in stderr
    assert idle_server.cli("task", "cancel", task_id.group(1), "-p", PROJECT).returncode == 0
    ended = idle_server.cli("task", "wait", task_id.group(1), "-p", PROJECT)
    assert ended.returncode == 5, ended.stderr
    assert "CANCELLED" in ended.stderr


def test_describe_is_readable_and_parquet_warns_about_its_codec(
    idle_server: RunningServer,
) -> None:
    created = idle_server.cli(*CREATE[:-1], "--format", "parquet", "--compression", "gzip")
    assert created.returncode == 0, created.stderr
    assert "warning: compression 'gzip' is ignored for Parquet" in created.stderr
    task_id = re.search(r"task ([0-9a-f]{32}) QUEUED", created.stdout)
    assert task_id, created.stdout
    described = idle_server.cli("task", "describe", task_id.group(1), "-p", PROJECT)
    assert described.returncode == 0, described.stderr
    estimate = next(line for line in described.stdout.splitlines() if "estimate:" in line)
    assert estimate.split(": ", 1)[1] in ("1 rows, about " + estimate.rsplit("about ", 1)[-1],
                                          "being estimated")  # fmt: skip
    assert "{" not in estimate  # not the raw JSON object
    assert re.search(r"bytes_written: 0 B \(0 bytes\)", described.stdout)
