"""Integration tests of access keys through the native API: create (secret once), list, revoke,
admin only, and an access key used as a native bearer token scoped to its project and role."""

from __future__ import annotations

import logging
import stat

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from tests.integration.api_checks import assert_error

KEYS_URL = "/api/v1/access-keys"


@pytest.fixture
def projects(client: TestClient) -> None:
    for name in ("web", "billing"):
        assert client.post("/api/v1/projects", json={"name": name}).status_code == 201
        response = client.post(f"/api/v1/projects/{name}/logstores", json={"name": "app"})
        assert response.status_code == 201


def _create(client: TestClient, project: str | None, role: str) -> dict[str, object]:
    response = client.post(KEYS_URL, json={"project": project, "role": role})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _bearer(server: Server, created: dict[str, object]) -> TestClient:
    key_client = TestClient(server.app)
    key_client.headers["Authorization"] = (
        f"Bearer {created['access_key_id']}:{created['access_key_secret']}"
    )
    return key_client


@pytest.mark.usefixtures("projects")
def test_create_returns_the_secret_once_and_list_never_shows_it(
    client: TestClient, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post(KEYS_URL, json={"project": "web", "role": "writer"})

    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert {"access_key_id", "access_key_secret", "project", "role", "created_at"} <= set(created)
    assert (created["project"], created["role"], created["revoked_at"]) == ("web", "writer", None)
    listed = client.get(KEYS_URL).json()["access_keys"]
    assert [key["access_key_id"] for key in listed] == [created["access_key_id"]]
    assert "access_key_secret" not in listed[0]
    secret = str(created["access_key_secret"])
    assert secret not in client.get(KEYS_URL, params={"include_revoked": True}).text
    assert secret not in caplog.text
    database = (server.container.settings.data_dir / "logsluice.sqlite3").read_bytes()
    assert secret.encode() not in database
    key_file = server.container.settings.data_dir / "access-key-cipher-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


@pytest.mark.usefixtures("projects")
def test_bad_requests_are_refused(client: TestClient) -> None:
    assert_error(
        client.post(KEYS_URL, json={"project": "web", "role": "owner"}), 400, "invalid_input"
    )
    assert_error(client.post(KEYS_URL, json={"role": "writer"}), 400, "invalid_input")
    assert_error(
        client.post(KEYS_URL, json={"project": "web", "role": "admin"}), 400, "invalid_input"
    )
    assert_error(
        client.post(KEYS_URL, json={"project": "nope", "role": "reader"}), 404, "project_not_found"
    )
    assert_error(client.delete(f"{KEYS_URL}/LSAKNOTAKEY"), 404, "access_key_not_found")
    assert client.get(KEYS_URL).json() == {"access_keys": []}


@pytest.mark.usefixtures("projects")
def test_list_filters_by_project_and_revoke_hides_a_key(client: TestClient) -> None:
    web = _create(client, "web", "reader")
    billing = _create(client, "billing", "writer")
    admin = _create(client, None, "admin")

    web_only = client.get(KEYS_URL, params={"project": "web"}).json()["access_keys"]
    assert [key["access_key_id"] for key in web_only] == [web["access_key_id"]]
    assert client.delete(f"{KEYS_URL}/{billing['access_key_id']}").status_code == 204
    assert client.delete(f"{KEYS_URL}/{billing['access_key_id']}").status_code == 204

    live = {key["access_key_id"] for key in client.get(KEYS_URL).json()["access_keys"]}
    assert live == {web["access_key_id"], admin["access_key_id"]}
    everything = client.get(KEYS_URL, params={"include_revoked": "true"}).json()["access_keys"]
    revoked = [key for key in everything if key["access_key_id"] == billing["access_key_id"]]
    assert revoked[0]["revoked_at"] is not None


@pytest.mark.usefixtures("projects")
def test_access_key_management_is_for_the_admin_only(client: TestClient, server: Server) -> None:
    writer = _bearer(server, _create(client, "web", "writer"))
    key_admin = _bearer(server, _create(client, None, "admin"))

    assert_error(writer.get(KEYS_URL), 403, "permission_denied")
    assert_error(
        writer.post(KEYS_URL, json={"project": "web", "role": "writer"}), 403, "permission_denied"
    )
    assert key_admin.get(KEYS_URL).status_code == 200
    assert_error(TestClient(server.app).get(KEYS_URL), 401, "unauthenticated")


@pytest.mark.usefixtures("projects")
def test_a_key_is_a_bearer_token_scoped_to_its_project_and_role(
    client: TestClient, server: Server
) -> None:
    writer = _bearer(server, _create(client, "web", "writer"))
    reader = _bearer(server, _create(client, "web", "reader"))
    record = b'{"timestamp": "2026-03-01T00:00:00Z", "message": "hello"}\n'

    response = writer.post("/api/v1/projects/web/logstores/app/records", content=record)
    assert response.json()["accepted"] == 1
    assert [p["name"] for p in writer.get("/api/v1/projects").json()["projects"]] == ["web"]
    assert_error(writer.get("/api/v1/projects/billing/logstores"), 403, "permission_denied")
    assert_error(
        writer.post("/api/v1/projects/billing/logstores/app/records", content=record),
        403,
        "permission_denied",
    )
    assert_error(writer.post("/api/v1/projects", json={"name": "other"}), 403, "permission_denied")
    assert reader.get("/api/v1/projects/web/logstores").status_code == 200
    assert_error(
        reader.post("/api/v1/projects/web/logstores/app/records", content=record),
        403,
        "permission_denied",
    )


@pytest.mark.usefixtures("projects")
def test_a_wrong_secret_or_revoked_key_is_unauthenticated(
    client: TestClient, server: Server
) -> None:
    created = _create(client, "web", "writer")
    wrong = dict(created, access_key_secret="x" * 40)
    assert_error(_bearer(server, wrong).get("/api/v1/projects"), 401, "unauthenticated")

    assert client.delete(f"{KEYS_URL}/{created['access_key_id']}").status_code == 204

    assert_error(_bearer(server, created).get("/api/v1/projects"), 401, "unauthenticated")
    assert client.get("/api/v1/projects").status_code == 200
