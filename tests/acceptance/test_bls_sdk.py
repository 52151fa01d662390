"""Baidu's ``bce-python-sdk`` transport and signer against a real ``logsluice serve`` process,
plus the Go SDK's exact requests over real HTTP.

``bce-python-sdk`` has no download-task methods, so the test drives ``BlsClient._send_request``
(the helper its public BLS methods use) exactly as the reference's §4.3 shows; the Go SDK is not on
a package registry, so its requests — every key present with zero values, listed signed headers,
``Content-MD5`` — are written out by hand. Keys come from ``logsluice key create``. Round trip:
create, poll, link, download, compare with the native query, delete, the SDK's not-found error;
then wrong secret, unknown key, expired date, tampered body and another project's task, each with
Baidu's status and code and nothing changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.exception import BceHttpClientError
from baidubce.http import http_methods
from baidubce.retry.retry_policy import NoRetryPolicy
from baidubce.services.bls.bls_client import BlsClient

from tests.acceptance.conftest import (
    RunningServer,
    create_access_key,
    load_app_records,
    local_lake_settings,
    start_server,
    stop_server,
)
from tests.integration.tasks_support import canonical, read_rows
from tests.integration.test_bls_api import BASE, GO_TYPES, Key, go_create_body, go_headers

# Starts a real server process (seconds).
pytestmark = pytest.mark.slow

RANGE = {"queryStartTime": "2026-03-01T00:00:00Z", "queryEndTime": "2026-03-01T06:00:00Z"}
POLL_SECONDS = 60


@dataclass
class Deployment:
    server: RunningServer
    admin: httpx.Client
    web_writer: Key
    other_writer: Key

    @property
    def host(self) -> str:
        return self.server.url.removeprefix("http://")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("bls-serve") / "data"
    server = start_server(data_dir, environment=local_lake_settings(data_dir))  # once on a lake
    token = server.read_printed_line()
    admin = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    try:
        load_app_records(admin, "web", 400, seed=3)
        load_app_records(admin, "other", 10, seed=3)
        yield Deployment(
            server=server,
            admin=admin,
            web_writer=Key(*create_access_key(server, token, "web", "writer")),
            other_writer=Key(*create_access_key(server, token, "other", "writer")),
        )
    finally:
        admin.close()
        stop_server(server)


def bls_client(deployment: Deployment, key: Key) -> BlsClient:
    """The reference's §4.3 client: the SDK's transport and signer, retries off."""
    return BlsClient(
        BceClientConfiguration(
            credentials=BceCredentials(key.access_key_id, key.secret),
            endpoint=deployment.server.url,
            retry_policy=NoRetryPolicy(),
        )
    )


def sdk_create(client: BlsClient, **fields: Any) -> str:
    body = {"name": "t1", "project": "web", "logStoreName": "app", "logStreamName": "",
            "query": "match *", **RANGE, "format": "json", "limit": 100, "order": "desc",
            "fileDir": "", **fields}  # fmt: skip
    created = sdk_send(client, http_methods.POST, "/download", body)
    uuid: str = created.result.uuid
    return uuid


def sdk_send(client: BlsClient, method: bytes, path: str, body: Any = None) -> Any:
    """Send through the SDK's own transport and signer, as its BLS methods do."""
    payload = json.dumps(body) if body is not None else None
    return client._send_request(method, path.encode(), version=b"/v2", body=payload)


def sdk_describe(client: BlsClient, uuid: str) -> Any:
    return sdk_send(client, http_methods.GET, f"/download/{uuid}").result.task


def sdk_error(call: Any) -> Any:
    """Run ``call``; return the BceServerError the SDK raised."""
    with pytest.raises(BceHttpClientError) as raised:
        call()
    return raised.value.last_error


def wait_until_finished(client: BlsClient, uuid: str) -> Any:
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        task = sdk_describe(client, uuid)
        if task.state not in ("WAITING", "RUNNING"):
            return task
        time.sleep(0.2)
    raise AssertionError("the download task did not finish in time")


