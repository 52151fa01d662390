"""Sinks in the console, in a real browser against a real server and a real S3 server (moto): the
admin adds a sink on its page (the secret is sent once and never shown back), exports into it
from the search, and the object lands in the bucket under the prefix and decodes to the rows the
API counts; the task page names the sink and the key, and its Download link is the bucket's own
presigned URL; a project-scoped user sees no Sinks page (the API's refusal) yet can name a sink
in the export form; removing a sink asks first; the page works in a 400 px window, keyboard only."""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
import zstandard
from playwright.sync_api import expect

from tests.browser.conftest import (
    Console,
    ConsoleErrors,
    assert_fits_width,
    open_page,
    sign_in_with_token,
)
from tests.s3_server import S3Bucket

FROM = "2026-03-01T00:00:00.000Z"
TO = "2026-03-01T06:00:00.000Z"
SEARCH = f"#/p/web/search?logstore=app&range=absolute&from={FROM}&to={TO}&q=level%3AERROR"
SECRET = "console-sink-secret-value"
SINKS_URL = "/api/v1/projects/web/sinks"


def register(console: Console, bucket: S3Bucket, name: str, prefix: str = "") -> None:
    body = {
        "name": name,
        "endpoint": bucket.server.endpoint,
        "bucket": bucket.name,
        "prefix": prefix,
        "access_key_id": bucket.server.access_key_id,
        "secret_access_key": SECRET,
    }
    response = console.admin.post(SINKS_URL, json=body)
    assert response.status_code == 201, response.text


def remove_all_sinks(console: Console) -> None:
    for sink in console.admin.get(SINKS_URL).json()["sinks"]:
        assert console.admin.delete(f"{SINKS_URL}/{sink['name']}").status_code == 204


def read_object(bucket: S3Bucket, key: str) -> bytes:
    client = bucket.server.client()
    body: bytes = client.get_object(Bucket=bucket.name, Key=key)["Body"].read()
    return body


def error_count(console: Console) -> int:
    body = {"query": "level:ERROR", "from": FROM, "to": TO, "limit": 0}
    response = console.admin.post("/api/v1/projects/web/logstores/app/query", json=body)
    count: int = response.json()["count"]
    return count


def type_into(page: Any, selector: str, text: str) -> None:
    page.locator(selector).focus()
    page.keyboard.type(text)


def sign_in_with_key(page: Any, console: Console, role: str) -> None:
    created = console.admin.post(
        "/api/v1/access-keys", json={"project": "web", "role": role}
    ).json()
    page.goto(f"{console.url}/console/")
    page.check("#signin-use-key")
    page.fill("#signin-key-id", created["access_key_id"])
    page.fill("#signin-key-secret", created["access_key_secret"])
    page.keyboard.press("Enter")
    page.wait_for_selector(".logstore")


@pytest.mark.slow
def test_admin_adds_a_sink_exports_into_it_and_downloads_from_it(
    page: Any, console: Console, s3_bucket: S3Bucket
) -> None:
    remove_all_sinks(console)
    sign_in_with_token(page, console.url, console.token)
    page.goto(f"{console.url}/console/#/p/web")
    page.wait_for_selector(".logstore")
    expect(page.locator("#nav-sinks")).to_be_visible()
    page.click("#nav-sinks")
    page.wait_for_selector("#no-sinks")
    assert page.locator("#nav-sinks").get_attribute("aria-current") == "page"

    # The whole form by keyboard: type each field, Enter submits.
    type_into(page, "#sink-name", "oss-main")
    type_into(page, "#sink-endpoint", s3_bucket.server.endpoint)
    type_into(page, "#sink-bucket", s3_bucket.name)
    type_into(page, "#sink-prefix", "exports/logs")
    type_into(page, "#sink-access-key-id", s3_bucket.server.access_key_id)
    type_into(page, "#sink-secret-access-key", SECRET)
    page.keyboard.press("Enter")
    row = page.locator("tr[data-sink=oss-main]")
    expect(row).to_be_visible()
    cells = row.locator("td").all_inner_texts()
    assert cells[:7] == [
        "oss-main",
        s3_bucket.server.endpoint,
        s3_bucket.name,
        "exports/logs",
        "us-east-1",
        "path",
        s3_bucket.server.access_key_id,
    ]
    # Sent once, never shown back: not in the form, not in the page, not in the API's answer.
    assert page.locator("#sink-secret-access-key").input_value() == ""
    assert SECRET not in page.content()
    assert SECRET not in console.admin.get(SINKS_URL).text

    page.goto(f"{console.url}/console/{SEARCH}")
    page.wait_for_selector("#histogram svg")
    page.click("#export-button")
    page.wait_for_selector("#estimate-rows")
    expect(page.locator("#export-sink option[value=oss-main]")).to_have_count(1)
    assert page.locator("#export-sink").input_value() == ""  # logsluice's own store by default
    page.select_option("#export-sink", "oss-main")
    type_into(page, "#export-sink-prefix", "daily")
    expect(page.locator("#export-sink-hint")).to_contain_text(
        f"s3://{s3_bucket.name}/exports/logs/daily/web/<task id>/<file>"
    )
    page.select_option("#export-format", "csv")
    page.select_option("#export-compression", "zstd")
    page.click("#export-create")

    page.wait_for_selector(".status[data-status=SUCCEEDED]", timeout=60_000)
    task_id = page.url.rsplit("/", 1)[-1]
    task = console.admin.get(f"/api/v1/projects/web/download-tasks/{task_id}").json()
    assert task["spec"]["sink"] == {"name": "oss-main", "prefix": "daily"}
    key = f"exports/logs/daily/web/{task_id}/{task['file_name']}"
    assert page.locator("#task-sink").inner_text() == "oss-main"
    expect(page.locator("#task-object-key")).to_have_text(f"s3://{s3_bucket.name}/{key}")

    content = read_object(s3_bucket, key)
    reader = zstandard.ZstdDecompressor().stream_reader(content, read_across_frames=True)
    text = reader.read().decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == error_count(console) > 0
    assert {row["level"] for row in rows} == {"ERROR"}
    assert read_object(s3_bucket, f"exports/logs/daily/web/{task_id}/manifest.json")
    page.goto(f"{console.url}/console/#/p/web/tasks")
    expect(page.locator(f"tr[data-task-id='{task_id}'] .task-sink")).to_have_text(" → oss-main")
    page.go_back()
    page.wait_for_selector("#task-sink")

    # The link the API gives for a sink is the bucket's presigned URL; the page's Download uses it.
    link = console.admin.get(f"/api/v1/projects/web/download-tasks/{task_id}/link").json()
    assert link["url"].startswith(f"{s3_bucket.server.endpoint}/{s3_bucket.name}/{key}")
    with page.expect_download() as download_info:
        page.click("[data-action=download]")
    assert download_info.value.path().read_bytes() == content
    assert download_info.value.suggested_filename == task["file_name"]


