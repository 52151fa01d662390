"""A task's webhook state in a real browser: the task list and the task page show a delivered
webhook, and a failing one with its attempts, the receiver's last answer and its error."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.acceptance.conftest import load_app_records, stop_server
from tests.browser.conftest import Console, sign_in_with_token, start_console

pytestmark = pytest.mark.slow
RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T06:00:00Z"}


@pytest.fixture(scope="module")
def receiver_port() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            failing = self.path.startswith("/fail")
            self.send_response(500 if failing else 204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def hook_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    running = start_console(
        tmp_path_factory.mktemp("hook-console") / "data",
        environment={"LOGSLUICE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32"},
    )
    load_app_records(running.admin, "web", 200, seed=2)
    yield running
    running.admin.close()
    stop_server(running.server)


def _create(console: Console, name: str, url: str) -> str:
    response = console.admin.post(
        "/api/v1/projects/web/download-tasks",
        json={"logstore": "app", "name": name, **RANGE, "webhook_url": url},
    )
    assert response.status_code == 201, response.text
    task_id: str = response.json()["id"]
    return task_id


def _wait_for_state(console: Console, task_id: str, state: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task = console.admin.get(f"/api/v1/projects/web/download-tasks/{task_id}").json()
        if task["webhook"]["state"] == state:
            return
        time.sleep(0.2)
    raise AssertionError(f"the webhook of {task_id} never became {state}")


def test_the_console_shows_the_webhook_state(
    page: Any, hook_console: Console, receiver_port: int
) -> None:
    console = hook_console
    delivered = _create(console, "told", f"http://127.0.0.1:{receiver_port}/ok")
    failing = _create(console, "refused", f"http://127.0.0.1:{receiver_port}/fail")
    _wait_for_state(console, delivered, "delivered")
    _wait_for_state(console, failing, "retrying")

    sign_in_with_token(page, console.url, console.token)
    page.goto(f"{console.url}/console/#/p/web/tasks")
    page.wait_for_selector(f"tr[data-task-id='{delivered}'] .webhook")  # a loaded machine is slow
    row = page.locator(f"tr[data-task-id='{delivered}'] .webhook")
    expect(row).to_have_attribute("data-webhook-state", "delivered")
    expect(row).to_contain_text("Webhook: delivered")
    expect(page.locator(f"tr[data-task-id='{failing}'] .webhook")).to_contain_text("retrying")

    page.goto(f"{console.url}/console/#/p/web/tasks/{failing}")
    page.wait_for_selector("#task-live .webhook")
    shown = page.locator("#task-live .webhook")
    expect(shown).to_have_attribute("data-webhook-state", "retrying")
    expect(shown).to_contain_text("last answer 500")
    expect(shown.locator(".webhook-error")).to_contain_text("the webhook answered 500")
