"""Methods and paths a vendor dialect does not have, under that dialect's prefix, answer in the
dialect's own error shape (with its request-id header), never in the native envelope: an SDK
must be able to read the code of every answer it gets from its prefix."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server

BLS = "/v2/logstore/download"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("PUT", BLS, 405, "MethodNotAllowed"),
        ("GET", BLS, 405, "MethodNotAllowed"),
        ("PUT", f"{BLS}/abc", 405, "MethodNotAllowed"),
        ("POST", f"{BLS}/link/abc", 405, "MethodNotAllowed"),
        ("PATCH", f"{BLS}/list", 405, "MethodNotAllowed"),
        ("GET", f"{BLS}/abc/def", 404, "ResourceNotFound"),
        ("POST", f"{BLS}/link/abc/def", 404, "ResourceNotFound"),
    ],
)
def test_bls_answers_unknown_routes_in_the_bls_envelope(
    server: Server, method: str, path: str, status: int, code: str
) -> None:
    response = TestClient(server.app).request(method, path)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "requestId"}
    assert body["code"] == code
    assert body["requestId"] == response.headers["x-bce-request-id"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("PUT", "/downloadjobs", 405, "MethodNotAllowed"),
        ("DELETE", "/downloadjobs", 405, "MethodNotAllowed"),
        ("POST", "/downloadjobs/x", 405, "MethodNotAllowed"),
        ("PATCH", "/downloadjobs/x", 405, "MethodNotAllowed"),
        ("GET", "/downloadjobs/x/y", 404, "ResourceNotExist"),
    ],
)
def test_sls_answers_unknown_routes_in_the_sls_envelope(
    server: Server, method: str, path: str, status: int, code: str
) -> None:
    response = TestClient(server.app).request(method, path, headers={"Host": "web.sls.test"})
    assert response.status_code == status, response.text
    assert response.json() == {"errorCode": code, "errorMessage": response.json()["errorMessage"]}
    assert response.json()["errorMessage"]
    assert len(response.headers["x-log-requestid"]) == 24


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v1/cdn/statistics/export-tasks"),
        ("PUT", "/v1/cdn/statistics/export-tasks/x"),
        ("GET", "/v1/cdn/statistics/stats"),
    ],
)
def test_huawei_answers_unknown_routes_like_the_gateway(
    server: Server, method: str, path: str
) -> None:
    response = TestClient(server.app).request(method, path)
    assert response.status_code == 404, response.text
    body = response.json()
    assert set(body) == {"error_code", "error_msg", "request_id"}
    assert body["error_code"] == "APIGW.0101"
    assert body["request_id"] == response.headers["X-Request-Id"]