def native_rows(
    deployment: Deployment, query: str, limit: int
) -> tuple[list[str], list[list[str]]]:
    body = {"query": query, "from": RANGE["queryStartTime"], "to": RANGE["queryEndTime"],
            "order": "desc", "limit": limit}  # fmt: skip
    response = deployment.admin.post("/api/v1/projects/web/logstores/app/query", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    columns = [column["name"] for column in answer["columns"]]
    return columns, [[canonical(value) for value in row] for row in answer["rows"]]


def native_task_count(deployment: Deployment, project: str = "web") -> int:
    response = deployment.admin.get(f"/api/v1/projects/{project}/download-tasks")
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def test_round_trip_with_the_python_sdk(deployment: Deployment) -> None:
    client = bls_client(deployment, deployment.web_writer)
    uuid = sdk_create(client, query="match status>=500", limit=50)

    task = wait_until_finished(client, uuid)
    assert (task.state, task.project, task.log_store_name) == ("SUCCESS", "web", "app")
    link = sdk_send(client, http_methods.GET, f"/download/link/{uuid}").result
    assert link.file_name == task.file_name
    download = httpx.get(link.link, timeout=30)
    assert download.status_code == 200
    assert read_rows(download.content, "jsonl") == native_rows(deployment, "status>=500", 50)
    assert task.written_rows == len(download.content.splitlines())

    listing = {"project": "web", "pageNo": 1, "pageSize": 10}
    page = sdk_send(client, http_methods.POST, "/download/list", listing)
    assert uuid in [listed.uuid for listed in page.result.tasks]
    sdk_send(client, http_methods.DELETE, f"/download/{uuid}")

    error = sdk_error(lambda: sdk_describe(client, uuid))
    assert (error.status_code, error.code) == (404, "DownloadTaskNotFound")
    assert error.request_id
    assert httpx.get(link.link, timeout=30).status_code in (404, 410)


def test_the_go_sdks_exact_requests(deployment: Deployment) -> None:
    http = httpx.Client(base_url=deployment.server.url, timeout=30)

    def send(method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
        headers = go_headers(deployment.web_writer, method, path, body, host=deployment.host)
        response = http.request(method, path, content=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    created = send("POST", BASE, go_create_body(project="web", **RANGE))
    uuid = created["result"]["uuid"]
    assert created == {"success": True, "code": "OK", "message": "", "result": {"uuid": uuid}}
    task = send("GET", f"{BASE}/{uuid}")["result"]["task"]
    assert {name: type(value) for name, value in task.items()} == GO_TYPES
    zero_list = {"project": "web", "logStoreName": "app", "order": "", "orderBy": "",
                 "pageNo": 0, "pageSize": 0}  # fmt: skip
    page = send("POST", f"{BASE}/list", zero_list)["result"]
    assert (page["pageNo"], page["pageSize"], page["order"], page["orderBy"]) == (
        1, 10, "desc", "createdTime",
    )  # fmt: skip
    assert uuid in [listed["uuid"] for listed in page["tasks"]]
    assert send("DELETE", f"{BASE}/{uuid}")["code"] == "success"
    gone = http.get(f"{BASE}/{uuid}", headers=go_headers(
        deployment.web_writer, "GET", f"{BASE}/{uuid}", b"", host=deployment.host))  # fmt: skip
    assert (gone.status_code, gone.json()["code"]) == (404, "DownloadTaskNotFound")
    http.close()


def test_refusals_carry_baidus_status_and_code_and_change_nothing(
    deployment: Deployment,
) -> None:
    writer = bls_client(deployment, deployment.web_writer)
    kept = sdk_create(writer, name="kept")
    before = (native_task_count(deployment), native_task_count(deployment, "other"))

    wrong = bls_client(deployment, Key(deployment.web_writer.access_key_id, "x" * 40))
    error = sdk_error(lambda: sdk_create(wrong))
    assert (error.status_code, error.code) == (400, "SignatureDoesNotMatch")
    unknown = bls_client(deployment, Key("LSAKNOSUCHKEY0000000", "x" * 40))
    error = sdk_error(lambda: sdk_create(unknown))
    assert (error.status_code, error.code) == (403, "InvalidAccessKeyId")
    other = bls_client(deployment, deployment.other_writer)
    for call in (
        lambda: sdk_describe(other, kept),
        lambda: sdk_send(other, http_methods.DELETE, f"/download/{kept}"),
        lambda: sdk_send(other, http_methods.GET, f"/download/link/{kept}"),
    ):
        error = sdk_error(call)
        assert (error.status_code, error.code) == (404, "DownloadTaskNotFound")

    body = json.dumps(go_create_body(project="web", **RANGE), separators=(",", ":")).encode()
    stale = go_headers(deployment.web_writer, "POST", BASE, body, host=deployment.host,
                       signed_at=datetime.now(UTC) - timedelta(hours=1))  # fmt: skip
    response = httpx.post(f"{deployment.server.url}{BASE}", content=body, headers=stale)
    assert (response.status_code, response.json()["code"]) == (400, "RequestExpired")
    signed = go_headers(deployment.web_writer, "POST", BASE, body, host=deployment.host)
    tampered = body.replace(b'"limit":0', b'"limit":1')
    response = httpx.post(f"{deployment.server.url}{BASE}", content=tampered, headers=signed)
    assert (response.status_code, response.json()["code"]) == (400, "BadDigest")

    assert (native_task_count(deployment), native_task_count(deployment, "other")) == before
    assert sdk_describe(writer, kept).name == "kept"
