"""Completion webhooks with real processes: ``logsluice serve`` delivers a verified event to a
receiver on 127.0.0.1 (allowlisted) whose link downloads the file; a ``logsluice worker`` process
delivers on its own (serve's dispatcher idle); the CLI sets the project default (printing the made
secret once) and shows the webhook state in ``task list`` and ``task describe``."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.acceptance.conftest import (
    LOGSLUICE,
    RunningServer,
    load_app_records,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T06:00:00Z"}
ALLOW = {"LOGSLUICE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32,::1/128"}


class Receiver:
    """Records every POST (headers and body) and answers 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.received.append((headers, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 120
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.received) == count, f"{len(self.received)} events arrived, not {count}"
        return [Webhook(SECRET).verify(body, headers) for headers, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.close()


def _wait_until_delivered(admin: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        task: dict[str, Any] = admin.get(f"/api/v1/projects/web/download-tasks/{task_id}").json()
        if task["webhook"] and task["webhook"]["state"] == "delivered":
            return task
        time.sleep(0.2)
    raise AssertionError("the webhook was not delivered")


def test_serve_delivers_a_verified_event_whose_link_downloads_the_file(
    tmp_path: Path, receiver: Receiver
) -> None:
    server = start_server(tmp_path / "data", environment=ALLOW)
    try:
        with server.admin() as admin:
            load_app_records(admin, "web", 500, seed=4)
            created = admin.post(
                "/api/v1/projects/web/download-tasks",
                json={
                    "logstore": "app",
                    **RANGE,
                    "webhook": {"url": receiver.url, "secret": SECRET},
                },
            )
            assert created.status_code == 201, created.text
            task = _wait_until_delivered(admin, created.json()["id"])
            [event] = receiver.wait_for(1)
            assert event["type"] == "download_task.succeeded"
            assert event["data"]["id"] == task["id"]
            assert event["data"]["rows"] == 500
            link = event["data"]["link"]["url"]
            assert link.startswith(server.url)
            content = httpx.get(link, timeout=30).content
            assert hashlib.sha256(content).hexdigest() == event["data"]["sha256"]
            assert len(content) == event["data"]["bytes"]
            _check_cli(server, task["id"], receiver)
    finally:
        stop_server(server)


def _check_cli(server: RunningServer, task_id: str, receiver: Receiver) -> None:
    token = (server.data_dir / "admin-token").read_text().strip()
    described = server.cli("task", "describe", task_id, "-p", "web", token=token)
    assert described.returncode == 0, described.stderr
    line = next(item for item in described.stdout.splitlines() if "webhook:" in item)
    assert "delivered" in line
    assert receiver.url in line
    assert "download_task.succeeded delivered after 1 attempt(s), last answer 204" in line
    listed = server.cli("task", "list", "-p", "web", token=token, COLUMNS="200")
    assert listed.returncode == 0
    assert "WEBHOOK" in listed.stdout
    assert "delivered" in listed.stdout
    updated = server.cli("project", "update", "web", "--webhook-url", receiver.url, token=token)
    assert updated.returncode == 0, updated.stderr
    assert f"project web: webhook {receiver.url}" in updated.stdout
    [secret_line] = [item for item in updated.stdout.splitlines() if "shown once" in item]
    assert secret_line.split(": ", 1)[1].startswith("whsec_")
    shown = server.cli("project", "show", "web", "--json", token=token)
    assert json.loads(shown.stdout)["webhook_url"] == receiver.url
    assert "whsec_" not in shown.stdout
    refused = server.cli(
        "project", "update", "web", "--webhook-url", "http://169.254.169.254/", token=token
    )
    assert refused.returncode != 0
    assert "webhook_target_refused" in refused.stderr or "refused" in refused.stderr
    removed = server.cli("project", "update", "web", "--no-webhook", token=token)
    assert "webhook none" in removed.stdout


def test_a_worker_process_delivers_without_serve(tmp_path: Path, receiver: Receiver) -> None:
    # serve's own dispatcher looks once an hour: the event can only come from the worker
    server = start_server(
        tmp_path / "data",
        "--no-workers",
        environment=ALLOW | {"LOGSLUICE_WEBHOOK_POLL_INTERVAL": "3600"},
    )
    worker = None
    try:
        with server.admin() as admin:
            load_app_records(admin, "web", 200, seed=8)
            environment = server.environment() | ALLOW
            environment["LOGSLUICE_WEBHOOK_POLL_INTERVAL"] = "0.2"
            worker = subprocess.Popen(
                [LOGSLUICE, "worker", "--server", server.url, "--data-dir", str(server.data_dir)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=environment,
            )
            created = admin.post(
                "/api/v1/projects/web/download-tasks",
                json={"logstore": "app", **RANGE, "webhook_url": receiver.url,
                      "webhook_secret": SECRET},
            )  # fmt: skip
            assert created.status_code == 201, created.text
            _wait_until_delivered(admin, created.json()["id"])
            [event] = receiver.wait_for(1)
            assert event["data"]["rows"] == 200
            assert event["data"]["link"]["url"].startswith(server.url)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        stop_server(server)
