"""Creating a task answers at once: a slow estimate is finished after the task is stored, a bad
query is still refused up front, and Parquet says which compression it ignores."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import RANGE, TASKS_URL, generate_records, load

SQL = "status>=500 | select host, count(*) as n group by host"


@pytest.fixture
def no_wait_client(make_server: ServerFactory) -> Any:
    """A server whose creates never wait for the estimate."""
    with authorized_client(make_server(task_estimate_wait=0, workers=0)) as client:
        load(client, generate_records(500))
        yield client


def _settled_estimate(client: TestClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        estimate: dict[str, Any] = client.get(f"{TASKS_URL}/{task_id}").json()["estimate"]
        if estimate["status"] != "pending":
            return estimate
        time.sleep(0.05)
    raise AssertionError("the estimate stayed pending")


def test_an_estimate_not_ready_at_once_is_stored_when_known(no_wait_client: TestClient) -> None:
    body = {"logstore": "app", **RANGE, "query": SQL, "format": "csv"}
    created = no_wait_client.post(TASKS_URL, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["estimate"]["status"] in ("pending", "done")
    estimate = _settled_estimate(no_wait_client, created.json()["id"])
    dry_run = no_wait_client.post(TASKS_URL, params={"dry_run": "true"}, json=body).json()
    assert estimate == {**dry_run["estimate"], "status": "done"}
    assert estimate["rows"] == 3  # one row per host


@pytest.mark.parametrize(
    "query", ["nosuchfield:1", "* | select nosuchcolumn, count(*) as n group by nosuchcolumn"]
)
def test_a_query_that_does_not_fit_the_schema_is_refused_before_storing(
    no_wait_client: TestClient, query: str
) -> None:
    response = no_wait_client.post(
        TASKS_URL, json={"logstore": "app", **RANGE, "query": query, "format": "csv"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_query"
    assert no_wait_client.get(TASKS_URL).json()["total"] == 0


def test_parquet_says_it_ignores_an_outer_compression(no_wait_client: TestClient) -> None:
    body = {"logstore": "app", **RANGE, "format": "parquet", "compression": "gzip"}
    dry_run = no_wait_client.post(TASKS_URL, params={"dry_run": "true"}, json=body).json()
    assert "'gzip' is ignored for Parquet" in dry_run["warnings"][0]
    created = no_wait_client.post(TASKS_URL, json=body).json()
    assert created["warnings"] == dry_run["warnings"]
    assert created["file_name"] is None
    assert no_wait_client.get(f"{TASKS_URL}/{created['id']}").json()["warnings"] == []
    plain = no_wait_client.post(TASKS_URL, json={**body, "compression": "none"}).json()
    assert plain["warnings"] == []
