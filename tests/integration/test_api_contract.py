"""The API contract, walked over the whole OpenAPI document (ADR 0021).

Each check here covers every operation the document has, so an endpoint added later is held to the
same rules: every number bounded, every error an envelope, no FastAPI 422, credentials declared,
405 with ``Allow`` for a method a path does not have. The numbers out of range that used to be
500s (SQLite's 64-bit integers, ``timedelta``) are 400s in every dialect.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from logsluice.domain.errors import InvalidInputError
from tests.integration.api_checks import assert_error

TASKS = "/api/v1/projects/web/download-tasks"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HUGE_NUMBERS = (10**18, 142081601698628601118720, 2**63, 10**30)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"][name]
    return schema


def _integer_schemas(
    document: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    reference = schema.get("$ref")
    if reference in seen:
        return
    if reference:
        seen = seen | {reference}
    schema = _resolve(document, schema)
    if schema.get("type") == "integer":
        yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for index, branch in enumerate(schema.get(key, ())):
            yield from _integer_schemas(document, branch, f"{where}|{index}", seen)
    for name, child in schema.get("properties", {}).items():
        yield from _integer_schemas(document, child, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _integer_schemas(document, schema["items"], f"{where}[]", seen)


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_every_integer_a_request_can_carry_is_bounded(document: dict[str, Any]) -> None:
    unbounded = []
    for path, method, operation in _operations(document):
        inputs = [
            (f"{parameter['in']} {parameter['name']}", parameter["schema"])
            for parameter in operation.get("parameters", ())
        ]
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            inputs.append((f"body {media_type}", content.get("schema", {})))
        for where, schema in inputs:
            for place, integer in _integer_schemas(document, schema, where, set()):
                if "minimum" not in integer or "maximum" not in integer:
                    unbounded.append(f"{method.upper()} {path}: {place}")
    assert unbounded == []


def test_every_error_is_the_envelope_and_never_a_422(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert "422" not in responses, f"{method} {path}"
        assert "503" in responses, f"{method} {path}"
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_authenticated_operations_declare_the_schemes_and_their_refusals(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["sessionCookie"]["in"] == "cookie"
    public = set()
    for path, method, operation in _operations(document):
        if operation["security"]:
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
        else:
            public.add(f"{method.upper()} {path}")
    assert public == {
        "GET /healthz",
        "GET /api/v1/session",
        "POST /api/v1/session",
        "GET /downloads/{token}",
        "HEAD /downloads/{token}",
    }


def test_vendor_dialects_and_the_event_stream_stay_out_of_the_document(
    document: dict[str, Any],
) -> None:
    paths = set(document["paths"])
    assert not [path for path in paths if path.startswith(("/v2/", "/v1/", "/internal/"))]
    assert not [path for path in paths if path.endswith("/events")]
    assert "/api/v1/projects/{project}/download-tasks/{task_id}" in paths


def test_every_method_a_path_does_not_have_is_405_with_allow(
    client: TestClient, document: dict[str, Any]
) -> None:
    for path, operations in document["paths"].items():
        concrete = (
            path.replace("{project}", "web")
            .replace("{logstore}", "app")
            .replace("{task_id}", "0" * 32)
            .replace("{access_key_id}", "LSAK0000000000000000")
            .replace("{token}", "x")
        )
        declared = {method.upper() for method in operations}
        allowed = declared | ({"HEAD"} if "GET" in declared else set())
        for method in set(METHODS) - declared:
            response = client.request(method, concrete)
            assert_error(response, 405, "method_not_allowed")
            assert set(response.headers["allow"].split(", ")) == allowed, (method, path)


def test_task_list_pages_past_64_bit_integers_are_400(client: TestClient) -> None:
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    for number in HUGE_NUMBERS:
        error = assert_error(client.get(TASKS, params={"page": number}), 400, "invalid_input")
        assert "page" in error["message"]
        assert_error(client.get(TASKS, params={"size": number}), 400, "invalid_input")
    assert client.get(TASKS, params={"page": 1_000_000_000}).json()["download_tasks"] == []


def test_a_link_ttl_past_any_timedelta_is_400(client: TestClient) -> None:
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    for ttl in (100000000000000, 10**30, 59, -1):
        response = client.get(f"{TASKS}/{'0' * 32}/link", params={"ttl": ttl})
        error = assert_error(response, 400, "invalid_input")
        assert "ttl" in error["message"]


def test_huge_numbers_in_bodies_are_400(client: TestClient) -> None:
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    logstores = "/api/v1/projects/web/logstores"
    assert client.post(logstores, json={"name": "app"}).status_code == 201
    for number in HUGE_NUMBERS:
        assert_error(
            client.post(logstores, json={"name": "big", "retention_days": number}),
            400,
            "invalid_input",
        )
        query = {"from": 0, "to": 1772409600, "limit": number}
        assert_error(client.post(f"{logstores}/app/query", json=query), 400, "invalid_input")
    for number in HUGE_NUMBERS[1:]:  # a task's limit holds up to 2**63 - 1
        task = {"logstore": "app", "from": 0, "to": 1772409600, "limit": number}
        assert_error(client.post(TASKS, json=task), 400, "invalid_input")
    for moment in (10**30, -(10**30), 1e300):
        task = {"logstore": "app", "from": moment, "to": 1772409600}
        assert client.post(TASKS, json=task).status_code == 400
        query = {"from": 0, "to": moment}
        assert client.post(f"{logstores}/app/query", json=query).status_code == 400


def test_the_task_service_refuses_a_page_past_its_bound_for_every_dialect(
    server: Server, client: TestClient
) -> None:
    """BLS ``pageNo`` and SLS ``offset`` reach the store through TaskService.list."""
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    for page in HUGE_NUMBERS:
        with pytest.raises(InvalidInputError):
            server.container.tasks.list("web", page=page, size=500)


def test_a_status_filter_outside_the_statuses_is_400_and_known_ones_in_any_case_work(
    client: TestClient,
) -> None:
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    for value in ("", "DONE", "queued,", "QUEUED;RUNNING"):
        assert_error(client.get(TASKS, params={"status": value}), 400, "invalid_input")
    for value in ("QUEUED", "succeeded, Failed", "RUNNING,CANCELLING"):
        assert client.get(TASKS, params={"status": value}).status_code == 200


def test_an_access_key_names_a_project_exactly_when_its_role_needs_one(
    client: TestClient,
) -> None:
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    keys = "/api/v1/access-keys"
    assert_error(client.post(keys, json={"role": "writer"}), 400, "invalid_input")
    assert_error(client.post(keys, json={"role": "admin", "project": "web"}), 400, "invalid_input")
    assert client.post(keys, json={"role": "writer", "project": "web"}).status_code == 201
    assert client.post(keys, json={"role": "admin"}).status_code == 201
    assert_error(
        client.post(keys, json={"role": "reader", "project": "nope"}), 404, "project_not_found"
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_nothing_from_elsewhere(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert "https://" not in response.text
    assert "//cdn" not in response.text
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/redoc.standalone.js"):
        if asset in response.text:
            assert client.get(asset).status_code == 200
