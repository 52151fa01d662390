"""Every key and JSON type of every vendor-dialect response, walked against tables transcribed
from the wire contract (``vendor-apis.md`` §1.3–1.4 BLS, §2.3–2.4 SLS, §3.3–3.4 Huawei).

Each dialect's answers are collected over a task's whole life — queued, succeeded, failed (a
cancelled task) — plus its list, its link, its delete and its errors, with requests signed the way
the vendors' SDKs sign them. Every object must carry exactly the keys of its table, each with the
JSON type the SDK decodes: a Go ``int64`` is a JSON integer (never a float, a string or a bool), a
time the SDK reads as a string is a string. Values are other tests' business.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from alibabacloud_sls20201230 import models
from fastapi.testclient import TestClient

from logsluice.services.sinks import SinkRegistration
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import generate_records, load, run_queued
from tests.integration.test_bls_api import GoClient, Key, make_key
from tests.integration.test_huawei_api import END_MS, RECORDS, START_MS, HuaweiClient
from tests.integration.test_sls_api import capture, create_request, sls_client
from tests.s3_server import S3Bucket


@dataclass(frozen=True)
class Maybe:
    """A key that may be absent; when present its value has ``schema``."""

    schema: Any


def json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer"}
    return names.get(type(value), type(value).__name__)


def shape_problems(value: Any, schema: Any, where: str = "$") -> list[str]:
    """Return how ``value`` differs from ``schema`` (a type, ``{key: schema}`` or ``[schema]``)."""
    if isinstance(schema, dict):
        if type(value) is not dict:
            return [f"{where}: {json_type(value)}, want object"]
        required = {key for key, item in schema.items() if not isinstance(item, Maybe)}
        problems = [f"{where}.{key}: missing" for key in sorted(required - value.keys())]
        problems += [f"{where}.{key}: unexpected" for key in sorted(value.keys() - schema.keys())]
        for key, item in schema.items():
            if key in value:
                inner = item.schema if isinstance(item, Maybe) else item
                problems += shape_problems(value[key], inner, f"{where}.{key}")
        return problems
    if isinstance(schema, list):
        if type(value) is not list:
            return [f"{where}: {json_type(value)}, want array"]
        return [
            problem
            for index, item in enumerate(value)
            for problem in shape_problems(item, schema[0], f"{where}[{index}]")
        ]
    return [] if type(value) is schema else [f"{where}: {json_type(value)}, want {schema.__name__}"]


def assert_shape(value: Any, schema: Any) -> None:
    assert shape_problems(value, schema) == [], json.dumps(value, ensure_ascii=False)


def cancel(admin: TestClient, project: str, task_id: str) -> None:
    url = f"/api/v1/projects/{project}/download-tasks/{task_id}/cancel"
    assert admin.post(url).status_code == 200


def test_the_walker_catches_types_and_keys() -> None:
    schema = {"a": int, "b": Maybe(str), "c": [{"d": bool}]}
    assert shape_problems({"a": 1, "c": [{"d": True}]}, schema) == []
    assert shape_problems({"a": 1.0, "b": 2, "c": [{"d": 1}], "e": 0}, schema) == [
        "$.e: unexpected",
        "$.a: float, want int",
        "$.b: integer, want str",
        "$.c[0].d: integer, want bool",
    ]
    assert shape_problems({"a": True, "c": {}}, schema) == [
        "$.a: boolean, want int",
        "$.c: object, want array",
    ]


# --- BLS (§1.3 DownloadTask as Go's api.DownloadTask decodes it, §1.4 errors) ---------------------

BLS_TASK = {
    **dict.fromkeys(
        [
            "uuid", "name", "project", "logStoreName", "logStreamName", "query",
            "queryStartTime", "queryEndTime", "format", "orderBy", "order", "state",
            "failedCode", "failedMessage", "fileDir", "fileName", "execStartTime",
            "execEndTime", "createdTime", "updatedTime",
        ],
        str,
    ),
    "limit": int,
    "retry": int,
    "writtenRows": int,
}  # fmt: skip


def bls_envelope(result: Any) -> dict[str, Any]:
    return {"success": bool, "code": str, "message": str, "result": result}


BLS_CREATED = bls_envelope({"uuid": str})
BLS_DESCRIBED = bls_envelope({"task": BLS_TASK})
BLS_LINK = bls_envelope({"fileDir": str, "fileName": str, "link": str})
BLS_LIST = bls_envelope(
    {
        "order": str,
        "orderBy": str,
        "pageNo": int,
        "pageSize": int,
        "total": int,
        "tasks": [BLS_TASK],
    }
)
BLS_DELETED = {"success": bool, "code": str, "message": str}
BLS_ERROR = {"code": str, "message": str, "requestId": str}


def bls_body(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["x-bce-request-id"]
    return response.json()


def test_every_bls_response_has_the_go_sdk_keys_and_types(make_server: ServerFactory) -> None:
    server = make_server(workers=0)
    admin = authorized_client(server)
    load(admin, generate_records(50))
    go = GoClient(TestClient(server.app), make_key(server, "web", "writer"))

    created = bls_body(go.create(name="types"))
    assert_shape(created, BLS_CREATED)
    uuid = created["result"]["uuid"]
    assert_shape(bls_body(go.describe(uuid)), BLS_DESCRIBED)
    cancelled = bls_body(go.create(name="cancelled"))["result"]["uuid"]
    cancel(admin, "web", cancelled.replace("-", ""))
    assert run_queued(server) == 1

    for task_uuid, state in ((uuid, "SUCCESS"), (cancelled, "FAILED")):
        described = bls_body(go.describe(task_uuid))
        assert_shape(described, BLS_DESCRIBED)
        assert described["result"]["task"]["state"] == state
    assert_shape(bls_body(go.link(uuid)), BLS_LINK)
    listed = bls_body(go.list())
    assert_shape(listed, BLS_LIST)
    assert len(listed["result"]["tasks"]) == 2
    assert_shape(bls_body(go.delete(uuid)), BLS_DELETED)

    assert_shape(bls_body(go.describe(uuid), 404), BLS_ERROR)
    assert_shape(bls_body(go.link(cancelled), 409), BLS_ERROR)
    assert_shape(bls_body(go.create(limit=2_000_000), 400), BLS_ERROR)
    wrong_secret = GoClient(go.http, Key(go.key.access_key_id, "x" * 40))
    assert_shape(bls_body(wrong_secret.list(), 400), BLS_ERROR)


# --- SLS (§2.3 DownloadJob and the list, §2.4 errors) ---------------------------------------------

SLS_SINK = {
    "type": str,
    "contentType": str,
    "compressionType": str,
    "bucket": Maybe(str),
    "prefix": Maybe(str),
    "roleArn": Maybe(str),
}
SLS_JOB = {
    "name": str,
    "displayName": str,
    "description": str,
    "status": str,
    "createTime": str,
    "configuration": {
        "logstore": str,
        "fromTime": int,
        "toTime": int,
        "query": str,
        "allowInComplete": bool,
        "powerSql": bool,
        "sink": SLS_SINK,
    },
    "executionDetails": {
        "progress": int,
        "filePath": str,
        "fileSize": int,
        "executeTime": int,
        "logCount": int,
        "errorMessage": str,
        "checkSum": str,
        "notice": str,
    },
}
SLS_LIST = {"total": int, "count": int, "results": [SLS_JOB]}
SLS_ERROR = {"errorCode": str, "errorMessage": str}


class SlsCaller:
    """Sends the SDK's own signed requests (captured before they leave) through a TestClient."""

    def __init__(self, app: Any, key: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.http = TestClient(app)
        self.sdk = sls_client(80, key, "v4")
        self.monkeypatch = monkeypatch

    def call(self, operation: str, *arguments: Any, status: int = 200) -> Any:
        method = getattr(self.sdk, operation)
        sent = capture(self.monkeypatch, lambda: method("web", *arguments))
        response = self.http.request(
            sent.method, sent.path, headers=sent.headers, content=sent.body
        )
        assert response.status_code == status, response.text
        assert len(response.headers["x-log-requestid"]) == 24
        return response.json()


def test_every_sls_response_has_the_sdk_keys_and_types(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch, s3_bucket: S3Bucket
) -> None:
    server = make_server(workers=0)
    admin = authorized_client(server)
    load(admin, generate_records(50))
    access_key, secret = server.container.access_keys.create("web", "writer")
    sls = SlsCaller(server.app, (access_key.id, secret), monkeypatch)

    endpoint = s3_bucket.server.endpoint
    sink = SinkRegistration("bbb", endpoint, s3_bucket.name, "key-id", "key-secret")
    server.container.sinks.register("web", sink)
    assert sls.call("create_download_job", create_request("types", bucket="bbb", prefix="p/")) == {}
    assert_shape(sls.call("get_download_job", "types"), SLS_JOB)
    assert sls.call("create_download_job", create_request("cancelled")) == {}
    cancelled = admin.get("/api/v1/projects/web/download-tasks", params={"name": "cancelled"})
    cancel(admin, "web", cancelled.json()["download_tasks"][0]["id"])
    assert run_queued(server) == 1

    for name, status in (("types", "SUCCEEDED"), ("cancelled", "ERROR")):
        job = sls.call("get_download_job", name)
        assert_shape(job, SLS_JOB)
        assert job["status"] == status
    listed = sls.call("list_download_jobs", models.ListDownloadJobsRequest())
    assert_shape(listed, SLS_LIST)
    assert listed["count"] == 2
    assert sls.call("delete_download_job", "types") == {}

    assert_shape(sls.call("get_download_job", "types", status=404), SLS_ERROR)
    assert_shape(
        sls.call("create_download_job", create_request("cancelled"), status=400), SLS_ERROR
    )
    stranger = SlsCaller(server.app, (access_key.id, "x" * 40), monkeypatch)
    assert_shape(stranger.call("get_download_job", "cancelled", status=401), SLS_ERROR)


# --- Huawei (§3.3 ExportTask and the list, §3.4 errors) -------------------------------------------

HUAWEI_TASK = {
    "task_id": str,
    "task_name": str,
    "status": str,
    "download_link": Maybe(str),
    "create_time": int,
    "update_time": int,
}
HUAWEI_LIST = {"total": int, "data": [HUAWEI_TASK]}
HUAWEI_CDN_ERROR = {"error": {"error_code": str, "error_msg": str}}
HUAWEI_GATEWAY_ERROR = {"error_code": str, "error_msg": str, "request_id": str}


def huawei_body(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["X-Request-Id"]
    return response.json()


def test_every_huawei_response_has_the_sdk_keys_and_types(make_server: ServerFactory) -> None:
    server = make_server(workers=0)
    admin = authorized_client(server)
    assert admin.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    assert admin.post("/api/v1/projects/web/logstores", json={"name": "cdn"}).status_code == 201
    body = b"".join(orjson.dumps(record) + b"\n" for record in RECORDS)
    assert admin.post("/api/v1/projects/web/logstores/cdn/records", content=body).status_code == 200
    access_key, secret = server.container.access_keys.create("web", "writer")
    huawei = HuaweiClient(TestClient(server.app), access_key.id, secret)

    huawei_body(huawei.create(action="uv", start_time=START_MS, end_time=END_MS))
    queued = huawei_body(huawei.list())
    assert_shape(queued, HUAWEI_LIST)
    assert [task["status"] for task in queued["data"]] == ["processing"]
    huawei_body(huawei.create(action="top_url_detail", start_time=START_MS, end_time=END_MS))
    cancel(admin, "web", huawei_body(huawei.list(limit=1))["data"][0]["task_id"])
    assert run_queued(server) == 1

    listed = huawei_body(huawei.list())
    assert_shape(listed, HUAWEI_LIST)
    assert sorted(task["status"] for task in listed["data"]) == ["fail", "success"]
    for task in listed["data"]:
        assert ("download_link" in task) == (task["status"] == "success")

    assert_shape(huawei_body(huawei.list(limit=101), 400), HUAWEI_CDN_ERROR)
    assert_shape(huawei_body(huawei.create(action="nope"), 400), HUAWEI_CDN_ERROR)
    stranger = HuaweiClient(huawei.client, access_key.id, "x" * 40)
    assert_shape(huawei_body(stranger.list(), 401), HUAWEI_GATEWAY_ERROR)
    unknown = huawei.send(huawei.signed("DELETE"))
    assert_shape(huawei_body(unknown, 404), HUAWEI_GATEWAY_ERROR)
