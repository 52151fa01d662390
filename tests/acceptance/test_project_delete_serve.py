"""Deleting a project on a real ``logsluice serve``: its links and keys stop working at once, its
files go when the janitor runs (also after a restart in between), and a project created again
under the same name starts empty."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.acceptance.conftest import free_port
from tests.acceptance.test_tasks_crash_recovery import TOKEN, Processes, _environment
from tests.integration.tasks_support import RANGE, generate_records

pytestmark = pytest.mark.slow

PROJECT_URL = "/api/v1/projects/web"
TASKS_URL = f"{PROJECT_URL}/download-tasks"
WAIT_SECONDS = 60


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop_all()


def _client(port: int, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def _wait(condition: Any) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()] if directory.exists() else []


def _load_and_export(client: httpx.Client) -> tuple[str, str]:
    """Create ``web/app`` with records and a finished export; return its id and link."""
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    assert client.post(f"{PROJECT_URL}/logstores", json={"name": "app"}).status_code == 201
    body = b"".join(orjson.dumps(record) + b"\n" for record in generate_records(2_000))
    assert client.post(f"{PROJECT_URL}/logstores/app/records", content=body).status_code == 200
    created = client.post(TASKS_URL, json={"logstore": "app", "query": "*", **RANGE})
    task_id: str = created.json()["id"]
    _wait(lambda: client.get(f"{TASKS_URL}/{task_id}").json()["status"] == "SUCCEEDED")
    link: str = client.get(f"{TASKS_URL}/{task_id}/link").json()["url"]
    return task_id, link


def test_a_deleted_project_is_gone_for_good_across_a_restart(
    tmp_path: Path, processes: Processes
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    serve = processes.serve(_environment(data_dir, janitor_interval="3600"), port)
    with _client(port) as admin:
        task_id, link = _load_and_export(admin)
        key = admin.post("/api/v1/access-keys", json={"project": "web", "role": "writer"}).json()
        key_token = f"{key['access_key_id']}:{key['access_key_secret']}"
        assert httpx.get(link).status_code == 200
        assert _files(data_dir / "artifacts" / "web")

        assert admin.delete(PROJECT_URL).status_code == 204

        assert httpx.get(link).status_code == 410
        with _client(port, key_token) as keyed:
            assert keyed.get(TASKS_URL).status_code in (401, 403)
    serve.terminate()
    serve.wait(timeout=30)

    port = free_port()
    processes.serve(_environment(data_dir, janitor_interval="1"), port)
    _wait(lambda: not _files(data_dir / "artifacts" / "web"))
    with _client(port) as admin:
        assert admin.post("/api/v1/projects", json={"name": "web"}).status_code == 201
        assert admin.get(TASKS_URL).json()["total"] == 0
        assert admin.get(f"{TASKS_URL}/{task_id}").status_code == 404
        assert admin.get(f"{PROJECT_URL}/logstores").json()["logstores"] == []
        with _client(port, key_token) as keyed:
            assert keyed.get(TASKS_URL).status_code in (401, 403)
    assert httpx.get(
        link.replace(link.split("/downloads/")[0], f"http://127.0.0.1:{port}")
    ).status_code in (403, 410)
