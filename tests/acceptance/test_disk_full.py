"""A full disk at each stage, with a real ``logsluice serve`` whose artifact or data directory is a
small tmpfs filled with a file: the task fails with ``disk_full`` and leaves no partial file, an
ingest is a 507, the server keeps answering (health, reads, cancel, delete, new projects), and
everything works again once space was freed, without a restart or anything done by hand.

Mounting a tmpfs needs root: under ``CI=true`` (root) these tests run; elsewhere they skip when not
root.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.acceptance.conftest import free_port
from tests.acceptance.test_tasks_crash_recovery import TOKEN, Processes, _environment

pytestmark = pytest.mark.slow

DISK_BYTES = 64 * 1024 * 1024
MIN_FREE_BYTES = 8 * 1024 * 1024
RESERVE_BYTES = 4 * 1024 * 1024
START = datetime(2026, 3, 1, tzinfo=UTC)
RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
PROJECT_URL = "/api/v1/projects/web"
TASKS_URL = f"{PROJECT_URL}/download-tasks"
RECORDS_URL = f"{PROJECT_URL}/logstores/app/records"
WAIT_SECONDS = 60


def _require_root() -> None:
    if os.geteuid() == 0:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("the full-disk tests mount a tmpfs and must run as root under CI=true")
    pytest.skip("mounting a tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs, unmounted at the end."""
    _require_root()
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)],
        check=True,
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop_all()


def _free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def _fill(disk: Path, leave_bytes: int = 0) -> Path:
    """Write a filler file until ``leave_bytes`` are left free (or the disk is full)."""
    filler = disk / "filler.bin"
    block = b"\xa5" * (1024 * 1024)
    with filler.open("ab") as file:
        try:
            while (room := _free_bytes(disk) - leave_bytes) > 0:
                file.write(block[: min(len(block), room)])
                file.flush()
        except OSError:
            pass  # full
    return filler


def _records(count: int, *, first: int = 0) -> bytes:
    """JSON Lines of ``count`` records with a 1,000-character message each (~1 KB per row)."""
    lines = []
    for index in range(first, first + count):
        moment = START + timedelta(seconds=index % 86_400, microseconds=index)
        record = {"timestamp": moment.isoformat(), "status": 200 + index % 5, "message": "x" * 1000}
        lines.append(orjson.dumps(record))
    return b"\n".join(lines) + b"\n"


def _client(port: int) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )


def _serve(processes: Processes, data_dir: Path, **settings: str) -> httpx.Client:
    environment = _environment(
        data_dir,
        disk_min_free_bytes=str(MIN_FREE_BYTES),
        disk_reserve_bytes=str(RESERVE_BYTES),
        **settings,
    )
    port = free_port()
    processes.serve(environment, port)
    client = _client(port)
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    assert client.post(f"{PROJECT_URL}/logstores", json={"name": "app"}).status_code == 201
    return client


def _ingest(client: httpx.Client, count: int, *, first: int = 0) -> httpx.Response:
    return client.post(RECORDS_URL, content=_records(count, first=first))


def _create(client: httpx.Client, **spec: Any) -> str:
    response = client.post(TASKS_URL, json={"logstore": "app", **RANGE, "format": "csv", **spec})
    assert response.status_code == 201, response.text
    task_id: str = response.json()["id"]
    return task_id


def _wait_ended(client: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"{TASKS_URL}/{task_id}").json()
        if task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not end: {task}")


def _wait_for(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _files_of(directory: Path, task_id: str) -> list[Path]:
    return [path for path in directory.rglob("*") if task_id in str(path) and path.is_file()]


def _assert_disk_full(task: dict[str, Any]) -> None:
    assert task["status"] == "FAILED", task
    assert task["error"]["code"] == "disk_full", task


def _retry_succeeds(client: httpx.Client, task_id: str, rows: int) -> None:
    assert client.post(f"{TASKS_URL}/{task_id}/retry").status_code == 200
    task = _wait_ended(client, task_id)
    assert task["status"] == "SUCCEEDED", task.get("error")
    assert task["rows_written"] == rows


def test_an_artifact_disk_full_before_the_export(
    tmp_path: Path, small_disk: Path, processes: Processes
) -> None:
    client = _serve(processes, tmp_path / "data", artifact_store_url=f"file://{small_disk}")
    assert _ingest(client, 2_000).status_code == 200
    filler = _fill(small_disk)

    task_id = _create(client)

    _assert_disk_full(_wait_ended(client, task_id))
    assert _files_of(small_disk, task_id) == []
    assert client.get("/healthz").status_code == 200
    filler.unlink()
    _retry_succeeds(client, task_id, 2_000)


def test_an_artifact_disk_that_fills_in_the_middle_of_an_export(
    tmp_path: Path, small_disk: Path, processes: Processes
) -> None:
    client = _serve(processes, tmp_path / "data", artifact_store_url=f"file://{small_disk}")
    # ~20 MB of CSV in one slice: publishing it needs room for its part and the file at once
    # (the part is moved into the file, then removed), which the 64 MiB disk has once freed
    for first in range(0, 20_000, 10_000):
        assert _ingest(client, 10_000, first=first).status_code == 200
    filler = _fill(small_disk, leave_bytes=MIN_FREE_BYTES + 10 * 1024 * 1024)
    free_before = _free_bytes(small_disk)

    task_id = _create(client)

    task = _wait_ended(client, task_id)
    _assert_disk_full(task)
    assert _files_of(small_disk, task_id) == []  # the partial file is gone
    assert _free_bytes(small_disk) >= free_before
    filler.unlink()
    _retry_succeeds(client, task_id, 20_000)


def test_a_full_data_disk_refuses_ingest_and_exports_but_keeps_serving(
    small_disk: Path, processes: Processes
) -> None:
    client = _serve(processes, small_disk)
    assert _ingest(client, 2_000).status_code == 200
    running = _create(client, name="before")
    assert _wait_ended(client, running)["status"] == "SUCCEEDED"
    assert _wait_for(lambda: (small_disk / "space-reserve").exists())
    filler = _fill(small_disk)
    # within a second serve gives its reserve up, so the task store can write again
    assert _wait_for(lambda: not (small_disk / "space-reserve").exists())

    refused = _ingest(client, 1_000, first=2_000)
    assert refused.status_code == 507, refused.text
    assert refused.json()["error"]["code"] == "disk_full"
    assert client.get("/healthz").status_code == 200
    count = client.post(f"{PROJECT_URL}/logstores/app/query", json={"query": "*", **RANGE})
    assert count.status_code == 200, count.text
    task_id = _create(client, name="during")
    _assert_disk_full(_wait_ended(client, task_id))
    assert client.post("/api/v1/projects", json={"name": "other"}).status_code == 201
    assert client.delete(f"{TASKS_URL}/{running}").status_code == 204

    filler.unlink()
    assert _ingest(client, 1_000, first=2_000).status_code == 200
    _retry_succeeds(client, task_id, 3_000)
    assert _wait_for(lambda: (small_disk / "space-reserve").exists())
