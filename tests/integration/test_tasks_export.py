"""Download tasks end to end on the embedded stores: every format × compression, asc and desc,
limits, searches and ``| SQL``; the file is decoded, parsed and compared row by row with the
synchronous query, and its sha256 with the manifest's."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    TASKS_URL,
    append,
    create,
    decompress,
    download,
    generate_records,
    get,
    load,
    query_rows,
    read_rows,
    run_queued,
)

RECORDS = generate_records(1500)
FORMATS = ("csv", "jsonl", "parquet")
COMPRESSIONS = ("none", "gzip", "zstd", "lz4")


@pytest.fixture
def server(make_server: ServerFactory) -> Server:
    # Small slices and batches so every export crosses several slice and frame boundaries.
    return make_server(task_rows_per_slice=200, task_batch_rows=64, workers=0)


@pytest.fixture
def client(server: Server) -> Iterator[TestClient]:
    with authorized_client(server) as test_client:
        load(test_client, RECORDS)
        yield test_client


def _export(client: TestClient, server: Server, **spec: Any) -> tuple[dict[str, Any], bytes]:
    task = create(client, **spec)
    assert task["status"] == "QUEUED"
    assert run_queued(server) == 1
    finished = get(client, task["id"])
    assert finished["status"] == "SUCCEEDED", finished
    data = download(client, task["id"])
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert hashlib.sha256(data).hexdigest() == manifest["sha256"]
    assert len(data) == manifest["bytes"] == finished["bytes_written"]
    return finished, data


def _times_in_order(rows: list[list[str]], order: str) -> None:
    times = [row[0] for row in rows]
    assert times == sorted(times, reverse=order == "desc")


@pytest.mark.parametrize("export_format", FORMATS)
@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_every_format_and_compression_holds_exactly_the_query_rows(
    client: TestClient, server: Server, export_format: str, compression: str
) -> None:
    query = "status>=500 OR level:WARN"
    task, data = _export(client, server, query=query, format=export_format, compression=compression)
    expected_columns, expected_rows = query_rows(client, query)
    outer = "none" if export_format == "parquet" else compression
    columns, rows = read_rows(decompress(data, outer), export_format)
    assert columns == expected_columns
    assert columns[0] == "timestamp"
    assert Counter(map(tuple, rows)) == Counter(map(tuple, expected_rows))
    _times_in_order(rows, "asc")
    assert task["rows_written"] == len(expected_rows) == task["estimate"]["rows"]
    assert task["progress"] == 100.0
    assert task["truncated"] is False


@pytest.mark.parametrize("export_format", FORMATS)
def test_desc_with_a_limit_is_the_newest_rows_and_truncated(
    client: TestClient, server: Server, export_format: str
) -> None:
    task, data = _export(
        client, server, query="*", order="desc", limit=333, format=export_format, compression="zstd"
    )
    _, expected = query_rows(client, "*", order="desc", limit=333)
    outer = "none" if export_format == "parquet" else "zstd"
    _, rows = read_rows(decompress(data, outer), export_format)
    assert len(rows) == 333 == task["rows_written"]
    _times_in_order(rows, "desc")
    assert {row[0] for row in rows} <= {row[0] for row in expected} | {expected[-1][0]}
    assert min(row[0] for row in rows) == expected[-1][0]
    assert task["truncated"] is True
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert manifest["status"] == "truncated"


def test_a_limit_above_the_result_is_complete(client: TestClient, server: Server) -> None:
    task, data = _export(client, server, query="level:ERROR", limit=10_000, format="csv")
    _, expected = query_rows(client, "level:ERROR")
    _, rows = read_rows(data, "csv")
    assert len(rows) == len(expected) == task["rows_written"]
    assert task["truncated"] is False


def test_a_sql_query_exports_its_own_columns_and_rows(client: TestClient, server: Server) -> None:
    query = (
        "status>=500 | select host, level, count(*) as n group by host, level order by host, level"
    )
    task, data = _export(client, server, query=query, format="jsonl", compression="gzip")
    expected_columns, expected_rows = query_rows(client, query)
    columns, rows = read_rows(decompress(data, "gzip"), "jsonl")
    assert columns == expected_columns == ["host", "level", "n"]
    assert rows == expected_rows
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert len(manifest["slices"]) == 1
    assert "count" in manifest["compiled_query"].lower()


def test_the_manifest_lists_slices_that_add_up(client: TestClient, server: Server) -> None:
    task, data = _export(client, server, query="*", format="csv", compression="gzip")
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert manifest["status"] == "complete"
    assert len(manifest["slices"]) >= len(RECORDS) // 200
    assert sum(item["rows"] for item in manifest["slices"]) == manifest["rows"] == len(RECORDS)
    ends = [item["byte_range"][1] for item in manifest["slices"]]
    assert ends == sorted(ends)
    assert ends[-1] <= len(data)
    assert manifest["spec"]["query"] == "*"
    assert manifest["time_range"] == {
        "start": "2026-03-01T00:00:00Z",
        "end": "2026-03-01T06:00:00Z",
    }


def test_csv_options_and_time_zone_are_honoured(client: TestClient, server: Server) -> None:
    _, data = _export(
        client,
        server,
        query="level:ERROR",
        format="csv",
        csv={"header": False, "delimiter": ";", "escape_formulas": True},
        timezone="Asia/Shanghai",
    )
    lines = data.decode().splitlines()
    assert not lines[0].startswith('"timestamp"')
    assert ";" in lines[0]
    assert "+08:00" in lines[0]


def test_a_logstream_narrows_the_export(client: TestClient, server: Server) -> None:
    append(
        client, [{"timestamp": "2026-03-01T01:00:00Z", "message": "only here"}], logstream="edge"
    )
    _, data = _export(client, server, query="*", logstream="edge", format="jsonl")
    _, rows = read_rows(data, "jsonl")
    assert len(rows) == 1
