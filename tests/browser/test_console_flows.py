"""The console in a real browser, against a real server: sign in → search → histogram zoom →
export (estimate first) → watch to 100 % → download a file that decodes to the expected rows; a bad
query shows its error at its position; a project-scoped user sees only its project, in the page and
through the API; CSRF and sign-out hold in the browser; a 400 px window works."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    Console,
    ConsoleErrors,
    assert_fits_width,
    open_page,
    sign_in_with_token,
)

FROM = "2026-03-01T00:00:00.000Z"
TO = "2026-03-01T06:00:00.000Z"
SEARCH = f"#/p/web/search?logstore=app&range=absolute&from={FROM}&to={TO}"


def api_count(console: Console, query: str, start: str, end: str) -> int:
    body = {"query": query, "from": start, "to": end, "limit": 0}
    response = console.admin.post("/api/v1/projects/web/logstores/app/query", json=body)
    count: int = response.json()["count"]
    return count


def shown_count(page: Any) -> int:
    return int(page.locator("#match-count").inner_text().replace(",", ""))


@pytest.mark.slow
def test_search_zoom_export_watch_and_download(page: Any, console: Console) -> None:
    sign_in_with_token(page, console.url, console.token)
    page.goto(f"{console.url}/console/{SEARCH}&q=level%3AERROR")
    page.wait_for_selector("#histogram svg")
    assert shown_count(page) == api_count(console, "level:ERROR", FROM, TO)

    bucket = console.admin.post(
        "/api/v1/projects/web/logstores/app/query",
        json={"query": "level:ERROR", "from": FROM, "to": TO, "limit": 0},
    ).json()["histogram"][3]
    bar = page.locator("#histogram g.bar").nth(3)
    assert bar.get_attribute("data-start") == bucket["start"]
    start = datetime.fromisoformat(bucket["start"].replace("Z", "+00:00"))
    bar.click()
    expect(page.locator("#range-select")).to_have_value("absolute")
    end = start + timedelta(minutes=10)  # six hours in buckets of 10 minutes
    expected = api_count(console, "level:ERROR", start.isoformat(), end.isoformat())
    assert expected == bucket["count"]
    expect(page.locator("#match-count")).to_have_text(f"{expected:,}")
    assert expected > 0

    page.click("#export-button")
    page.wait_for_selector("#estimate-rows")
    assert page.locator("#estimate-rows").inner_text() == f"{expected} rows"
    assert page.locator("#export-query").input_value() == "level:ERROR"
    page.select_option("#export-format", "jsonl")
    page.select_option("#export-compression", "gzip")
    page.click("#export-create")

    page.wait_for_selector(".status[data-status=SUCCEEDED]", timeout=60_000)
    assert page.locator("#task-live .percent").inner_text() == "100 %"
    assert page.locator("#task-dialect").inner_text() == "native"
    page.wait_for_selector("#manifest-rows")
    assert page.locator("#manifest-rows").inner_text().replace(",", "") == str(expected)
    with page.expect_download() as download_info:
        page.click("[data-action=download]")
    content = gzip.decompress(download_info.value.path().read_bytes()).decode()
    rows = [json.loads(line) for line in content.splitlines()]
    assert len(rows) == expected
    assert {row["level"] for row in rows} == {"ERROR"}
    times = {datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")) for row in rows}
    assert min(times) >= start.astimezone(UTC)
    assert max(times) < end.astimezone(UTC)


def test_a_bad_query_shows_its_error_at_its_position(
    page: Any, console: Console, console_errors: ConsoleErrors
) -> None:
    # Chromium logs the API's 400 answer itself ("Failed to load resource"); nothing else may log.
    console_errors.allowed.append("status of 400 (Bad Request)")
    sign_in_with_token(page, console.url, console.token)
    page.goto(f"{console.url}/console/{SEARCH}")
    page.wait_for_selector("#histogram svg")
    query = page.locator("#query")
    query.fill("status>=500 AND (host:web-1")
    query.press("Enter")

    error = page.locator("#query-error")
    error.wait_for()
    api_error = console.admin.post(
        "/api/v1/projects/web/logstores/app/query", json={"query": "status>=500 AND (host:web-1"}
    ).json()["error"]
    position = api_error["details"]["position"]
    assert api_error["message"] in error.inner_text()
    caret_lines = error.locator("pre.caret").inner_text().split("\n")
    assert caret_lines[1].index("^") == position
    assert query.get_attribute("aria-invalid") == "true"
    assert query.evaluate("box => box.selectionStart") == position
    assert page.locator("#export-button").is_disabled()


def test_field_names_complete_from_the_logstore_schema(page: Any, console: Console) -> None:
    sign_in_with_token(page, console.url, console.token)
    page.goto(f"{console.url}/console/{SEARCH}")
    page.wait_for_selector("#histogram svg")
    query = page.locator("#query")
    query.fill("")
    query.focus()
    page.keyboard.type("lev")
    page.wait_for_selector("#query-fields li")
    assert page.locator("#query-fields li").all_inner_texts() == ["level"]
    page.keyboard.press("Tab")
    page.keyboard.type("ERROR")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=level%3AERROR"))
    expect(page.locator("#match-count")).to_have_text(
        f"{api_count(console, 'level:ERROR', FROM, TO):,}"
    )
    assert shown_count(page) == api_count(console, "level:ERROR", FROM, TO)


def test_a_project_scoped_user_sees_only_its_project(
    page: Any, console: Console, console_errors: ConsoleErrors
) -> None:
    console_errors.allowed.append("status of 403 (Forbidden)")  # the refusals tested below
    created = console.admin.post(
        "/api/v1/access-keys", json={"project": "web", "role": "reader"}
    ).json()
    page.goto(f"{console.url}/console/")
    page.check("#signin-use-key")
    page.fill("#signin-key-id", created["access_key_id"])
    page.fill("#signin-key-secret", created["access_key_secret"])
    page.keyboard.press("Enter")
    page.wait_for_selector(".logstore")
    assert page.locator("#project-select option").all_inner_texts() == ["web"]
    assert page.locator("#nav-admin").is_hidden()

    page.goto(f"{console.url}/console/#/p/shop/tasks")
    page.wait_for_selector(".notice.error")
    assert "no access to project 'shop'" in page.locator(".notice.error").inner_text()
    session = page.request.get(f"{console.url}/api/v1/session").json()
    assert session["project"] == "web"
    assert page.request.get(f"{console.url}/api/v1/projects/shop/logstores").status == 403
    refused = page.request.post(
        f"{console.url}/api/v1/projects/shop/download-tasks",
        data={"logstore": "app", "from": FROM, "to": TO},
        headers={"X-CSRF-Token": session["csrf_token"]},
    )
    assert refused.status == 403
    assert console.admin.get("/api/v1/projects/shop/download-tasks").json()["total"] == 0


def test_csrf_is_required_and_sign_out_ends_the_session(
    page: Any, console: Console, console_errors: ConsoleErrors
) -> None:
    sign_in_with_token(page, console.url, console.token)
    csrf = page.request.get(f"{console.url}/api/v1/session").json()["csrf_token"]
    url = f"{console.url}/api/v1/projects"
    missing = page.request.post(url, data={"name": "csrf-missing"})
    forged = page.request.post(
        url, data={"name": "csrf-forged"}, headers={"X-CSRF-Token": "x" * 43}
    )
    assert (missing.status, forged.status) == (403, 403)
    assert missing.json()["error"]["code"] == "csrf_token_invalid"
    names = {project["name"] for project in console.admin.get(url).json()["projects"]}
    assert not names & {"csrf-missing", "csrf-forged"}
    assert page.request.post(url, data={"name": "csrf-ok"}, headers={"X-CSRF-Token": csrf}).ok
    assert console.admin.delete(f"{url}/csrf-ok").status_code == 204

    page.click("#sign-out")
    page.wait_for_selector("#signin-token")
    console_errors.allowed.append("401")  # the request below is refused on purpose
    assert page.request.get(url).status == 401


def test_a_400_px_window_works(
    browser: Any, console: Console, console_errors: ConsoleErrors
) -> None:
    narrow = open_page(browser, console_errors, viewport={"width": 400, "height": 800})
    try:
        sign_in_with_token(narrow, console.url, console.token)
        narrow.goto(f"{console.url}/console/{SEARCH}&q=level%3AERROR")
        narrow.wait_for_selector("#histogram svg")
        assert_fits_width(narrow, ("#query", "#search-button", "#export-button", "#range-select"))
        narrow.click("#export-button")
        narrow.wait_for_selector("#estimate-rows")
        dialog = narrow.locator("dialog.modal").bounding_box()
        assert dialog["width"] <= 400
        narrow.goto(f"{console.url}/console/#/p/web/tasks")
        narrow.wait_for_selector("table.tasks")
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 400
    finally:
        narrow.context.close()
    assert console_errors.unexpected() == []


def test_the_root_redirects_to_the_console(page: Any, console: Console) -> None:
    page.goto(console.url)
    assert re.search(r"/console/$", page.url)
    page.wait_for_selector("#signin-token")
