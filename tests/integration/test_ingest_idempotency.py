"""Ingest with an ``Idempotency-Key`` (issue 12 item 9, ADR 0022): a retried request is stored once
and answered as the first was; the same key with another body is 409; keys expire."""

from __future__ import annotations

import time
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from tests.integration.api_checks import assert_error, authorized_client
from tests.integration.conftest import ServerFactory

RECORDS = [
    {"timestamp": f"2026-03-01T00:00:{second:02d}Z", "id": second, "message": f"m{second}"}
    for second in range(50)
]
BAD_LINE = b'{"timestamp": "not a time", "id": -1}\n'


def _body(records: list[dict[str, object]], extra: bytes = b"") -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records) + extra


def _count(client: TestClient, logstore_url: str) -> int:
    body = {"query": "*", "from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
    response = client.post(f"{logstore_url}/query", json=body)
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


def _send(client: TestClient, logstore_url: str, body: bytes, key: str | None, **params: str):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/x-ndjson"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"{logstore_url}/records", content=body, headers=headers, params=params)


def test_a_retry_with_the_same_key_is_stored_once_and_answered_alike(
    client: TestClient, logstore_url: str
) -> None:
    body = _body(RECORDS, BAD_LINE)
    first = _send(client, logstore_url, body, "batch-0001")
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(3):
        again = _send(client, logstore_url, body, "batch-0001")
        assert again.status_code == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        assert {**again.json(), "replayed": False} == first.json()
        assert again.json()["replayed"] is True
    assert (first.json()["accepted"], first.json()["rejected"]) == (50, 1)
    assert _count(client, logstore_url) == 50


def test_other_keys_and_no_key_store_again(client: TestClient, logstore_url: str) -> None:
    body = _body(RECORDS)
    for key in ("a", "b", None, None):
        assert _send(client, logstore_url, body, key).json()["accepted"] == 50
    assert _count(client, logstore_url) == 200


def test_the_same_key_with_another_body_or_options_is_409(
    client: TestClient, logstore_url: str
) -> None:
    assert _send(client, logstore_url, _body(RECORDS), "k").status_code == 200
    for body, params in (
        (_body(RECORDS[:49]), {}),
        (_body(RECORDS), {"logstream": "other"}),
        (_body(RECORDS), {"strict": "true"}),
    ):
        error = assert_error(
            _send(client, logstore_url, body, "k", **params), 409, "idempotency_key_reused"
        )
        assert "'k'" in error["message"]
    assert _count(client, logstore_url) == 50


def test_a_refused_request_records_no_key(client: TestClient, logstore_url: str) -> None:
    body = _body(RECORDS, BAD_LINE)
    assert_error(
        _send(client, logstore_url, body, "strict-1", strict="true"), 400, "invalid_records"
    )
    assert _count(client, logstore_url) == 0
    fixed = _body(RECORDS)
    assert _send(client, logstore_url, fixed, "strict-1", strict="true").json()["accepted"] == 50


@pytest.mark.parametrize("key", ["", "a b", "x" * 256, "tab\there"])
def test_a_malformed_key_is_400(client: TestClient, logstore_url: str, key: str) -> None:
    response = _send(client, logstore_url, _body(RECORDS), key)
    assert_error(response, 400, "invalid_input")
    assert _count(client, logstore_url) == 0


def test_keys_are_forgotten_after_their_retention(make_server: ServerFactory) -> None:
    server: Server = make_server(ingest_key_retention=timedelta(seconds=1))
    with authorized_client(server) as client:
        assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
        assert (
            client.post("/api/v1/projects/web/logstores", json={"name": "app"}).status_code == 201
        )
        url = "/api/v1/projects/web/logstores/app"
        assert _send(client, url, _body(RECORDS), "old").status_code == 200
        assert server.container.ingest.forget_expired_keys() == 0
        time.sleep(1.1)
        assert server.container.ingest.forget_expired_keys() == 1
        assert _send(client, url, _body(RECORDS), "old").json()["replayed"] is False
        assert _count(client, url) == 100
