"""The live task-event stream of a real server: it sends the watched tasks, then only changes; it
refuses another project's caller; and it ends when the server shuts down, so ``serve`` stops
promptly with a console page open."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import load_app_records, start_server, stop_server

EVENTS = "/api/v1/projects/web/download-tasks/events"


def _read_events(lines: Iterator[str], count: int) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, line.removeprefix("data: ")))
            if len(events) == count:
                break
    return events


@pytest.mark.slow
def test_the_stream_sends_tasks_and_ends_when_the_server_stops(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--no-workers")
    token = (tmp_path / "data" / "admin-token").read_text().strip()
    admin = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    try:
        load_app_records(admin, "web", 100, seed=3)
        assert admin.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
        spec = {"logstore": "app", "from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
        task = admin.post("/api/v1/projects/web/download-tasks", json=spec).json()
        key = admin.post("/api/v1/access-keys", json={"project": "shop", "role": "reader"}).json()
        other = {"Authorization": f"Bearer {key['access_key_id']}:{key['access_key_secret']}"}
        assert httpx.get(f"{server.url}{EVENTS}", headers=other).status_code == 403

        with admin.stream("GET", EVENTS, params={"ids": task["id"]}, timeout=30) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            (first,) = _read_events(lines, 1)
            assert first[0] == "task"
            assert task["id"] in first[1]
            assert '"queue_position":1' in first[1]
            cancelled = threading.Event()

            def cancel_then_stop() -> None:
                admin.post(f"/api/v1/projects/web/download-tasks/{task['id']}/cancel")
                cancelled.set()

            threading.Thread(target=cancel_then_stop).start()
            (change,) = _read_events(lines, 1)
            assert cancelled.wait(10)
            assert '"status":"CANCELLED"' in change[1]

            server.process.send_signal(signal.SIGTERM)
            # The stream ends cleanly (a connection cut by a forced shutdown would raise an
            # incomplete-read error here), so uvicorn's graceful shutdown goes on to the end.
            remaining = list(lines)
            assert not any(line.startswith("event: ") for line in remaining)
        # uvicorn re-raises the SIGTERM it handled once it has shut down gracefully
        assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        admin.close()
        if server.process.poll() is None:
            stop_server(server)
