"""Checks shared by the integration tests: the native error envelope and an authorised client."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from logsluice.bootstrap import Server


def authorized_client(server: Server) -> TestClient:
    """Return a test client that sends the server's admin token."""
    assert server.admin_token is not None
    client = TestClient(server.app)
    client.headers["Authorization"] = f"Bearer {server.admin_token.value}"
    return client


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """Check the native error envelope; return its ``error`` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error
