"""The Huawei CDN dialect in-process: requests signed by huaweicloudsdkcore's own ``Signer``, sent
to the app built by ``bootstrap`` on real SQLite and DuckDB files.

Round trip (create → run → list → download), list paging and filters, and every refusal in
Huawei's shapes: wrong secret, unknown or revoked key, expired date, tampered body, another
project's task, reader creating, admin key, bad parameters, missing logstore, unknown API.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from logsluice.bootstrap import Server
from tests.integration.api_checks import authorized_client
from tests.integration.tasks_support import run_queued

PATH = "/v1/cdn/statistics/export-tasks"
DOMAIN_ID = "0a1b2c3d4e5f0a1b2c3d4e5f0a1b2c3d"
START = datetime(2023, 1, 31, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
END_MS = START_MS + 2 * 3600 * 1000
RECORDS = [
    {
        "timestamp": (START + timedelta(minutes=minute)).isoformat(),
        "domain": domain,
        "url": url,
        "status": 200,
        "bytes_sent": size,
        "client_ip": ip,
        "isp": "dianxin",
        "country": "cn",
        "province": "beijing",
        "user_agent": "curl/8.0",
        "referer": "-",
    }
    for minute, domain, url, size, ip in [
        (1, "www.example.com", "/a", 100, "10.0.0.1"),
        (2, "www.example.com", "/b", 200, "10.0.0.2"),
        (70, "img.example.com", "/a", 400, "10.0.0.1"),
        (75, "www.example.com", "/a", 800, "10.0.0.3"),
    ]
]


class HuaweiClient:
    """Signs requests with the Huawei SDK's Signer and sends them through a TestClient."""

    def __init__(self, client: TestClient, access_key_id: str, secret: str) -> None:
        self.client = client
        self.access_key_id = access_key_id
        self.secret = secret

    def signed(
        self,
        method: str,
        query: list[tuple[str, Any]] | None = None,
        body: bytes = b"",
        *,
        path: str = PATH,
        signed_at: datetime | None = None,
    ) -> SdkRequest:
        moment = signed_at or datetime.now(UTC)
        request = SdkRequest(
            method=method,
            schema="http",
            host="testserver",
            resource_path=path,
            query_params=list(query or []),
            header_params={
                "Content-Type": "application/json",
                "User-Agent": "huaweicloud-usdk-python/3.0",
                "X-Domain-Id": DOMAIN_ID,
                "X-Sdk-Date": moment.strftime("%Y%m%dT%H%M%SZ"),
            },
            body=body,
        )
        credentials = GlobalCredentials(self.access_key_id, self.secret, DOMAIN_ID)
        return Signer(credentials).sign(request)

    def send(self, request: SdkRequest, body: bytes | None = None) -> Any:
        content = request.body if body is None else body
        return self.client.request(
            request.method, request.uri, headers=request.header_params, content=content or b""
        )

    def create(self, **fields: Any) -> Any:
        return self.send(self.signed("POST", body=json.dumps(fields).encode()))

    def list(self, **query: Any) -> Any:
        return self.send(self.signed("GET", list(query.items())))


@pytest.fixture
def admin(server: Server) -> TestClient:
    client = authorized_client(server)
    for project in ("web", "shop"):
        assert client.post("/api/v1/projects", json={"name": project}).status_code == 201
        response = client.post(f"/api/v1/projects/{project}/logstores", json={"name": "cdn"})
        assert response.status_code == 201
    body = "\n".join(json.dumps(record) for record in RECORDS)
    response = client.post("/api/v1/projects/web/logstores/cdn/records", content=body)
    assert response.json()["accepted"] == len(RECORDS), response.text
    return client


def key_client(server: Server, admin: TestClient, project: str | None, role: str) -> HuaweiClient:
    access_key, secret = server.container.access_keys.create(project, role)
    return HuaweiClient(TestClient(server.app), access_key.id, secret)


@pytest.fixture
def writer(server: Server, admin: TestClient) -> HuaweiClient:
    return key_client(server, admin, "web", "writer")


def assert_cdn_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["X-Request-Id"]
    error = response.json()["error"]
    assert set(error) == {"error_code", "error_msg"}
    assert error["error_code"] == code
    message: str = error["error_msg"]
    return message


def assert_gateway_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "error_msg", "request_id"}
    assert body["error_code"] == code
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_round_trip_create_run_list_and_download(server: Server, writer: HuaweiClient) -> None:
    created = writer.create(
        action="reports_detail",
        domain_name="www.example.com",
        start_time=START_MS,
        end_time=END_MS,
        interval=3600,
        language="en",
    )
    assert created.status_code == 200, created.text
    task_id = created.json()["task_id"]
    listed = writer.list().json()
    assert listed["total"] == 1
    assert listed["data"][0]["status"] == "processing"
    assert "download_link" not in listed["data"][0]
    assert run_queued(server) == 1
    task = writer.list(task_id=task_id).json()["data"][0]
    assert task["status"] == "success"
    assert task["task_name"] == f"reports_detail_{START_MS}_{END_MS}"
    assert isinstance(task["create_time"], int)
    assert task["update_time"] >= task["create_time"]
    link = task["download_link"]
    assert link.startswith("http://testserver/downloads/")
    content = writer.client.get(link.removeprefix("http://testserver")).text
    assert list(csv.reader(io.StringIO(content))) == [
        ["Time (UTC)", "Traffic (Byte)", "Requests"],
        ["2023-01-31 00:00:00", "300", "2"],
        ["2023-01-31 01:00:00", "800", "1"],
    ]


