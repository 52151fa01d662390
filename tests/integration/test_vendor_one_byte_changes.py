"""A request signed by each vendor's own signer is accepted; the same request with one byte changed
— in its path, query, a signed header, its date or its body — is refused with the vendor's status
and code, and creates or deletes nothing.

The signed requests are what the SDKs send: ``bce-python-sdk``'s (captured before it leaves; its
body is not covered by its signature, so the body change is checked on the Go SDK's request with
``Content-MD5``), ``alibabacloud-sls20201230``'s in v1 and v4 (captured the same way), and
``huaweicloudsdkcore``'s ``Signer``. Each is replayed through the app on real SQLite and DuckDB.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from alibabacloud_sls20201230 import models
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.exception import BceHttpClientError
from baidubce.http import bce_http_client, http_methods
from baidubce.retry.retry_policy import NoRetryPolicy
from baidubce.services.bls.bls_client import BlsClient
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import generate_records, load
from tests.integration.test_bls_api import BASE, GoClient, Key, go_create_body, go_headers
from tests.integration.test_huawei_api import END_MS, RECORDS, START_MS, HuaweiClient
from tests.integration.test_sls_api import capture, create_request, sls_client


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def with_header(self, name: str, change: Callable[[str], str]) -> Sent:
        headers = {
            key: change(value) if key.lower() == name else value
            for key, value in self.headers.items()
        }
        return replace(self, headers=headers)

    def send(self, client: TestClient) -> Any:
        return client.request(self.method, self.path, headers=self.headers, content=self.body)


def one_byte(text: str, index: int = -1) -> str:
    """Return ``text`` with the character at ``index`` replaced by another one of its class."""
    position = index % len(text)
    old = text[position]
    new = ("1" if old != "1" else "2") if old.isdigit() else ("a" if old != "a" else "b")
    return text[:position] + new + text[position + 1 :]


def next_second(date: str) -> str:
    """Return a date text one second later, changing only its seconds digits."""
    digits = [index for index, character in enumerate(date) if character.isdigit()]
    tens, units = digits[-2], digits[-1]
    if "GMT" in date:  # RFC 1123: the seconds are the last digits before " GMT"
        tens, units = date.rindex(":") + 1, date.rindex(":") + 2
    seconds = (int(date[tens] + date[units]) + 1) % 60
    return date[:tens] + f"{seconds:02d}" + date[units + 1 :]


def task_ids(server: Server, project: str = "web") -> set[str]:
    views, _ = server.container.tasks.list(project, size=500)
    return {view.task.id for view in views}


@pytest.fixture
def server(make_server: ServerFactory) -> Server:
    server = make_server(workers=0)
    load(authorized_client(server), generate_records(20))
    return server


@pytest.fixture
def writer(server: Server) -> Key:
    access_key, secret = server.container.access_keys.create("web", "writer")
    return Key(access_key.id, secret)


# --- BLS ------------------------------------------------------------------------------------------


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def texts(headers: dict[Any, Any]) -> dict[str, str]:
    return {text(name): text(value) for name, value in headers.items()}


def python_sdk_request(key: Key, method: bytes, path: str, payload: Any = None) -> Sent:
    """Return what ``BlsClient._send_request`` sends, captured in place of its HTTP send."""
    recorded: list[Sent] = []

    def record(conn: Any, http_method: Any, uri: Any, headers: Any, body: Any, size: Any) -> Any:
        recorded.append(Sent(text(http_method), text(uri), texts(headers), body or b""))
        raise ConnectionAbortedError

    client = BlsClient(
        BceClientConfiguration(
            credentials=BceCredentials(key.access_key_id, key.secret),
            endpoint="http://testserver",
            retry_policy=NoRetryPolicy(),
        )
    )
    body = json.dumps(payload) if payload is not None else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bce_http_client, "_send_http_request", record)
        with pytest.raises(BceHttpClientError):
            client._send_request(method, path.encode(), version=b"/v2", body=body)
    return recorded[-1]


BLS_CHANGES: dict[str, Callable[[Sent], Sent]] = {
    "path": lambda sent: replace(sent, path=one_byte(sent.path)),
    "query": lambda sent: replace(sent, path=sent.path + "?pageNo=1"),
    "content-type": lambda sent: sent.with_header("content-type", lambda value: one_byte(value)),
    "host": lambda sent: sent.with_header("host", lambda value: value + "1"),
    "x-bce-date": lambda sent: sent.with_header("x-bce-date", next_second),
    "x-bce-request-id": lambda sent: sent.with_header("x-bce-request-id", one_byte),
}


@pytest.mark.parametrize("change", sorted(BLS_CHANGES))
def test_bls_python_signer_one_byte_changes_are_signature_does_not_match(
    server: Server, writer: Key, change: str
) -> None:
    go = GoClient(TestClient(server.app), writer)
    uuid = go.create().json()["result"]["uuid"]
    before = task_ids(server)
    sent = python_sdk_request(writer, http_methods.DELETE, f"/download/{uuid}")

    response = BLS_CHANGES[change](sent).send(go.http)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "SignatureDoesNotMatch"
    assert task_ids(server) == before
    assert sent.send(go.http).json()["code"] == "success"
    assert task_ids(server) == set()


def test_bls_go_signer_one_byte_body_change_is_bad_digest(server: Server, writer: Key) -> None:
    body = json.dumps(go_create_body(), separators=(",", ":")).encode()
    headers = go_headers(writer, "POST", BASE, body)
    client = TestClient(server.app)
    changed = body.replace(b'"limit":0', b'"limit":9')

    response = client.post(BASE, content=changed, headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, "BadDigest")
    assert task_ids(server) == set()
    assert client.post(BASE, content=body, headers=headers).json()["code"] == "OK"


# --- SLS ------------------------------------------------------------------------------------------

SLS_CHANGES: dict[str, Callable[[Sent], Sent]] = {
    "path": lambda sent: replace(sent, path=one_byte(sent.path)),
    "query": lambda sent: replace(sent, path=sent.path.replace("size=10", "size=11")),
    "x-log-apiversion": lambda sent: sent.with_header("x-log-apiversion", one_byte),
    "content-type": lambda sent: sent.with_header("content-type", one_byte),
    "date": lambda sent: sent.with_header("date", next_second).with_header(
        "x-log-date", next_second
    ),
    "authorization": lambda sent: sent.with_header("authorization", one_byte),
}


def sls_request(key: Key, version: str, monkeypatch: pytest.MonkeyPatch, call: str) -> Sent:
    sdk = sls_client(80, (key.access_key_id, key.secret), version)
    operations: dict[str, Callable[[], Any]] = {
        "list": lambda: sdk.list_download_jobs(
            "web", models.ListDownloadJobsRequest(offset=0, size=10)
        ),
        "get": lambda: sdk.get_download_job("web", "new-job"),
        "create": lambda: sdk.create_download_job("web", create_request("new-job")),
    }
    captured = capture(monkeypatch, operations[call])
    return Sent(captured.method, captured.path, dict(captured.headers), captured.body)


@pytest.mark.parametrize("version", ["v1", "v4"])
@pytest.mark.parametrize("change", sorted(SLS_CHANGES))
def test_sls_one_byte_changes_are_signature_not_match(
    server: Server, writer: Key, version: str, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TestClient(server.app)
    call = "list" if change == "query" else "get"
    assert sls_request(writer, version, monkeypatch, "create").send(client).status_code == 200
    sent = sls_request(writer, version, monkeypatch, call)
    assert sent.send(client).status_code == 200
    before = task_ids(server)

    response = SLS_CHANGES[change](sent).send(client)
    assert response.status_code == 401, response.text
    assert response.json()["errorCode"] == "SignatureNotMatch"
    assert task_ids(server) == before


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_sls_one_byte_body_change_is_post_body_invalid(
    server: Server, writer: Key, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TestClient(server.app)
    sent = sls_request(writer, version, monkeypatch, "create")
    changed = replace(sent, body=sent.body.replace(b'"new-job"', b'"new-jov"'))

    response = changed.send(client)
    assert (response.status_code, response.json()["errorCode"]) == (400, "PostBodyInvalid")
    assert task_ids(server) == set()
    assert sent.send(client).status_code == 200
    assert len(task_ids(server)) == 1


# --- Huawei ---------------------------------------------------------------------------------------

HUAWEI_CHANGES: dict[str, Callable[[Sent], Sent]] = {
    "query": lambda sent: replace(sent, path=sent.path + "?limit=1"),
    "user-agent": lambda sent: sent.with_header("user-agent", one_byte),
    "x-domain-id": lambda sent: sent.with_header("x-domain-id", one_byte),
    "content-type": lambda sent: sent.with_header("content-type", one_byte),
    "x-sdk-date": lambda sent: sent.with_header("x-sdk-date", next_second),
    "body": lambda sent: replace(sent, body=sent.body.replace(b"uv", b"uw")),
}


@pytest.mark.parametrize("change", sorted(HUAWEI_CHANGES))
def test_huawei_one_byte_changes_are_apigw_0301(server: Server, change: str) -> None:
    admin = authorized_client(server)
    assert admin.post("/api/v1/projects/web/logstores", json={"name": "cdn"}).status_code == 201
    records = "\n".join(json.dumps(record) for record in RECORDS)
    assert admin.post("/api/v1/projects/web/logstores/cdn/records", content=records).is_success
    access_key, secret = server.container.access_keys.create("web", "writer")
    huawei = HuaweiClient(TestClient(server.app), access_key.id, secret)
    body = json.dumps({"action": "uv", "start_time": START_MS, "end_time": END_MS}).encode()
    signed = huawei.signed("POST", body=body)
    sent = Sent(
        "POST", signed.uri, {k.lower(): str(v) for k, v in signed.header_params.items()}, body
    )

    response = HUAWEI_CHANGES[change](sent).send(huawei.client)
    assert response.status_code == 401, response.text
    assert response.json()["error_code"] == "APIGW.0301"
    assert task_ids(server) == set()
    accepted = sent.send(huawei.client)
    assert accepted.status_code == 200, accepted.text
    assert len(task_ids(server)) == 1
