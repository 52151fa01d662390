"""Huawei's own SDK (``huaweicloudsdkcdn`` ``CdnClient``) against a real ``logsluice serve``.

The client is built as reference §4.2 says (``GlobalCredentials`` with a domain id, an ``http://``
endpoint, no region), with an access key created through the native API. Round trip: create →
poll the list until ``success`` → download the ``download_link`` → its rows equal the native
query of the same statistics. Huawei has no get or delete operation, so "not found" is a list
filtered by ``task_id`` that comes back empty. Refusals (wrong secret, unknown key, expired date,
tampered body, another project's task) each give Huawei's status and code and change nothing.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from huaweicloudsdkcdn.v2 import (
    CdnClient,
    CreateExportTaskRequest,
    ExportTaskVo,
    ListExportTasksRequest,
)
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from tests.acceptance.conftest import (
    RunningServer,
    local_lake_settings,
    start_server,
    stop_server,
)

DOMAIN_ID = "0a1b2c3d4e5f0a1b2c3d4e5f0a1b2c3d"
PATH = "/v1/cdn/statistics/export-tasks"
START = datetime(2023, 1, 31, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
END_MS = START_MS + 3 * 3600 * 1000
POLL_SECONDS = 30

pytestmark = pytest.mark.slow


def _records() -> list[dict[str, Any]]:
    rows = []
    for index in range(60):
        rows.append(
            {
                "timestamp": (START + timedelta(minutes=3 * index)).isoformat(),
                "domain": ("www.example.com", "img.example.com")[index % 2],
                "url": f"/file-{index % 7}.jpg?v={index % 3}",
                "status": 200,
                "bytes_sent": 100 * (index % 5 + 1),
                "client_ip": f"10.0.0.{index % 11}",
                "isp": ("dianxin", "yidong", "liantong")[index % 3],
                "country": "cn" if index % 4 else "us",
                "province": "beijing",
                "user_agent": "curl/8.0",
                "referer": "-",
            }
        )
    return rows


class Deployment:
    """A running server with projects ``web`` and ``shop`` and one writer key for each."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        token = (server.data_dir / "admin-token").read_text().strip()
        self.admin = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.keys: dict[str, tuple[str, str]] = {}
        for project in ("web", "shop"):
            self._must(self.admin.post("/api/v1/projects", json={"name": project}))
            self._must(
                self.admin.post(f"/api/v1/projects/{project}/logstores", json={"name": "cdn"})
            )
            self.keys[project] = self.create_key(project, "writer")
        body = "\n".join(json.dumps(record) for record in _records())
        self._must(self.admin.post("/api/v1/projects/web/logstores/cdn/records", content=body))

    @staticmethod
    def _must(response: httpx.Response) -> httpx.Response:
        assert response.status_code < 300, response.text
        return response

    def create_key(self, project: str, role: str) -> tuple[str, str]:
        created = self._must(
            self.admin.post("/api/v1/access-keys", json={"project": project, "role": role})
        ).json()
        return created["access_key_id"], created["access_key_secret"]

    def client(self, access_key_id: str, secret: str) -> CdnClient:
        return (
            CdnClient.new_builder()
            .with_credentials(GlobalCredentials(access_key_id, secret, DOMAIN_ID))
            .with_endpoints([self.server.url])
            .build()
        )

    def task_count(self, project: str) -> int:
        response = self._must(self.admin.get(f"/api/v1/projects/{project}/download-tasks"))
        total: int = response.json()["total"]
        return total


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("huawei") / "data"
    server = start_server(data_dir, environment=local_lake_settings(data_dir))  # once on a lake
    try:
        yield Deployment(server)
    finally:
        stop_server(server)


def _poll_until_done(client: CdnClient, task_id: str) -> Any:
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        listed = client.list_export_tasks(ListExportTasksRequest(task_id=task_id))
        assert listed.total == 1
        task = listed.data[0]
        if task.status != "processing":
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish in {POLL_SECONDS} s")


def _create(client: CdnClient, **fields: Any) -> str:
    body = ExportTaskVo(start_time=START_MS, end_time=END_MS, **fields)
    client.create_export_task(CreateExportTaskRequest(body=body))
    name = f"{fields.get('action', 'reports_detail')}_{START_MS}_{END_MS}"
    listed = client.list_export_tasks(ListExportTasksRequest(task_name=name, limit=1))
    task_id: str = listed.data[0].task_id
    return task_id


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "reports_detail", "interval": 3600, "group_by": "domain", "stat_type": "flux"},
        {"action": "top_url_detail", "service_area": "global", "language": "en"},
        {"action": "isp_detail", "interval": 300},
        {"action": "uv", "domain_name": "www.example.com"},
    ],
)
def test_round_trip_rows_equal_the_native_query(
    deployment: Deployment, fields: dict[str, Any]
) -> None:
    client = deployment.client(*deployment.keys["web"])
    task_id = _create(client, **fields)
    task = _poll_until_done(client, task_id)
    assert task.status == "success"
    assert isinstance(task.create_time, int)
    assert task.update_time >= task.create_time
    file_rows = list(csv.reader(io.StringIO(httpx.get(task.download_link, timeout=30).text)))
    spec = deployment.admin.get(f"/api/v1/projects/web/download-tasks/{task_id}").json()
    native = deployment.admin.post(
        "/api/v1/projects/web/logstores/cdn/query",
        json={
            "query": spec["spec"]["query"],
            "from": START_MS // 1000,
            "to": END_MS // 1000,
            "limit": 10_000,
        },
    ).json()
    assert file_rows[0] == [column["name"] for column in native["columns"]]
    expected = [["" if value is None else str(value) for value in row] for row in native["rows"]]
    assert file_rows[1:] == expected
    assert len(expected) > 1


