"""Ingest of hostile bodies over the native API: too many fields, wide logstores, deep nesting,
bad UTF-8 and NUL characters. Each gets a clear 4xx or a per-line rejection, and the server keeps
serving (issue 12, items 1, 2 and 7)."""

from __future__ import annotations

import gzip

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.integration.api_checks import assert_error, authorized_client
from tests.integration.conftest import ServerFactory

ALL_TIME = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
TIME = "2026-11-05T12:00:00Z"
JSON_LINES = {"Content-Type": "application/x-ndjson"}


def _wide_record(fields: int) -> dict[str, object]:
    return {"time": TIME} | {f"field_{index:05d}": f"v{index}" for index in range(fields)}


def _count(client: TestClient, logstore_url: str) -> int:
    response = client.post(f"{logstore_url}/query", json={"query": "*"} | ALL_TIME)
    assert response.status_code == 200, response.text
    count: int = response.json()["count"]
    return count


def _new_logstore(client: TestClient, name: str = "app") -> str:
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code in (201, 409)
    response = client.post(
        "/api/v1/projects/web/logstores", json={"name": name, "time_field": "time"}
    )
    assert response.status_code == 201, response.text
    return f"/api/v1/projects/web/logstores/{name}"


def test_a_record_of_ten_thousand_fields_is_refused_with_413(client: TestClient) -> None:
    url = _new_logstore(client)
    response = client.post(f"{url}/records", json=[_wide_record(10_000)])
    error = assert_error(response, 413, "too_many_fields")
    assert "LOGSLUICE_INGEST_MAX_FIELDS" in error["message"]
    assert error["details"] == {"limit": 256, "setting": "LOGSLUICE_INGEST_MAX_FIELDS"}
    assert _count(client, url) == 0


def test_many_records_each_with_new_fields_are_refused_with_413(client: TestClient) -> None:
    url = _new_logstore(client)
    body = b"\n".join(
        orjson.dumps({"time": TIME} | {f"r{record}_f{index}": index for index in range(5)})
        for record in range(2000)
    )
    response = client.post(f"{url}/records", content=body, headers=JSON_LINES)
    assert_error(response, 413, "too_many_fields")
    assert _count(client, url) == 0


def test_the_limit_counts_the_fields_a_logstore_already_has(make_server: ServerFactory) -> None:
    with authorized_client(make_server(ingest_max_fields=20)) as client:
        url = _new_logstore(client)
        # time, logstream and 15 fields: 17 of 20
        assert client.post(f"{url}/records", json=[_wide_record(15)]).status_code == 200
        more = {"time": TIME} | {f"other_{index}": index for index in range(5)}
        error = assert_error(client.post(f"{url}/records", json=[more]), 413, "too_many_fields")
        assert "has 17 fields and these records would add 5" in error["message"]
        assert _count(client, url) == 1
        assert client.post(f"{url}/records", json=[_wide_record(15)]).status_code == 200