def test_a_project_scoped_user_sees_no_sinks_page_but_may_name_a_sink(
    page: Any, console: Console, console_errors: ConsoleErrors, s3_bucket: S3Bucket
) -> None:
    console_errors.allowed.append("status of 403 (Forbidden)")  # the refusal tested below
    remove_all_sinks(console)
    register(console, s3_bucket, "team-bucket", prefix="team")
    sign_in_with_key(page, console, "writer")
    assert page.locator("#nav-sinks").is_hidden()
    assert page.locator("#nav-admin").is_hidden()

    page.goto(f"{console.url}/console/#/p/web/sinks")
    refusal = page.locator("#sinks-refused")
    expect(refusal).to_be_visible()
    session = page.request.get(f"{console.url}/api/v1/session").json()
    api_error = page.request.get(f"{console.url}{SINKS_URL}")
    assert api_error.status == 403
    error = api_error.json()["error"]
    assert refusal.inner_text() == f"{error['code']}: {error['message']}"
    assert error["code"] == "permission_denied"
    assert session["project"] == "web"
    assert page.locator("#sink-form").count() == 0
    assert page.locator("tr[data-sink]").count() == 0

    # The export form lists no sinks to this identity (it may not read them), yet a writer who
    # knows a sink's name may write there; an unknown name is refused before anything runs.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{console.url}/console/{SEARCH}")
    page.wait_for_selector("#histogram svg")
    page.click("#export-button")
    page.wait_for_selector("#estimate-rows")
    options = page.locator("#export-sink option").all_inner_texts()
    assert options == ["logsluice (download from the console)", "A sink, by name…"]
    assert not [url for url in requests if "/sinks" in url]
    page.select_option("#export-sink", label="A sink, by name…")
    console_errors.allowed.append("status of 404 (Not Found)")  # the unknown name's dry run
    type_into(page, "#export-sink-name", "nowhere")
    expect(page.locator("#export-error")).to_contain_text("nowhere")
    page.fill("#export-sink-name", "team-bucket")
    expect(page.locator("#export-error")).to_be_hidden()
    page.wait_for_selector("#estimate-rows")
    page.click("#export-create")
    page.wait_for_selector(".status[data-status=SUCCEEDED]", timeout=60_000)
    task_id = page.url.rsplit("/", 1)[-1]
    task = console.admin.get(f"/api/v1/projects/web/download-tasks/{task_id}").json()
    assert task["spec"]["sink"]["name"] == "team-bucket"
    key = f"web/{task_id}/{task['file_name']}"
    # Without the right to read sinks the page shows the key under the sink's own prefix.
    expect(page.locator("#task-object-key")).to_have_text(key)
    assert read_object(s3_bucket, f"team/{key}")


