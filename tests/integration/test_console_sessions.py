"""Console sessions on the native API: sign-in, the cookie's attributes, CSRF on every
state-changing request, project scoping, sign-out and expiry — all refused with nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server, build_server
from logsluice.settings import load_settings
from tests.integration.api_checks import assert_error, authorized_client
from tests.integration.conftest import ServerFactory

SESSION_URL = "/api/v1/session"


class ManualClock:
    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def now(self) -> datetime:
        return self.current


def sign_in(server: Server, **body: Any) -> tuple[TestClient, dict[str, Any]]:
    """Return a cookie-only client signed in with ``body`` and the sign-in answer."""
    browser = TestClient(server.app)
    response = browser.post(SESSION_URL, json=body)
    assert response.status_code == 201, response.text
    return browser, response.json()


def admin_sign_in(server: Server) -> tuple[TestClient, dict[str, Any]]:
    assert server.admin_token is not None
    return sign_in(server, token=server.admin_token.value)


def test_signing_in_sets_a_strict_httponly_expiring_cookie(server: Server) -> None:
    assert server.admin_token is not None
    response = TestClient(server.app).post(SESSION_URL, json={"token": server.admin_token.value})
    assert response.status_code == 201
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("logsluice_session=")
    for attribute in ("HttpOnly", "Max-Age=43200", "Path=/", "SameSite=strict"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    body = response.json()
    assert body["principal"] == "admin"
    assert body["role"] == "admin"
    assert body["project"] is None
    assert body["authentication"] == "session"
    assert body["csrf_token"]
    assert response.headers["cache-control"] == "no-store"


def test_wrong_credentials_and_cross_site_sign_ins_are_refused(server: Server) -> None:
    browser = TestClient(server.app)
    assert_error(browser.post(SESSION_URL, json={"token": "nope"}), 401, "unauthenticated")
    assert_error(browser.post(SESSION_URL, json={}), 400, "invalid_input")
    assert server.admin_token is not None
    cross_site = browser.post(
        SESSION_URL,
        json={"token": server.admin_token.value},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert_error(cross_site, 403, "permission_denied")
    assert "set-cookie" not in cross_site.headers


def test_the_cookie_reads_and_writes_only_with_the_csrf_token(server: Server) -> None:
    browser, signed_in = admin_sign_in(server)
    assert browser.get("/api/v1/projects").json() == {"projects": []}
    missing = browser.post("/api/v1/projects", json={"name": "web"})
    assert_error(missing, 403, "csrf_token_invalid")
    forged = browser.post(
        "/api/v1/projects", json={"name": "web"}, headers={"X-CSRF-Token": "A" * 43}
    )
    assert_error(forged, 403, "csrf_token_invalid")
    assert browser.get("/api/v1/projects").json() == {"projects": []}, "nothing was created"
    created = browser.post(
        "/api/v1/projects", json={"name": "web"}, headers={"X-CSRF-Token": signed_in["csrf_token"]}
    )
    assert created.status_code == 201
    who = browser.get(SESSION_URL).json()
    assert who["csrf_token"] == signed_in["csrf_token"]
    assert who["expires_at"] == signed_in["expires_at"]


def test_a_forged_cookie_is_refused(server: Server) -> None:
    browser = TestClient(server.app)
    browser.cookies.set("logsluice_session", "AAAA" * 20)
    assert_error(browser.get("/api/v1/projects"), 401, "unauthenticated")


def test_bearer_calls_need_no_csrf_token(client: TestClient) -> None:
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    assert client.get(SESSION_URL).json()["authentication"] == "bearer"


def test_sign_out_ends_the_session_on_the_server(server: Server) -> None:
    browser, signed_in = admin_sign_in(server)
    cookie = browser.cookies.get("logsluice_session")
    response = browser.delete(SESSION_URL, headers={"X-CSRF-Token": signed_in["csrf_token"]})
    assert response.status_code == 204
    assert 'logsluice_session=""' in response.headers["set-cookie"]
    replayed = TestClient(server.app)
    replayed.cookies.set("logsluice_session", str(cookie))
    assert_error(replayed.get("/api/v1/projects"), 401, "unauthenticated")


def test_sign_out_needs_the_csrf_token(server: Server) -> None:
    browser, _ = admin_sign_in(server)
    assert_error(browser.delete(SESSION_URL), 403, "csrf_token_invalid")
    assert browser.get("/api/v1/projects").status_code == 200, "still signed in"


def test_an_expired_session_is_refused_and_changes_nothing(tmp_path: Any) -> None:
    clock = ManualClock()
    server = build_server(load_settings(data_dir=tmp_path / "data"), clock)
    try:
        browser, signed_in = admin_sign_in(server)
        clock.current += timedelta(hours=12, seconds=1)
        expired = browser.post(
            "/api/v1/projects",
            json={"name": "web"},
            headers={"X-CSRF-Token": signed_in["csrf_token"]},
        )
        assert_error(expired, 401, "unauthenticated")
        assert "expired" in expired.json()["error"]["message"]
        with authorized_client(server) as admin:
            assert admin.get("/api/v1/projects").json() == {"projects": []}
    finally:
        server.container.close()


@pytest.fixture
def two_projects(client: TestClient) -> tuple[str, str]:
    for name in ("web", "shop"):
        assert client.post("/api/v1/projects", json={"name": name}).status_code == 201
    created = client.post("/api/v1/access-keys", json={"project": "web", "role": "writer"})
    return created.json()["access_key_id"], created.json()["access_key_secret"]


def test_an_access_key_session_sees_only_its_project(
    server: Server, client: TestClient, two_projects: tuple[str, str]
) -> None:
    key_id, secret = two_projects
    browser, signed_in = sign_in(server, access_key_id=key_id, access_key_secret=secret)
    assert signed_in["project"] == "web"
    assert signed_in["role"] == "writer"
    names = [project["name"] for project in browser.get("/api/v1/projects").json()["projects"]]
    assert names == ["web"]
    assert_error(browser.get("/api/v1/projects/shop/logstores"), 403, "permission_denied")
    csrf = {"X-CSRF-Token": signed_in["csrf_token"]}
    refused = browser.post("/api/v1/projects/shop/logstores", json={"name": "app"}, headers=csrf)
    assert_error(refused, 403, "permission_denied")
    assert client.get("/api/v1/projects/shop/logstores").json() == {"logstores": []}
    allowed = browser.post("/api/v1/projects/web/logstores", json={"name": "app"}, headers=csrf)
    assert allowed.status_code == 201


def test_a_token_pair_signs_in_like_the_two_halves(
    server: Server, two_projects: tuple[str, str]
) -> None:
    key_id, secret = two_projects
    _, signed_in = sign_in(server, token=f"{key_id}:{secret}")
    assert signed_in["principal"] == f"access key {key_id}"
    assert signed_in["project"] == "web"


def test_revoking_the_key_ends_its_sessions(
    server: Server, client: TestClient, two_projects: tuple[str, str]
) -> None:
    key_id, secret = two_projects
    browser, _ = sign_in(server, access_key_id=key_id, access_key_secret=secret)
    assert client.delete(f"/api/v1/access-keys/{key_id}").status_code == 204
    assert_error(browser.get("/api/v1/projects"), 401, "unauthenticated")


def test_the_console_is_served_with_a_strict_policy(make_server: ServerFactory) -> None:
    browser = TestClient(make_server(workers=0).app, follow_redirects=False)
    assert browser.get("/").headers["location"] == "/console/"
    page = browser.get("/console/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
