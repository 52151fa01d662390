"""Projects, logstores and logstreams over the native API, with their 4xx cases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.integration.api_checks import assert_error

PROJECTS = "/api/v1/projects"


def test_project_lifecycle(client: TestClient) -> None:
    created = client.post(PROJECTS, json={"name": "web-shop", "description": "the shop"})
    assert created.status_code == 201
    assert created.json()["name"] == "web-shop"
    assert created.json()["description"] == "the shop"
    assert client.post(PROJECTS, json={"name": "api_1"}).status_code == 201

    listed = client.get(PROJECTS).json()["projects"]
    assert [project["name"] for project in listed] == ["api_1", "web-shop"]
    shown = client.get(f"{PROJECTS}/web-shop").json()
    assert shown["description"] == "the shop"
    assert shown["created_at"].endswith("Z")

    assert client.delete(f"{PROJECTS}/web-shop").status_code == 204
    assert_error(client.get(f"{PROJECTS}/web-shop"), 404, "project_not_found")
    assert [project["name"] for project in client.get(PROJECTS).json()["projects"]] == ["api_1"]


@pytest.mark.parametrize("name", ["A", "ab-", "-ab", "a", "a b", "x" * 65, "web.shop", ""])
def test_project_bad_names_are_400(client: TestClient, name: str) -> None:
    error = assert_error(client.post(PROJECTS, json={"name": name}), 400, "invalid_name")
    assert "2 to 64 characters" in error["message"]


def test_duplicate_project_is_409(client: TestClient) -> None:
    assert client.post(PROJECTS, json={"name": "web"}).status_code == 201
    assert_error(client.post(PROJECTS, json={"name": "web"}), 409, "already_exists")


def test_unknown_project_is_404_everywhere(client: TestClient) -> None:
    assert_error(client.get(f"{PROJECTS}/nope"), 404, "project_not_found")
    assert_error(client.delete(f"{PROJECTS}/nope"), 404, "project_not_found")
    assert_error(client.get(f"{PROJECTS}/nope/logstores"), 404, "project_not_found")
    response = client.post(f"{PROJECTS}/nope/logstores", json={"name": "app"})
    assert_error(response, 404, "project_not_found")


@pytest.mark.parametrize(
    "body",
    [{"name": 12}, {}, {"name": "web", "colour": "red"}, {"name": ["web"]}, [1, 2]],
)
def test_wrong_types_and_fields_are_400(client: TestClient, body: object) -> None:
    error = assert_error(client.post(PROJECTS, json=body), 400, "invalid_input")
    assert error["details"]["errors"]


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        PROJECTS, content=b'{"name": "web"', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_input")


def test_unknown_route_and_method_use_the_envelope(client: TestClient) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(client.put(PROJECTS), 405, "method_not_allowed")


def test_logstore_lifecycle(client: TestClient) -> None:
    assert client.post(PROJECTS, json={"name": "web"}).status_code == 201
    logstores = f"{PROJECTS}/web/logstores"
    created = client.post(logstores, json={"name": "app"})
    assert created.status_code == 201
    assert created.json()["retention_days"] == 30
    assert created.json()["time_field"] == "timestamp"
    custom = {"name": "cdn", "retention_days": 7, "time_field": "ts", "description": "edge"}
    assert client.post(logstores, json=custom).json()["time_field"] == "ts"

    names = [logstore["name"] for logstore in client.get(logstores).json()["logstores"]]
    assert names == ["app", "cdn"]
    shown = client.get(f"{logstores}/cdn").json()
    assert shown["retention_days"] == 7
    assert shown["fields"][0] == {"name": "ts", "type": "timestamp"}
    assert shown["logstreams"] == []

    assert client.delete(f"{logstores}/cdn").status_code == 204
    assert_error(client.get(f"{logstores}/cdn"), 404, "logstore_not_found")
    assert_error(client.delete(f"{logstores}/cdn"), 404, "logstore_not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "App"}, "invalid_name"),
        ({"name": "app", "retention_days": 0}, "invalid_input"),
        ({"name": "app", "retention_days": 3651}, "invalid_input"),
        ({"name": "app", "retention_days": "30"}, "invalid_input"),
        ({"name": "app", "time_field": "1st"}, "invalid_input"),
        ({"name": "app", "time_field": ""}, "invalid_input"),
    ],
)
def test_logstore_bad_input_is_400(client: TestClient, body: dict[str, object], code: str) -> None:
    assert client.post(PROJECTS, json={"name": "web"}).status_code == 201
    assert_error(client.post(f"{PROJECTS}/web/logstores", json=body), 400, code)


def test_duplicate_logstore_is_409_and_unknown_is_404(client: TestClient) -> None:
    assert client.post(PROJECTS, json={"name": "web"}).status_code == 201
    logstores = f"{PROJECTS}/web/logstores"
    assert client.post(logstores, json={"name": "app"}).status_code == 201
    assert_error(client.post(logstores, json={"name": "app"}), 409, "already_exists")
    assert_error(client.get(f"{logstores}/nope"), 404, "logstore_not_found")
    assert_error(client.get(f"{logstores}/nope/logstreams"), 404, "logstore_not_found")


def test_logstreams_are_listed_with_counts(client: TestClient, logstore_url: str) -> None:
    records = b'{"message": "a"}\n{"message": "b"}\n'
    for stream, copies in (("nginx", 2), ("worker", 1)):
        for _ in range(copies):
            client.post(f"{logstore_url}/records", params={"logstream": stream}, content=records)
    logstreams = client.get(f"{logstore_url}/logstreams").json()["logstreams"]
    assert sorted((item["name"], item["records"]) for item in logstreams) == [
        ("nginx", 4),
        ("worker", 2),
    ]
    shown = client.get(logstore_url).json()
    assert {field["name"]: field["type"] for field in shown["fields"]} == {
        "timestamp": "timestamp",
        "logstream": "varchar",
        "message": "varchar",
    }


def test_deleting_a_project_drops_its_records(client: TestClient, logstore_url: str) -> None:
    client.post(f"{logstore_url}/records", content=b'{"message": "old"}\n')
    assert client.delete(f"{PROJECTS}/web").status_code == 204
    assert client.post(PROJECTS, json={"name": "web"}).status_code == 201
    assert client.post(f"{PROJECTS}/web/logstores", json={"name": "app"}).status_code == 201
    response = client.post(f"{logstore_url}/query", json={"query": "*", "from": 0})
    assert response.json()["count"] == 0