def test_a_csv_header_over_the_limit_is_refused(make_server: ServerFactory) -> None:
    with authorized_client(make_server(ingest_max_fields=10)) as client:
        url = _new_logstore(client)
        header = ",".join(["time"] + [f"c{index}" for index in range(20)])
        row = ",".join([TIME] + ["1"] * 20)
        response = client.post(
            f"{url}/records",
            content=f"{header}\n{row}\n".encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert_error(response, 413, "too_many_fields")


def test_a_wide_logstore_queries_counts_and_exports(client: TestClient) -> None:
    """300 fields and one record used to answer every query with 503 'Out of Memory' (254
    fields: the most the default limit allows)."""
    url = _new_logstore(client)
    assert client.post(f"{url}/records", json=[_wide_record(250)]).status_code == 200
    query = client.post(f"{url}/query", json={"query": "*"} | ALL_TIME)
    assert query.status_code == 200, query.text
    assert query.json()["count"] == 1
    assert sum(bucket["count"] for bucket in query.json()["histogram"]) == 1
    assert len(query.json()["rows"][0]) >= 250
    sql = client.post(f"{url}/query", json={"query": "* | select count(*) as n"} | ALL_TIME)
    assert sql.status_code == 200, sql.text
    task = client.post(
        "/api/v1/projects/web/download-tasks",
        json={"logstore": "app", "query": "*", "format": "csv"} | ALL_TIME,
    )
    assert task.status_code == 201, task.text


def test_nesting_too_deep_is_refused_per_line(client: TestClient) -> None:
    url = _new_logstore(client)
    for depth in (100, 1000, 10_000):
        deep = b"[" * depth + b"]" * depth
        line = b'{"time": "' + TIME.encode() + b'", "deep": ' + deep + b"}"
        good = orjson.dumps({"time": TIME, "message": "kept"})
        lines = client.post(f"{url}/records", content=line + b"\n" + good, headers=JSON_LINES)
        assert lines.status_code == 200, lines.text
        assert lines.json()["accepted"] == 1
        assert lines.json()["errors"][0]["line"] == 1
        assert "deeper than 64 levels" in lines.json()["errors"][0]["message"] or (
            "depth limit" in lines.json()["errors"][0]["message"]
        )
        array = client.post(
            f"{url}/records",
            content=b"[" + line + b"," + good + b"]",
            headers={"Content-Type": "application/json"},
        )
        assert array.status_code in (200, 400), array.text
        if array.status_code == 200:
            assert array.json()["accepted"] == 1
            assert array.json()["errors"][0]["line"] == 1
    strict = client.post(
        f"{url}/records?strict=true",
        content=b'{"deep": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        headers=JSON_LINES,
    )
    assert_error(strict, 400, "invalid_records")
    assert client.get("/healthz").status_code == 200


def test_bad_utf8_and_nul_are_refused_per_line(client: TestClient) -> None:
    url = _new_logstore(client)
    lines = [
        b'{"time": "2026-11-05T12:00:00Z", "message": "kept"}',
        b'{"time": "2026-11-05T12:00:00Z", "\xff\xfe": 1}',  # key not UTF-8
        b'{"time": "2026-11-05T12:00:00Z", "message": "caf\xe9"}',  # value not UTF-8
        b'{"time": "2026-11-05T12:00:00Z", "message": "\xc0\x80"}',  # overlong NUL
        b'{"time": "2026-11-05T12:00:00Z", "nul\\u0000name": 1}',  # NUL in a field name
        b'{"time": "2026-11-05T12:00:00Z", "message": "\\ud800"}',  # lone surrogate
        b'{"time": "2026-11-05T12:00:00Z", "message": "also kept"}',
    ]
    response = client.post(f"{url}/records", content=b"\n".join(lines), headers=JSON_LINES)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    assert [error["line"] for error in response.json()["errors"]] == [2, 3, 4, 5, 6]
    messages = [error["message"] for error in response.json()["errors"]]
    assert all("UTF-8" in message or "surrogate" in message for message in messages[:3])
    assert "NUL" in messages[3]
    strict = client.post(
        f"{url}/records?strict=true", content=b"\n".join(lines[:3]), headers=JSON_LINES
    )
    error = assert_error(strict, 400, "invalid_records")
    assert [line["line"] for line in error["details"]["errors"]] == [2, 3]
    assert _count(client, url) == 2


def test_nul_in_a_value_is_stored(client: TestClient) -> None:
    url = _new_logstore(client)
    body = b'{"time": "2026-11-05T12:00:00Z", "message": "a\\u0000b"}'
    response = client.post(f"{url}/records", content=body, headers=JSON_LINES)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    rows = client.post(f"{url}/query", json={"query": "*"} | ALL_TIME).json()["rows"]
    assert "a\x00b" in rows[0]


@pytest.mark.slow
def test_a_wide_logstore_takes_batch_after_batch(client: TestClient) -> None:
    """2,000 records of 250 fields per request: the first used to run out of DuckDB's memory
    (the decoded table came in many small Arrow chunks), later ones to fail their checkpoint."""
    url = _new_logstore(client)
    for batch in range(4):
        body = b"\n".join(
            orjson.dumps(
                {"time": TIME} | {f"f{field:03d}": f"{record}-{field}" for field in range(250)}
            )
            for record in range(batch * 2000, (batch + 1) * 2000)
        )
        response = client.post(f"{url}/records", content=body, headers=JSON_LINES)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 2000
    assert _count(client, url) == 8000
    narrow = _new_logstore(client, "narrow")
    assert client.post(f"{narrow}/records", json=[{"time": TIME, "m": "x"}]).status_code == 200


def test_field_names_that_cannot_be_stored_and_extreme_times_are_refused_per_line(
    client: TestClient,
) -> None:
    url = _new_logstore(client)
    good = orjson.dumps({"time": TIME, "message": "kept"})
    for line in (
        b'{"time": "2026-11-05T12:00:00Z", "nul\\u0000name": 1}',  # used to be a 503
        b'{"time": "2026-11-05T12:00:00Z", "": 1}',  # used to refuse the whole batch
        b'{"time": 1e300}',  # used to be a 500
        b'{"time": "2026-11-05T12:00:00Z", "x": 1e400}',
    ):
        response = client.post(f"{url}/records", content=good + b"\n" + line, headers=JSON_LINES)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1
        assert [error["line"] for error in response.json()["errors"]] == [2]
        strict = client.post(
            f"{url}/records?strict=true", content=good + b"\n" + line, headers=JSON_LINES
        )
        assert_error(strict, 400, "invalid_records")
    assert _count(client, url) == 4


def test_a_chunked_body_over_the_limit_is_413(make_server: ServerFactory) -> None:
    with authorized_client(make_server(ingest_max_body_bytes=4096)) as client:
        url = _new_logstore(client)
        line = orjson.dumps({"time": TIME, "message": "x" * 100}) + b"\n"
        parts = iter([line * 10] * 100)  # no Content-Length: sent chunked
        error = assert_error(client.post(f"{url}/records", content=parts), 413, "payload_too_large")
        assert error["details"]["limit_bytes"] == 4096
        assert _count(client, url) == 0


def test_a_gzip_bomb_is_refused_naming_the_setting(make_server: ServerFactory) -> None:
    with authorized_client(make_server(ingest_max_decoded_bytes=1024 * 1024)) as client:
        url = _new_logstore(client)
        line = orjson.dumps({"time": TIME, "message": "a" * 200}) + b"\n"
        bomb = gzip.compress(line * 100_000)  # 23 MB of records in about 70 KB
        for content_type in ("application/x-ndjson", "application/json"):
            response = client.post(
                f"{url}/records",
                content=bomb,
                headers={"Content-Encoding": "gzip", "Content-Type": content_type},
            )
            error = assert_error(response, 413, "payload_too_large")
            assert "decompresses to more than 1,048,576 bytes" in error["message"]
            assert "LOGSLUICE_INGEST_MAX_DECODED_BYTES" in error["message"]
        assert _count(client, url) == 0
