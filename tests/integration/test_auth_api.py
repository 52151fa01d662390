"""Authentication of the native API: bearer admin token, 401s, and development no-auth."""

from __future__ import annotations

from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from tests.integration.api_checks import assert_error
from tests.integration.conftest import ServerFactory


def test_health_needs_no_token(server: Server) -> None:
    with TestClient(server.app) as anonymous:
        response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_missing_token_is_401(server: Server) -> None:
    with TestClient(server.app) as anonymous:
        error = assert_error(anonymous.get("/api/v1/projects"), 401, "unauthenticated")
        response = anonymous.post("/api/v1/projects", json={"name": "web"})
    assert "Bearer" in error["message"]
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_wrong_token_is_401(server: Server) -> None:
    with TestClient(server.app) as stranger:
        stranger.headers["Authorization"] = "Bearer not-the-token"
        assert_error(stranger.get("/api/v1/projects"), 401, "unauthenticated")
        stranger.headers["Authorization"] = "Basic YWRtaW46YWRtaW4="
        assert_error(stranger.get("/api/v1/projects"), 401, "unauthenticated")


def test_configured_admin_token_is_used(make_server: ServerFactory) -> None:
    server = make_server(admin_token="s3cret-token-for-tests")
    assert server.admin_token is not None
    assert server.admin_token.source == "settings"
    with TestClient(server.app) as client:
        client.headers["Authorization"] = "Bearer s3cret-token-for-tests"
        assert client.get("/api/v1/projects").status_code == 200


def test_no_auth_accepts_anonymous_calls(make_server: ServerFactory) -> None:
    server = make_server(no_auth=True)
    assert server.admin_token is None
    with TestClient(server.app) as anonymous:
        assert anonymous.post("/api/v1/projects", json={"name": "web"}).status_code == 201
