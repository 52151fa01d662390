"""Ingest over the native API: formats, encodings, partial and strict batches, limits."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import orjson
import zstandard
from fastapi.testclient import TestClient

from tests.integration.api_checks import assert_error, authorized_client
from tests.integration.conftest import ServerFactory

ALL_TIME = {"query": "*", "from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}


def _records(count: int) -> list[dict[str, object]]:
    return [
        {"timestamp": f"2026-03-01T00:00:{index % 60:02d}Z", "message": f"line {index}", "n": index}
        for index in range(count)
    ]


def _jsonl(records: list[dict[str, object]]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def _count(client: TestClient, logstore_url: str, query: str = "*") -> int:
    response = client.post(f"{logstore_url}/query", json={**ALL_TIME, "query": query})
    assert response.status_code == 200, response.text
    count: int = response.json()["count"]
    return count


def test_json_lines_and_json_array(client: TestClient, logstore_url: str) -> None:
    url = f"{logstore_url}/records"
    jsonl = client.post(
        url, content=_jsonl(_records(5)), headers={"Content-Type": "application/x-ndjson"}
    )
    assert jsonl.json() == {
        "accepted": 5,
        "rejected": 0,
        "errors": [],
        "errors_truncated": False,
        "past_retention": 5,  # March 2026 is older than 30 days (the clock is the system's)
        "retention_days": 30,
        "replayed": False,
    }
    array = client.post(url, json=_records(3))
    assert array.json()["accepted"] == 3
    sniffed_array = client.post(url, content=orjson.dumps(_records(2)))
    assert sniffed_array.json()["accepted"] == 2
    sniffed_lines = client.post(url, content=_jsonl(_records(4)))
    assert sniffed_lines.json()["accepted"] == 4
    assert _count(client, logstore_url) == 14


def test_gzip_and_zstd_bodies(client: TestClient, logstore_url: str) -> None:
    url = f"{logstore_url}/records"
    body = _jsonl(_records(10))
    for encoding, encoded in (
        ("gzip", gzip.compress(body)),
        ("zstd", zstandard.ZstdCompressor().compress(body)),
    ):
        response = client.post(url, content=encoded, headers={"Content-Encoding": encoding})
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 10
    assert _count(client, logstore_url) == 20


def test_corrupt_compressed_body_is_400(client: TestClient, logstore_url: str) -> None:
    response = client.post(
        f"{logstore_url}/records", content=b"not gzip at all", headers={"Content-Encoding": "gzip"}
    )
    assert_error(response, 400, "invalid_input")
    assert _count(client, logstore_url) == 0


def test_partial_batch_keeps_good_records_and_names_bad_lines(
    client: TestClient, logstore_url: str
) -> None:
    body = b"\n".join(
        [
            b'{"timestamp": "2026-03-01T00:00:00Z", "message": "good one"}',
            b'{"timestamp": "yesterday", "message": "bad time"}',
            b'{"message": "no time: arrival time is used"}',
            b"{not json",
            b'{"timestamp": 1772323200, "message": "epoch seconds"}',
        ]
    )
    result = client.post(f"{logstore_url}/records", content=body).json()
    assert result["accepted"] == 3
    assert result["rejected"] == 2
    assert [error["line"] for error in result["errors"]] == [2, 4]
    assert all(error["message"] for error in result["errors"])
    assert _count(client, logstore_url) == 3


def test_strict_batch_refuses_everything(client: TestClient, logstore_url: str) -> None:
    body = _jsonl(_records(3)) + b'{"timestamp": "never"}\n'
    response = client.post(f"{logstore_url}/records", params={"strict": "true"}, content=body)
    error = assert_error(response, 400, "invalid_records")
    assert [entry["line"] for entry in error["details"]["errors"]] == [4]
    assert _count(client, logstore_url) == 0
    clean = client.post(
        f"{logstore_url}/records", params={"strict": "true"}, content=_jsonl(_records(3))
    )
    assert clean.json()["accepted"] == 3


def test_logstream_parameter_labels_records(client: TestClient, logstore_url: str) -> None:
    client.post(
        f"{logstore_url}/records", params={"logstream": "edge"}, content=_jsonl(_records(3))
    )
    assert _count(client, logstore_url, "logstream:edge") == 3


def test_unknown_logstore_and_project_are_404(client: TestClient, logstore_url: str) -> None:
    body = _jsonl(_records(1))
    assert_error(
        client.post("/api/v1/projects/web/logstores/nope/records", content=body),
        404,
        "logstore_not_found",
    )
    assert_error(
        client.post("/api/v1/projects/nope/logstores/app/records", content=body),
        404,
        "project_not_found",
    )


def test_body_over_the_limit_is_413(make_server: ServerFactory) -> None:
    server = make_server(ingest_max_body_bytes=2048)
    with authorized_client(server) as client:
        client.post("/api/v1/projects", json={"name": "web"})
        client.post("/api/v1/projects/web/logstores", json={"name": "app"})
        url = "/api/v1/projects/web/logstores/app/records"
        error = assert_error(
            client.post(url, content=_jsonl(_records(100))), 413, "payload_too_large"
        )
        assert error["details"]["limit_bytes"] == 2048
        assert client.post(url, content=_jsonl(_records(5))).json()["accepted"] == 5


def test_decoded_size_over_the_limit_is_413(make_server: ServerFactory) -> None:
    server = make_server(ingest_max_decoded_bytes=4096)
    with authorized_client(server) as client:
        client.post("/api/v1/projects", json={"name": "web"})
        client.post("/api/v1/projects/web/logstores", json={"name": "app"})
        url = "/api/v1/projects/web/logstores/app/records"
        bomb = gzip.compress(_jsonl([{"message": "x" * 1000}] * 200))
        response = client.post(url, content=bomb, headers={"Content-Encoding": "gzip"})
        assert_error(response, 413, "payload_too_large")


def test_reported_errors_are_capped(make_server: ServerFactory) -> None:
    server = make_server(ingest_max_errors_reported=3)
    with authorized_client(server) as client:
        client.post("/api/v1/projects", json={"name": "web"})
        client.post("/api/v1/projects/web/logstores", json={"name": "app"})
        body = b'{"timestamp": "bad"}\n' * 10 + _jsonl(_records(2))
        result = client.post("/api/v1/projects/web/logstores/app/records", content=body).json()
    assert result["accepted"] == 2
    assert result["rejected"] == 10
    assert [error["line"] for error in result["errors"]] == [1, 2, 3]
    assert result["errors_truncated"] is True


def test_types_widen_across_batches(client: TestClient, logstore_url: str) -> None:
    url = f"{logstore_url}/records"
    client.post(url, content=b'{"timestamp": 1772323200, "code": 7}\n')
    client.post(url, content=b'{"timestamp": 1772323201, "code": "E42"}\n')
    fields = {field["name"]: field["type"] for field in client.get(logstore_url).json()["fields"]}
    assert fields["code"] == "varchar"
    assert _count(client, logstore_url, "code:E42") == 1
    assert _count(client, logstore_url, "code:7") == 1


def _now_text(offset: timedelta) -> str:
    return (datetime.now(UTC) + offset).isoformat()


def test_records_older_than_the_retention_are_counted(
    client: TestClient, logstore_url: str
) -> None:
    records = [
        {"timestamp": _now_text(-timedelta(days=40)), "message": "old"},
        {"timestamp": _now_text(-timedelta(days=29)), "message": "kept"},
        {"message": "arrives now"},
    ]
    result = client.post(f"{logstore_url}/records", content=_jsonl(records)).json()
    assert (result["accepted"], result["past_retention"], result["retention_days"]) == (3, 1, 30)


def test_common_log_times_and_an_explicit_time_format(
    client: TestClient, logstore_url: str
) -> None:
    url = f"{logstore_url}/records"
    csv_body = (
        "timestamp,request,status\n"
        '06/Nov/2026:00:04:20 +0000,"GET / HTTP/1.1",200\n'
        "[06/Nov/2026:01:04:21 +0100],GET /x,503\n"
        "Nov  6 00:04:22,GET /y,500\n"
    )
    stored = client.post(url, content=csv_body, headers={"Content-Type": "text/csv"}).json()
    assert (stored["accepted"], stored["rejected"]) == (3, 0)
    formatted = client.post(
        url,
        params={"time_format": "%d.%m.%Y %H:%M:%S"},
        content=_jsonl([{"timestamp": "06.11.2026 00:04:23"}, {"timestamp": "2026-11-06"}]),
    ).json()
    assert (formatted["accepted"], formatted["rejected"]) == (1, 1)
    assert "is not in the time format '%d.%m.%Y %H:%M:%S'" in formatted["errors"][0]["message"]
    body = {"query": "*", "from": "2026-11-06T00:00:00Z", "to": "2026-11-07T00:00:00Z"}
    times = [row[0] for row in client.post(f"{logstore_url}/query", json=body).json()["rows"]]
    assert sorted(times) == [f"2026-11-06T00:04:2{second}Z" for second in range(4)]


def test_a_time_format_that_cannot_be_used_is_a_400(client: TestClient, logstore_url: str) -> None:
    response = client.post(
        f"{logstore_url}/records",
        params={"time_format": "%H:%f"},
        content=_jsonl([{"timestamp": "00:01.5"}]),
    )
    assert_error(response, 400, "invalid_input")
