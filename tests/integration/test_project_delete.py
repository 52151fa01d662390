"""Deleting a project deletes it: keys, links, tasks, files and records of it are gone, running
tasks stop at once, and a project created again under the same name shares nothing with it.

Before the fix, links of a deleted project still downloaded its records (also after the janitor
ran), its files stayed on disk, a re-created project of the same name listed the old tasks, and
the old project's access key worked on the new one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    RANGE,
    TASKS_URL,
    create,
    generate_records,
    get,
    load,
    local_path,
)

SLOW_SQL = "* | select sum(a.status * b.status + c.status) as total from log a, log b, log c"
WAIT_SECONDS = 30


@pytest.fixture
def served(make_server: ServerFactory) -> Iterator[tuple[Server, TestClient]]:
    server = make_server(
        janitor_interval=timedelta(milliseconds=200), query_timeout=timedelta(seconds=1)
    )
    with authorized_client(server) as client:
        load(client, generate_records(3_000))
        yield server, client


def _wait(condition: Any) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _key_client(server: Server, client: TestClient) -> TestClient:
    created = client.post("/api/v1/access-keys", json={"project": "web", "role": "writer"}).json()
    key_client = TestClient(server.app)
    key_client.headers["Authorization"] = (
        f"Bearer {created['access_key_id']}:{created['access_key_secret']}"
    )
    return key_client


def _files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()] if directory.exists() else []


def test_a_deleted_project_leaves_nothing_usable_and_its_name_starts_afresh(
    served: tuple[Server, TestClient],
) -> None:
    server, client = served
    artifacts = server.container.settings.data_dir / "artifacts"
    key_client = _key_client(server, client)
    assert key_client.get(TASKS_URL).status_code == 200
    finished = create(client, query="*", name="finished")
    _wait(lambda: get(client, finished["id"])["status"] == "SUCCEEDED")
    link = local_path(client.get(f"{TASKS_URL}/{finished['id']}/link").json()["url"])
    assert client.get(link, headers={"Authorization": ""}).status_code == 200
    running = create(client, query=SLOW_SQL, name="running")
    _wait(lambda: get(client, running["id"])["status"] == "RUNNING")
    queued = [create(client, query="*", name=f"queued-{index}") for index in range(3)]
    assert _files_under(artifacts / "web")

    assert client.delete("/api/v1/projects/web").status_code == 204

    gone = client.get(link, headers={"Authorization": ""})
    assert gone.status_code == 410, gone.text
    assert key_client.get(TASKS_URL).status_code in (401, 403)
    # the running task stops at once: its query is interrupted, the janitor purges it and every
    # file of the project
    _wait(lambda: not _files_under(artifacts / "web"))
    _wait(lambda: not _files_under(artifacts / ".staging" / "web"))
    store = server.container.task_store
    _wait(lambda: store.list_purgeable_tasks() == [])
    for task in [finished, running, *queued]:
        assert store.list_task_slices(task["id"]) == []

    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    tasks = client.get(TASKS_URL)
    assert tasks.status_code == 200
    assert tasks.json()["total"] == 0
    assert client.get("/api/v1/projects/web/logstores").json()["logstores"] == []
    assert key_client.get(TASKS_URL).status_code in (401, 403)
    assert client.get(link, headers={"Authorization": ""}).status_code in (403, 410)
    assert client.get(f"{TASKS_URL}/{finished['id']}").status_code == 404
    # a logstore of the same name starts empty
    assert client.post("/api/v1/projects/web/logstores", json={"name": "app"}).status_code == 201
    query = client.post("/api/v1/projects/web/logstores/app/query", json={"query": "*", **RANGE})
    assert query.json()["rows"] == []
