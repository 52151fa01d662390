"""``GET /metrics``: real ingests, queries and tasks, then the counters read back with Prometheus's
own parser must agree with what ran; reading them needs the admin or the metrics token."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import structlog
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from logsluice.bootstrap import Server, build_server
from logsluice.metrics import Metrics
from logsluice.observability import configure_logging
from logsluice.settings import load_settings
from tests.integration.api_checks import assert_error

pytestmark = pytest.mark.timeout(120)
METRICS_TOKEN = "scrape-only-token-0123456789"
STORE = "/api/v1/projects/web/logstores/app"
TASKS = "/api/v1/projects/web/download-tasks"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def metered(tmp_path: Path) -> Iterator[tuple[Server, Metrics]]:
    """A server whose log events reach its metrics, as ``logsluice serve`` wires it."""
    metrics = Metrics()
    configure_logging("warning", metrics)
    settings = load_settings(
        data_dir=tmp_path / "data", disk_reserve_bytes=0, metrics_token=METRICS_TOKEN
    )
    server = build_server(settings, metrics=metrics)
    yield server, metrics
    server.container.close()
    structlog.reset_defaults()


def _client(server: Server, token: str | None) -> TestClient:
    client = TestClient(server.app)
    if token is not None:
        client.headers["Authorization"] = f"Bearer {token}"
    return client


def _samples(client: TestClient) -> Samples:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _wait_succeeded(client: TestClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"{TASKS}/{task_id}").json()
        if task["status"] == "SUCCEEDED":
            return task
        assert task["status"] in {"QUEUED", "RUNNING"}, task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish")


def _load(admin: TestClient) -> None:
    assert admin.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    assert admin.post(f"{STORE.rsplit('/', 1)[0]}", json={"name": "app"}).status_code == 201
    records = [
        orjson.dumps({"timestamp": 1772409600 + second, "status": 200 + second % 3})
        for second in range(100)
    ]
    body = b"\n".join([*records, b"not json", b"[1]", b'"text"'])
    result = admin.post(f"{STORE}/records", content=body).json()
    assert (result["accepted"], result["rejected"]) == (100, 3)


def test_the_counters_agree_with_what_ran(metered: tuple[Server, Metrics]) -> None:
    server, _ = metered
    assert server.admin_token is not None
    with _client(server, server.admin_token.value) as admin:
        _load(admin)
        window = {"from": 1772409600, "to": 1772409700}
        for _ in range(2):
            assert admin.post(f"{STORE}/query", json=window).status_code == 200
        bad = admin.post(f"{STORE}/query", json={**window, "query": "status:("})
        assert bad.status_code == 400
        finished = []
        for name, limit in (("all", None), ("some", 40)):
            spec = {"name": name, "logstore": "app", **window, "limit": limit}
            created = admin.post(TASKS, json=spec)
            assert created.status_code == 201, created.text
            finished.append(_wait_succeeded(admin, created.json()["id"]))
        samples = _samples(admin)

    assert _value(samples, "logsluice_ingest_records_total", outcome="accepted") == 100
    assert _value(samples, "logsluice_ingest_records_total", outcome="rejected") == 3
    assert _value(samples, "logsluice_query_duration_seconds_count", outcome="ok") == 2
    assert _value(samples, "logsluice_query_duration_seconds_count", outcome="error") == 1
    assert _value(samples, "logsluice_tasks_finished_total", status="succeeded") == 2
    assert _value(samples, "logsluice_tasks_finished_total", status="failed") == 0
    assert _value(samples, "logsluice_export_rows_total") == sum(
        task["rows_written"] for task in finished
    )
    assert _value(samples, "logsluice_export_rows_total") == 140
    assert _value(samples, "logsluice_export_bytes_total") == sum(
        task["bytes_written"] for task in finished
    )
    assert _value(samples, "logsluice_export_slices_total") == sum(
        task["slices_done"] for task in finished
    )
    assert _value(samples, "logsluice_task_queue_wait_seconds_count") == 2
    assert _value(samples, "logsluice_export_rows_per_second_count") == 2
    assert _value(samples, "logsluice_tasks", project="web", status="SUCCEEDED") == 2
    assert _value(samples, "logsluice_tasks", project="web", status="QUEUED") == 0
    assert _value(samples, "logsluice_slice_retries_total") == 0
    assert _value(samples, "logsluice_task_lease_lapses_total") == 0
    assert _value(samples, "logsluice_webhook_deliveries_total", outcome="delivered") == 0
    query_route = "/api/v1/projects/{project}/logstores/{logstore}/query"
    requests = "logsluice_http_requests_total"
    assert _value(samples, requests, method="POST", route=query_route, status="200") == 2
    assert _value(samples, requests, method="POST", route=query_route, status="400") == 1
    routes = {dict(labels).get("route", "") for name, labels in samples if name == requests}
    assert not [route for route in routes if "web" in route or "app" in route], routes


def test_reading_metrics_needs_the_admin_or_the_metrics_token(
    metered: tuple[Server, Metrics],
) -> None:
    server, _ = metered
    assert server.admin_token is not None
    with _client(server, server.admin_token.value) as admin:
        assert admin.post("/api/v1/projects", json={"name": "web"}).status_code == 201
        key = admin.post("/api/v1/access-keys", json={"role": "reader", "project": "web"}).json()
        assert admin.get("/metrics").status_code == 200
    with _client(server, None) as anonymous:
        assert_error(anonymous.get("/metrics"), 401, "unauthenticated")
        wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert_error(wrong, 401, "unauthenticated")
        assert _samples(anonymous)
    reader_token = f"{key['access_key_id']}:{key['access_key_secret']}"
    with _client(server, reader_token) as reader:
        assert_error(reader.get("/metrics"), 403, "permission_denied")
        # the metrics token reads metrics and nothing else
        scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        assert_error(reader.get("/api/v1/projects", headers=scraper), 401, "unauthenticated")


@pytest.mark.parametrize(("access", "status"), [("open", 200), ("off", 404)])
def test_metrics_may_be_open_or_off(tmp_path: Path, access: str, status: int) -> None:
    settings = load_settings(data_dir=tmp_path / "data", disk_reserve_bytes=0, metrics=access)
    server = build_server(settings)
    try:
        with _client(server, None) as anonymous:
            assert anonymous.get("/metrics").status_code == status
    finally:
        server.container.close()


def test_each_request_carries_a_request_id_in_and_out(metered: tuple[Server, Metrics]) -> None:
    server, _ = metered
    with _client(server, None) as client:
        given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
        assert given.headers["x-request-id"] == "abc-123"
        made = client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
        assert made.headers["x-request-id"] != "bad id\twith spaces"
        assert len(made.headers["x-request-id"]) == 32
        assert client.get("/nowhere").headers["x-request-id"]


def test_log_events_of_a_request_carry_its_request_id_and_the_task_id(
    metered: tuple[Server, Metrics], capsys: pytest.CaptureFixture[str]
) -> None:
    server, metrics = metered
    assert server.admin_token is not None
    configure_logging("debug", metrics)
    with _client(server, server.admin_token.value) as admin:
        assert admin.post("/api/v1/projects", json={"name": "web"}).status_code == 201
        assert admin.post("/api/v1/projects/web/logstores", json={"name": "app"}).status_code == 201
        spec = {"logstore": "app", "from": 1772409600, "to": 1772409700}
        created = admin.post(TASKS, json=spec, headers={"X-Request-Id": "req-42"})
        assert created.headers["x-request-id"] == "req-42"
        task_id = created.json()["id"]
        _wait_succeeded(admin, task_id)
    events = [orjson.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    of_request = [event for event in events if event.get("request_id") == "req-42"]
    assert {"task.created", "http.request"} <= {event["event"] for event in of_request}
    created_event = next(event for event in of_request if event["event"] == "task.created")
    assert created_event["task_id"] == task_id
    assert created_event["project"] == "web"
    ran = {event["event"] for event in events if event.get("task_id") == task_id}
    assert {"task.created", "task.started", "task.succeeded"} <= ran


def test_a_worker_process_serves_its_own_metrics_on_its_port() -> None:
    """What `logsluice worker --metrics-port` starts."""
    metrics = Metrics()
    metrics.observe_event(None, "info", {"event": "task.lease_lapsed"})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = metrics.serve("127.0.0.1", port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        stop()
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert values["logsluice_task_lease_lapses_total"] == 1
    assert "process_resident_memory_bytes" in values
