"""Native endpoints the console needs: logstore stats, the task's dialect and slices, and the live
task view behind the event stream (what it sends, and only when something changed)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from logsluice.api.native.task_events import TaskWatch
from logsluice.bootstrap import Server
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    RANGE,
    TASKS_URL,
    create,
    generate_records,
    load,
    run_queued,
)

STATS_URL = "/api/v1/projects/web/logstores/app/stats"


@pytest.fixture
def server(make_server: ServerFactory) -> Server:
    return make_server(workers=0)  # the tests run queued tasks themselves


@pytest.fixture
def client(server: Server) -> Iterator[TestClient]:
    with authorized_client(server) as test_client:
        yield test_client


def test_logstore_stats_count_the_records_and_their_span(client: TestClient) -> None:
    records = generate_records(500)
    load(client, records)
    times = sorted(datetime.fromisoformat(record["timestamp"]) for record in records)

    stats = client.get(STATS_URL).json()

    assert stats["records"] == 500
    assert datetime.fromisoformat(stats["first_record_at"]) == times[0].astimezone(UTC)
    assert datetime.fromisoformat(stats["last_record_at"]) == times[-1].astimezone(UTC)


def test_an_empty_logstore_has_no_span(client: TestClient, logstore_url: str) -> None:
    stats = client.get(f"{logstore_url}/stats").json()
    assert stats == {"records": 0, "first_record_at": None, "last_record_at": None}


def test_a_native_task_shows_its_dialect_and_slices(server: Server, client: TestClient) -> None:
    load(client, generate_records(200))
    task = create(client, logstore="app", **RANGE)
    assert (task["dialect"], task["slices_total"], task["slices_done"]) == ("native", 0, 0)

    run_queued(server)

    done = client.get(f"{TASKS_URL}/{task['id']}").json()
    assert done["slices_total"] >= 1
    assert done["slices_done"] == done["slices_total"]


def test_the_task_watch_sends_what_changed_only(server: Server, client: TestClient) -> None:
    load(client, generate_records(200))
    first = create(client, logstore="app", **RANGE)
    watch = TaskWatch("web", [first["id"], "gone"], server.container.clock.now())
    context = server.context

    initial = watch.read(context)
    assert any('"id":"{}"'.format(first["id"]) in message for message in initial)
    assert 'event: removed\ndata: {"id": "gone"}' in "".join(initial)
    assert watch.read(context) == [], "nothing changed"

    second = create(client, logstore="app", **RANGE)
    new = watch.read(context)
    assert len(new) == 1, "a task created later is sent"
    assert second["id"] in new[0]

    run_queued(server)
    finished = "".join(watch.read(context))
    assert finished.count("event: task") == 2
    assert "SUCCEEDED" in finished

    assert client.delete(f"{TASKS_URL}/{first['id']}").status_code == 204
    assert watch.read(context) == [f'event: removed\ndata: {{"id": "{first["id"]}"}}\n\n']