def test_removing_a_sink_asks_first_and_keeps_its_files(
    page: Any, console: Console, s3_bucket: S3Bucket
) -> None:
    remove_all_sinks(console)
    register(console, s3_bucket, "old-bucket")
    register(console, s3_bucket, "kept-bucket")
    sign_in_with_token(page, console.url, console.token)
    page.goto(f"{console.url}/console/#/p/web/sinks")
    remove = page.locator("tr[data-sink=old-bucket] [data-action=remove-sink]")
    remove.focus()
    page.keyboard.press("Enter")
    expect(page.locator("dialog.modal")).to_be_visible()
    expect(page.locator("dialog.modal")).to_contain_text("sink_not_found")
    page.keyboard.press("Enter")  # the focused button is "Keep"
    expect(page.locator("dialog.modal")).to_have_count(0)
    assert page.locator("tr[data-sink=old-bucket]").count() == 1

    remove.focus()
    page.keyboard.press("Enter")
    page.locator("#confirm-action").focus()
    page.keyboard.press("Enter")
    expect(page.locator("tr[data-sink=old-bucket]")).to_have_count(0)
    expect(page.locator("tr[data-sink=kept-bucket]")).to_have_count(1)
    names = [sink["name"] for sink in console.admin.get(SINKS_URL).json()["sinks"]]
    assert names == ["kept-bucket"]


def test_a_bad_sink_is_refused_with_the_field_marked(
    page: Any, console: Console, console_errors: ConsoleErrors, s3_bucket: S3Bucket
) -> None:
    console_errors.allowed.append("status of 400 (Bad Request)")  # the refusals tested here
    console_errors.allowed.append("status of 502 (Bad Gateway)")
    remove_all_sinks(console)
    sign_in_with_token(page, console.url, console.token)
    page.goto(f"{console.url}/console/#/p/web/sinks")
    page.wait_for_selector("#no-sinks")
    page.click("#sink-add")
    expect(page.locator("#sink-error")).to_have_text("Name is required.")
    assert page.evaluate("document.activeElement.id") == "sink-name"
    page.fill("#sink-name", f"s-{uuid.uuid4().hex[:8]}")
    page.fill("#sink-endpoint", "ftp://files.example")
    page.fill("#sink-bucket", "logs")
    page.fill("#sink-access-key-id", "key")
    page.fill("#sink-secret-access-key", SECRET)
    page.click("#sink-add")
    expect(page.locator("#sink-error")).to_contain_text("invalid_input")
    assert page.locator("#sink-endpoint").get_attribute("aria-invalid") == "true"
    assert page.locator("#sink-secret-access-key").input_value() == ""
    page.fill("#sink-endpoint", "http://files.example")
    page.fill("#sink-name", "Bad Name")
    page.fill("#sink-secret-access-key", SECRET)
    page.click("#sink-add")
    expect(page.locator("#sink-error")).to_contain_text("invalid_name")
    assert page.locator("#sink-name").get_attribute("aria-invalid") == "true"
    assert page.locator("#sink-endpoint").get_attribute("aria-invalid") is None
    assert page.evaluate("document.activeElement.id") == "sink-name"
    # The bucket is tried with the key before the sink is stored: a bucket the server lacks.
    page.fill("#sink-name", "no-bucket")
    page.fill("#sink-endpoint", s3_bucket.server.endpoint)
    page.fill("#sink-bucket", f"{s3_bucket.name}-missing")
    page.fill("#sink-secret-access-key", SECRET)
    page.click("#sink-add")
    expect(page.locator("#sink-error")).to_contain_text("artifact_store_denied")
    assert page.locator("#sink-secret-access-key").input_value() == ""
    assert console.admin.get(SINKS_URL).json()["sinks"] == []


def test_the_sinks_page_in_a_400_px_window(
    browser: Any, console: Console, console_errors: ConsoleErrors, s3_bucket: S3Bucket
) -> None:
    remove_all_sinks(console)
    register(console, s3_bucket, "narrow-bucket", prefix="a/rather/long/prefix/for/a/narrow/screen")
    narrow = open_page(browser, console_errors, viewport={"width": 400, "height": 800})
    try:
        sign_in_with_token(narrow, console.url, console.token)
        narrow.goto(f"{console.url}/console/#/p/web/sinks")
        narrow.wait_for_selector("tr[data-sink=narrow-bucket]")
        assert_fits_width(
            narrow, ("#sink-name", "#sink-secret-access-key", "#sink-add", "#sinks-table")
        )
        assert re.search(r"Sinks", narrow.locator("h1").inner_text())
    finally:
        narrow.context.close()
    assert console_errors.unexpected() == []


def test_a_page_still_loading_never_overwrites_the_next(page: Any, console: Console) -> None:
    # The projects page (where signing in lands) waits for each project's logstores; hold those
    # answers back, open the Sinks page meanwhile, then let them through: the projects page must
    # not replace the Sinks page when it finally renders.
    held: list[Any] = []
    page.route("**/api/v1/projects/*/logstores", lambda route: held.append(route))
    sign_in_with_token(page, console.url, console.token)
    expect(page.locator("main .loading")).to_be_visible()
    assert held
    page.goto(f"{console.url}/console/#/p/web/sinks")
    expect(page.locator("#sinks-table")).to_be_visible()
    with page.expect_response(re.compile(r"/logstores$")):
        for route in held:
            route.continue_()
    page.unroute("**/api/v1/projects/*/logstores")
    page.wait_for_load_state("networkidle")
    page.evaluate("new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))")
    expect(page.locator("h1")).to_have_text("Sinks of web")
    expect(page.locator("#sinks-table")).to_be_visible()
    assert page.locator(".project-card").count() == 0
