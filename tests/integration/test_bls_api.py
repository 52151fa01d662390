"""Integration tests of the BLS dialect in-process: the Go SDK's exact requests (every key sent,
zero values, listed signed headers, Content-MD5), its JSON types, defaults, limits, the error
envelope, roles and project isolation, on real SQLite and DuckDB."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from logsluice.services.sinks import SinkRegistration
from tests.go_bce_signer import go_signed_headers
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    generate_records,
    load,
    local_path,
    query_rows,
    read_rows,
    run_queued,
)
from tests.s3_server import S3Bucket

BASE = "/v2/logstore/download"
GO_TYPES: dict[str, type] = {
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


@dataclass(frozen=True)
class Key:
    access_key_id: str
    secret: str


def go_headers(
    key: Key,
    method: str,
    path: str,
    body: bytes,
    *,
    signed_at: datetime | None = None,
    host: str = "testserver",
) -> dict[str, str]:
    """Sign like bce-sdk-go 0.9.273: listed headers, Content-MD5, x-bce-request-id unsigned."""
    return go_signed_headers(
        key.access_key_id,
        key.secret,
        method,
        path,
        body,
        signed_at=signed_at or datetime.now(UTC),
        host=host,
    )


class GoClient:
    """Sends what bls.Client sends: JSON bodies with every key, signed per request."""

    def __init__(self, app_client: TestClient, key: Key) -> None:
        self.http = app_client
        self.key = key

    def send(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
        headers = go_headers(self.key, method, path, body)
        return self.http.request(method, path, content=body, headers=headers)

    def create(self, **fields: Any) -> Any:
        return self.send("POST", BASE, go_create_body(**fields))

    def describe(self, uuid: str) -> Any:
        return self.send("GET", f"{BASE}/{uuid}")

    def link(self, uuid: str) -> Any:
        return self.send("GET", f"{BASE}/link/{uuid}")

    def list(self, **fields: Any) -> Any:
        body = {"project": "", "logStoreName": "", "order": "", "orderBy": "", "pageNo": 0,
                "pageSize": 0, **fields}  # fmt: skip
        return self.send("POST", f"{BASE}/list", body)

    def delete(self, uuid: str) -> Any:
        return self.send("DELETE", f"{BASE}/{uuid}")


def go_create_body(**fields: Any) -> dict[str, Any]:
    """CreateDownloadTaskRequest as Go marshals it: every key, zero values for the unset ones."""
    return {
        "name": "", "project": "", "logStoreName": "app", "logStreamName": "", "query": "",
        "queryStartTime": "2026-03-01T00:00:00Z", "queryEndTime": "2026-03-01T06:00:00Z",
        "format": "", "limit": 0, "order": "", "fileDir": "", **fields,
    }  # fmt: skip


@pytest.fixture
def server(make_server: ServerFactory) -> Server:
    """A server without background workers: the tests run queued tasks themselves."""
    return make_server(workers=0)


@pytest.fixture
def admin(server: Server) -> TestClient:
    client = authorized_client(server)
    load(client, generate_records(300))
    assert client.post("/api/v1/projects", json={"name": "billing"}).status_code == 201
    response = client.post("/api/v1/projects/billing/logstores", json={"name": "app"})
    assert response.status_code == 201
    return client


def make_key(server: Server, project: str | None, role: str) -> Key:
    access_key, secret = server.container.access_keys.create(project, role)
    return Key(access_key.id, secret)


@pytest.fixture
def go(server: Server, admin: TestClient) -> GoClient:
    return GoClient(TestClient(server.app), make_key(server, "web", "writer"))


def result_of(response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["code"] == "OK"
    assert body["message"] == ""
    assert response.headers["x-bce-request-id"]
    return body["result"]


def assert_bls_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "requestId"}
    assert body["code"] == code
    assert body["message"]
    assert body["requestId"] == response.headers["x-bce-request-id"]
    return body


def test_the_go_sdk_round_trip_with_zero_values(
    go: GoClient, admin: TestClient, server: Server
) -> None:
    uuid = result_of(go.create(name="sdk-download-task-test"))["uuid"]
    assert len(uuid) == 36
    assert uuid.count("-") == 4

    task = result_of(go.describe(uuid))["task"]
    assert {name: type(value) for name, value in task.items()} == GO_TYPES
    assert task["state"] == "WAITING"
    expected_defaults = {"project": "web", "query": "match *", "format": "json",
                         "limit": 1_000_000, "order": "desc", "orderBy": "timestamp",
                         "fileName": "", "execEndTime": "", "writtenRows": 0}  # fmt: skip
    assert {name: task[name] for name in expected_defaults} == expected_defaults
    assert task["queryStartTime"] == "2026-03-01T00:00:00Z"

    assert run_queued(server) == 1
    done = result_of(go.describe(uuid))["task"]
    assert done["state"] == "SUCCESS"
    assert done["writtenRows"] == 300
    assert done["fileName"].endswith(".jsonl")
    link = result_of(go.link(uuid))
    assert set(link) == {"fileDir", "fileName", "link"}
    assert link["fileName"] == done["fileName"]
    content = admin.get(local_path(link["link"]), headers={"Authorization": ""}).content
    columns, rows = read_rows(content, "jsonl")
    assert (columns, rows) == query_rows(admin, "*", order="desc")

    deleted = go.delete(uuid)
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True, "code": "success", "message": ""}
    assert_bls_error(go.describe(uuid), 404, "DownloadTaskNotFound")
    assert_bls_error(go.link(uuid), 404, "DownloadTaskNotFound")
    assert_bls_error(go.delete(uuid), 404, "DownloadTaskNotFound")


def test_match_queries_csv_limit_and_ascending_order(
    go: GoClient, admin: TestClient, server: Server
) -> None:
    uuid = result_of(
        go.create(query="match level:ERROR", format="csv", limit=7, order="asc", project="web")
    )["uuid"]
    run_queued(server)

    task = result_of(go.describe(uuid))["task"]
    assert (task["format"], task["limit"], task["order"], task["state"]) == (
        "csv",
        7,
        "asc",
        "SUCCESS",
    )
    content = admin.get(local_path(result_of(go.link(uuid))["link"])).content
    columns, rows = read_rows(content, "csv")
    assert (columns, rows) == query_rows(admin, "level:ERROR", order="asc", limit=7)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"limit": 1_000_001}, "InvalidParameter"),
        ({"limit": -1}, "InvalidParameter"),
        ({"limit": "100"}, "InvalidParameter"),
        ({"format": "parquet"}, "InvalidParameter"),
        ({"order": "sideways"}, "InvalidParameter"),
        ({"logStoreName": ""}, "InvalidParameter"),
        ({"queryStartTime": ""}, "InvalidParameter"),
        ({"queryStartTime": "yesterday"}, "InvalidParameter"),
        ({"queryEndTime": "2026-02-01T00:00:00Z"}, "InvalidParameter"),
        ({"query": "match level:("}, "InvalidParameter"),
        ({"query": "match " + "NOT " * 87 + "level:INFO"}, "InvalidParameter"),
        ({"query": "match * | SELECT " + "(" * 500 + "1" + ")" * 500}, "InvalidParameter"),
    ],
)
def test_bad_create_requests_are_invalid_parameter_and_store_nothing(
    go: GoClient, admin: TestClient, fields: dict[str, Any], code: str
) -> None:
    assert_bls_error(go.create(**fields), 400, code)
    assert admin.get("/api/v1/projects/web/download-tasks").json()["total"] == 0


def test_a_body_that_is_not_json_is_malformed_json(go: GoClient) -> None:
    body = b"{not json"
    headers = go_headers(go.key, "POST", BASE, body)
    assert_bls_error(go.http.post(BASE, content=body, headers=headers), 400, "MalformedJSON")


def test_list_pages_with_defaults_and_a_fuzzy_logstore_filter(go: GoClient, server: Server) -> None:
    uuids = [result_of(go.create(name=f"t{index}"))["uuid"] for index in range(3)]

    page = result_of(go.list())
    assert {key: page[key] for key in ("order", "orderBy", "pageNo", "pageSize", "total")} == {
        "order": "desc",
        "orderBy": "createdTime",
        "pageNo": 1,
        "pageSize": 10,
        "total": 3,
    }
    assert [task["uuid"] for task in page["tasks"]] == uuids[::-1]
    second = result_of(go.list(pageNo=2, pageSize=2, order="asc", logStoreName="ap"))
    assert (second["total"], [task["uuid"] for task in second["tasks"]]) == (3, [uuids[2]])
    assert result_of(go.list(logStoreName="nothing-like-it"))["total"] == 0


def test_another_projects_tasks_are_not_found_and_unchanged(go: GoClient, server: Server) -> None:
    billing = GoClient(go.http, make_key(server, "billing", "writer"))
    uuid = result_of(go.create())["uuid"]

    assert_bls_error(billing.describe(uuid), 404, "DownloadTaskNotFound")
    assert_bls_error(billing.link(uuid), 404, "DownloadTaskNotFound")
    assert_bls_error(billing.delete(uuid), 404, "DownloadTaskNotFound")
    assert result_of(billing.list(project="web")) == {
        "order": "desc", "orderBy": "createdTime", "pageNo": 1, "pageSize": 10, "total": 0,
        "tasks": [],
    }  # fmt: skip
    assert_bls_error(billing.create(project="web"), 404, "ProjectNotFound")
    assert_bls_error(billing.create(project="no-such-project"), 404, "ProjectNotFound")
    assert result_of(go.describe(uuid))["task"]["state"] == "WAITING"
    assert result_of(go.list())["total"] == 1


def test_an_admin_key_reaches_every_project_and_a_reader_only_reads(
    go: GoClient, server: Server
) -> None:
    uuid = result_of(go.create())["uuid"]
    admin_key = GoClient(go.http, make_key(server, None, "admin"))
    reader = GoClient(go.http, make_key(server, "web", "reader"))

    assert result_of(admin_key.describe(uuid))["task"]["project"] == "web"
    assert result_of(admin_key.list(project="web"))["total"] == 1
    assert result_of(admin_key.create(project="billing"))["uuid"]
    assert result_of(reader.describe(uuid))["task"]["uuid"] == uuid
    assert_bls_error(reader.create(), 403, "AccessDenied")
    assert_bls_error(reader.delete(uuid), 403, "AccessDenied")
    assert_bls_error(reader.link(uuid), 409, "DownloadTaskNotReady")
    assert result_of(go.describe(uuid))["task"]["state"] == "WAITING"


def test_signature_failures_answer_in_the_bce_envelope_and_change_nothing(
    go: GoClient, server: Server
) -> None:
    body = json.dumps(go_create_body(), separators=(",", ":")).encode()
    headers = go_headers(go.key, "POST", BASE, body)

    wrong_secret = GoClient(go.http, Key(go.key.access_key_id, "x" * 40))
    assert_bls_error(wrong_secret.create(), 400, "SignatureDoesNotMatch")
    unknown = GoClient(go.http, Key("LSAKUNKNOWNKEY000000", "x" * 40))
    assert_bls_error(unknown.create(), 403, "InvalidAccessKeyId")
    stale = go_headers(go.key, "POST", BASE, body, signed_at=datetime.now(UTC) - timedelta(hours=1))
    assert_bls_error(go.http.post(BASE, content=body, headers=stale), 400, "RequestExpired")
    tampered = body.replace(b'"limit":0', b'"limit":9')
    assert_bls_error(go.http.post(BASE, content=tampered, headers=headers), 400, "BadDigest")
    assert_bls_error(go.http.post(BASE, content=body), 403, "AccessDenied")
    server.container.access_keys.revoke(go.key.access_key_id)
    assert_bls_error(go.create(), 403, "InvalidAccessKeyId")

    assert server.container.tasks.list("web")[1] == 0


def test_a_file_dir_is_shown_back_and_a_free_name_is_kept(
    go: GoClient, server: Server, s3_bucket: S3Bucket
) -> None:
    bucket = s3_bucket.server
    sink = SinkRegistration(
        "bos-bucket", bucket.endpoint, s3_bucket.name, bucket.access_key_id, "secret", "bls"
    )
    server.container.sinks.register("web", sink)
    uuid = result_of(go.create(name="Nightly Export (Q1)", fileDir="bos-bucket/exports"))["uuid"]
    run_queued(server)

    task = result_of(go.describe(uuid))["task"]
    assert (task["name"], task["fileDir"]) == ("Nightly Export (Q1)", "bos-bucket/exports")
    assert task["fileName"] == "nightly-export-q1.jsonl"
    link = result_of(go.link(uuid))
    assert link["fileDir"] == "bos-bucket/exports"
    in_bucket = f"{bucket.endpoint}/{s3_bucket.name}/bls/exports/web/"
    assert link["link"].startswith(in_bucket)
    assert link["link"].split("?")[0].endswith("/nightly-export-q1.jsonl")
    assert httpx.get(link["link"]).status_code == 200


def test_a_file_dir_in_an_unregistered_bucket_is_refused(go: GoClient, server: Server) -> None:
    response = go.create(fileDir="bos://elsewhere/exports")
    assert_bls_error(response, 400, "InvalidParameter")
    assert "elsewhere" in response.json()["message"]
    assert server.container.tasks.list("web")[1] == 0


@pytest.mark.parametrize("page_number", [10**18, 142081601698628601118720])
def test_a_page_past_the_task_stores_integers_is_invalid_parameter(
    go: GoClient, page_number: int
) -> None:
    """It used to overflow SQLite's 64-bit integers and answer 500."""
    result_of(go.create(name="one"))
    error = assert_bls_error(go.list(pageNo=page_number, pageSize=10), 400, "InvalidParameter")
    assert "page" in error["message"]
    assert result_of(go.list(pageNo=1000, pageSize=10))["tasks"] == []