def test_the_list_pages_and_filters(server: Server, writer: HuaweiClient) -> None:
    for action in ("uv", "top_url_detail", "isp_detail"):
        response = writer.create(action=action, start_time=START_MS, end_time=END_MS)
        assert response.status_code == 200, response.text
    everything = writer.list(limit=100).json()
    assert everything["total"] == 3
    updates = [task["update_time"] for task in everything["data"]]
    assert updates == sorted(updates, reverse=True)
    page = writer.list(limit=1, offset=2).json()
    assert page == {"total": 3, "data": [everything["data"][2]]}
    by_name = writer.list(task_name=f"uv_{START_MS}_{END_MS}").json()
    assert [task["task_name"] for task in by_name["data"]] == [f"uv_{START_MS}_{END_MS}"]
    assert writer.list(limit=0).json() == {"total": 3, "data": []}
    assert writer.list(task_id="nope").json() == {"total": 0, "data": []}


def test_native_tasks_over_the_cdn_logstore_stay_out_of_the_list(
    admin: TestClient, writer: HuaweiClient
) -> None:
    native = {
        "name": "raw",
        "logstore": "cdn",
        "query": "*",
        "from": "2023-01-31T00:00:00Z",
        "to": "2023-01-31T02:00:00Z",
        "format": "csv",
    }
    assert admin.post("/api/v1/projects/web/download-tasks", json=native).status_code == 201
    assert writer.list().json() == {"total": 0, "data": []}


def test_another_projects_task_is_not_found(
    server: Server, admin: TestClient, writer: HuaweiClient
) -> None:
    task_id = writer.create(start_time=START_MS, end_time=END_MS).json()["task_id"]
    stranger = key_client(server, admin, "shop", "writer")
    assert stranger.list(task_id=task_id).json() == {"total": 0, "data": []}
    assert stranger.list().json() == {"total": 0, "data": []}


@pytest.mark.parametrize(
    "change",
    ["wrong secret", "unknown key", "expired date", "tampered body", "revoked key"],
)
def test_signature_refusals_change_nothing(
    server: Server, writer: HuaweiClient, change: str
) -> None:
    body = json.dumps({"start_time": START_MS, "end_time": END_MS}).encode()
    client = writer
    if change == "wrong secret":
        client = HuaweiClient(writer.client, writer.access_key_id, writer.secret + "x")
    if change == "unknown key":
        client = HuaweiClient(writer.client, "LSAKNOSUCHKEY0000000", writer.secret)
    signed_at = datetime.now(UTC) - timedelta(minutes=16) if change == "expired date" else None
    request = client.signed("POST", body=body, signed_at=signed_at)
    sent_body = body
    if change == "tampered body":
        sent_body = body.replace(str(END_MS).encode(), str(END_MS + 1).encode())
    if change == "revoked key":
        server.container.access_keys.revoke(writer.access_key_id)
    response = client.send(request, sent_body)
    assert_gateway_error(response, 401, "APIGW.0301")
    assert server.container.tasks.list("web")[1] == 0


def test_a_reader_lists_but_cannot_create(server: Server, admin: TestClient) -> None:
    reader = key_client(server, admin, "web", "reader")
    assert reader.list().status_code == 200
    response = reader.create(start_time=START_MS, end_time=END_MS)
    assert_cdn_error(response, 403, "CDN.0004")
    assert server.container.tasks.list("web")[1] == 0


def test_an_admin_key_is_refused_for_want_of_a_project(server: Server, admin: TestClient) -> None:
    everything = key_client(server, admin, None, "admin")
    assert_cdn_error(everything.list(), 403, "CDN.0004")


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "nope"},
        {"interval": 60},
        {"start_time": "yesterday"},
        {"stat_type": "bw"},
        {"action": "top_url_detail", "country": "cn"},
    ],
)
def test_bad_parameters_are_cdn_0001(
    server: Server, writer: HuaweiClient, fields: dict[str, Any]
) -> None:
    response = writer.create(**({"start_time": START_MS, "end_time": END_MS} | fields))
    assert_cdn_error(response, 400, "CDN.0001")
    assert server.container.tasks.list("web")[1] == 0


def test_a_body_that_is_not_json_is_cdn_0001(writer: HuaweiClient) -> None:
    response = writer.send(writer.signed("POST", body=b"[1, 2"))
    assert_cdn_error(response, 400, "CDN.0001")


@pytest.mark.parametrize("query", [{"limit": 101}, {"limit": -1}, {"offset": -1}, {"limit": "x"}])
def test_list_bounds_are_cdn_0001(writer: HuaweiClient, query: dict[str, Any]) -> None:
    assert_cdn_error(writer.list(**query), 400, "CDN.0001")


def test_a_project_without_the_cdn_logstore_is_cdn_0003(server: Server, admin: TestClient) -> None:
    assert admin.post("/api/v1/projects", json={"name": "empty"}).status_code == 201
    client = key_client(server, admin, "empty", "writer")
    message = assert_cdn_error(client.create(start_time=START_MS, end_time=END_MS), 404, "CDN.0003")
    assert "cdn" in message


def test_unknown_apis_answer_like_the_gateway(writer: HuaweiClient) -> None:
    assert_gateway_error(writer.send(writer.signed("DELETE")), 404, "APIGW.0101")
    other = writer.send(writer.signed("GET", path="/v1/cdn/statistics/nothing"))
    assert_gateway_error(other, 404, "APIGW.0101")