def test_the_list_pages_newest_update_first(deployment: Deployment) -> None:
    client = deployment.client(*deployment.keys["web"])
    _create(client, action="top_ip_detail")
    everything = client.list_export_tasks(ListExportTasksRequest(limit=100, offset=0))
    assert everything.total >= 2
    updates = [task.update_time for task in everything.data]
    assert updates == sorted(updates, reverse=True)
    second = client.list_export_tasks(ListExportTasksRequest(limit=1, offset=1))
    assert [task.task_id for task in second.data] == [everything.data[1].task_id]
    bare = client.list_export_tasks(ListExportTasksRequest())
    assert bare.total == everything.total
    assert len(bare.data) == min(10, everything.total)


def _refused(call: Any) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as raised:
        call()
    return raised.value


def test_wrong_secret_and_unknown_key_are_apigw_0301(deployment: Deployment) -> None:
    access_key_id, secret = deployment.keys["web"]
    before = deployment.task_count("web")
    for client in (
        deployment.client(access_key_id, secret + "x"),
        deployment.client("LSAKNOSUCHKEY0000000", secret),
    ):
        request = CreateExportTaskRequest(body=ExportTaskVo(start_time=START_MS, end_time=END_MS))
        error = _refused(lambda c=client, r=request: c.create_export_task(r))
        assert (error.status_code, error.error_code) == (401, "APIGW.0301")
        assert error.request_id
    assert deployment.task_count("web") == before


def _signed(deployment: Deployment, body: bytes, signed_at: datetime) -> SdkRequest:
    access_key_id, secret = deployment.keys["web"]
    request = SdkRequest(
        method="POST",
        schema="http",
        host=deployment.server.url.removeprefix("http://"),
        resource_path=PATH,
        query_params=[],
        header_params={
            "Content-Type": "application/json",
            "User-Agent": "huaweicloud-usdk-python/3.0",
            "X-Domain-Id": DOMAIN_ID,
            "X-Sdk-Date": signed_at.strftime("%Y%m%dT%H%M%SZ"),
        },
        body=body,
    )
    return Signer(GlobalCredentials(access_key_id, secret, DOMAIN_ID)).sign(request)


@pytest.mark.parametrize("change", ["expired date", "tampered body"])
def test_expired_date_and_tampered_body_are_apigw_0301(deployment: Deployment, change: str) -> None:
    body = json.dumps({"start_time": START_MS, "end_time": END_MS}).encode()
    signed_at = datetime.now(UTC) - (
        timedelta(minutes=20) if change == "expired date" else timedelta(0)
    )
    request = _signed(deployment, body, signed_at)
    sent = body.replace(b"start_time", b"start_timE") if change == "tampered body" else body
    before = deployment.task_count("web")
    response = httpx.post(
        deployment.server.url + PATH, headers=request.header_params, content=sent, timeout=30
    )
    assert response.status_code == 401, response.text
    assert response.json()["error_code"] == "APIGW.0301"
    assert deployment.task_count("web") == before


def test_another_projects_task_is_not_found(deployment: Deployment) -> None:
    web = deployment.client(*deployment.keys["web"])
    task_id = _create(web, action="top_referer_detail")
    shop = deployment.client(*deployment.keys["shop"])
    listed = shop.list_export_tasks(ListExportTasksRequest(task_id=task_id))
    assert (listed.total, listed.data) == (0, [])


def test_bad_parameters_are_cdn_0001_and_a_reader_cannot_create(deployment: Deployment) -> None:
    writer = deployment.client(*deployment.keys["web"])
    bad = ExportTaskVo(action="top_url_detail", country="cn", start_time=START_MS, end_time=END_MS)
    error = _refused(lambda: writer.create_export_task(CreateExportTaskRequest(body=bad)))
    assert (error.status_code, error.error_code) == (400, "CDN.0001")
    reader = deployment.client(*deployment.create_key("web", "reader"))
    good = ExportTaskVo(start_time=START_MS, end_time=END_MS)
    error = _refused(lambda: reader.create_export_task(CreateExportTaskRequest(body=good)))
    assert (error.status_code, error.error_code) == (403, "CDN.0004")
    too_many = _refused(lambda: reader.list_export_tasks(ListExportTasksRequest(limit=101)))
    assert (too_many.status_code, too_many.error_code) == (400, "CDN.0001")
