"""Live task views in a real browser: a running task's progress moves while the page is open and
Cancel stops it; a project with 1,000 tasks pages through them; an expired session sends the page
back to sign-in and changes nothing. The server streams records one per batch so a task runs long
enough to watch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from logsluice.adapters.sql import SqlTaskStore, create_sql_engine
from logsluice.domain.export import ExportFormat
from logsluice.domain.tasks import Task, TaskSpec
from logsluice.domain.timerange import TimeRange
from tests.acceptance.conftest import load_app_records, stop_server
from tests.browser.conftest import (
    Console,
    ConsoleErrors,
    open_page,
    sign_in_with_token,
    start_console,
)

pytestmark = pytest.mark.slow
RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T06:00:00Z"}


@pytest.fixture(scope="module")
def slow_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    running = start_console(
        tmp_path_factory.mktemp("slow-console") / "data",
        environment={
            "LOGSLUICE_TASK_BATCH_ROWS": "1",
            "LOGSLUICE_TASK_MAX_RUNNING_PER_PROJECT": "1",
            "LOGSLUICE_CONSOLE_SESSION_TTL": "600",
        },
    )
    load_app_records(running.admin, "web", 20_000, seed=9)
    yield running
    running.admin.close()
    stop_server(running.server)


def test_a_running_task_moves_live_and_cancel_stops_it(page: Any, slow_console: Console) -> None:
    console = slow_console
    task = console.admin.post(
        "/api/v1/projects/web/download-tasks", json={"logstore": "app", "name": "slow", **RANGE}
    ).json()
    sign_in_with_token(page, console.url, console.token)
    page.goto(f"{console.url}/console/#/p/web/tasks/{task['id']}")
    expect(page.locator("#task-live .status")).to_have_text("RUNNING", timeout=30_000)
    facts = page.locator("#task-live .facts-line")
    expect(facts).to_contain_text("rows/s")
    first = facts.inner_text()
    expect(facts).not_to_have_text(first)  # the rows, bytes, rate or ETA moved, pushed live
    second = facts.inner_text()
    expect(facts).not_to_have_text(second)

    page.click("[data-action=cancel]")
    expect(page.locator("#task-live .status")).to_have_text(
        re.compile("CANCELLING|CANCELLED"), timeout=10_000
    )
    expect(page.locator("#task-live .status")).to_have_text("CANCELLED", timeout=30_000)
    stored = console.admin.get(f"/api/v1/projects/web/download-tasks/{task['id']}").json()
    assert stored["status"] == "CANCELLED"
    assert 0 < stored["rows_written"] < 20_000
    expect(page.locator("[data-action=retry]")).to_be_visible()


def _queued(project: str, index: int, now: datetime) -> Task:
    spec = TaskSpec(
        name=f"bulk-{index:04d}",
        logstore="app",
        query="*",
        time_range=TimeRange(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
        format=ExportFormat.CSV,
    )
    return Task.queued(project=project, spec=spec, now=now + timedelta(milliseconds=index))


def test_a_thousand_tasks_page_by_page(page: Any, slow_console: Console) -> None:
    console = slow_console
    assert console.admin.post("/api/v1/projects", json={"name": "bulk"}).status_code == 201
    store = SqlTaskStore(
        create_sql_engine(f"sqlite:///{console.server.data_dir / 'logsluice.sqlite3'}")
    )
    now = datetime.now(UTC)
    try:
        for index in range(1000):
            store.create_task(_queued("bulk", index, now))
    finally:
        store.close()
    sign_in_with_token(page, console.url, console.token)
    page.goto(f"{console.url}/console/#/p/bulk/tasks?status=QUEUED")
    expect(page.locator("#task-total")).to_have_text(re.compile(r"^\d{3}|1,000$"))
    expect(page.locator("tr.task-row")).to_have_count(25)
    expect(page.locator("#live-state")).to_have_text("live")
    first_page = page.locator("tr.task-row .task-name a").all_inner_texts()
    assert first_page[0] == "bulk-0999"
    expect(page.locator("tr.task-row .facts-line").first).to_contain_text("in the queue")

    page.click("#page-next")
    expect(page.locator("#page-label")).to_contain_text("Page 2 of")
    expect(page.locator("tr.task-row")).to_have_count(25)
    second_page = page.locator("tr.task-row .task-name a").all_inner_texts()
    assert not set(first_page) & set(second_page)


def test_an_expired_session_goes_back_to_sign_in_and_changes_nothing(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    short = start_console(
        tmp_path_factory.mktemp("short-session") / "data",
        "--no-workers",
        environment={"LOGSLUICE_CONSOLE_SESSION_TTL": "2"},
    )
    errors = ConsoleErrors(allowed=["status of 401 (Unauthorized)"])
    page = open_page(browser, errors, viewport={"width": 1280, "height": 800})
    try:
        sign_in_with_token(page, short.url, short.token)
        csrf = page.request.get(f"{short.url}/api/v1/session").json()["csrf_token"]
        (cookie,) = [c for c in page.context.cookies() if c["name"] == "logsluice_session"]
        page.wait_for_timeout(2500)  # the session's whole lifetime passes
        refused = page.request.post(
            f"{short.url}/api/v1/projects", data={"name": "late"}, headers={"X-CSRF-Token": csrf}
        )
        assert refused.status == 401, "the browser dropped the expired cookie"
        replayed = httpx.post(
            f"{short.url}/api/v1/projects",
            json={"name": "late"},
            headers={"X-CSRF-Token": csrf, "Cookie": f"logsluice_session={cookie['value']}"},
        )
        assert replayed.status_code == 401, "the server refuses the expired session too"
        assert "expired" in replayed.json()["error"]["message"]
        assert short.admin.get("/api/v1/projects").json() == {"projects": []}
        page.click("#nav-tasks")
        page.goto(f"{short.url}/console/#/admin")
        expect(page.locator("#signin-token")).to_be_visible()
    finally:
        page.context.close()
        short.admin.close()
        stop_server(short.server)
    assert errors.unexpected() == []
