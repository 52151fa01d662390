"""Helpers of the download-task integration tests: sample records, running queued tasks with a
real worker, downloading through the link, and reading any exported file back into rows."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import lz4.frame
import orjson
import pyarrow.parquet as pq
import zstandard
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from logsluice.services.worker import Worker, WorkerSettings

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(hours=6)
RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T06:00:00Z"}
TASKS_URL = "/api/v1/projects/web/download-tasks"
LEVELS = ("INFO", "WARN", "ERROR")
HOSTS = ("web-1", "web-2", "web-3")


def generate_records(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """Return ``count`` records over six hours with words, levels, statuses and hosts."""
    rng = random.Random(seed)
    return [
        {
            "timestamp": (START + timedelta(seconds=rng.randrange(0, 6 * 3600))).isoformat(),
            "level": rng.choice(LEVELS),
            "status": rng.choice((200, 200, 404, 500, 503)),
            "host": rng.choice(HOSTS),
            "message": f"request {index} {rng.choice(('completed', 'failed', 'timed out'))}",
        }
        for index in range(count)
    ]


def load(client: TestClient, records: list[dict[str, Any]]) -> None:
    """Create project ``web``, logstore ``app`` and ingest ``records``."""
    assert client.post("/api/v1/projects", json={"name": "web"}).status_code == 201
    assert client.post("/api/v1/projects/web/logstores", json={"name": "app"}).status_code == 201
    append(client, records)


def append(client: TestClient, records: list[dict[str, Any]], **params: str) -> None:
    """Ingest ``records`` into ``web/app`` as one request (``params``: e.g. a logstream)."""
    body = b"".join(orjson.dumps(record) + b"\n" for record in records)
    response = client.post(
        "/api/v1/projects/web/logstores/app/records", params=params, content=body
    )
    assert response.json()["accepted"] == len(records), response.text


def make_worker(server: Server, shutdown: threading.Event | None = None) -> Worker:
    """Return a real worker of the server's runner (the test drives it)."""
    container = server.container
    return Worker(
        container.task_store,
        container.runner,
        container.clock,
        WorkerSettings(max_running_per_project=100),
        worker_id=f"test-worker-{random.randrange(10**6)}",
        shutdown=shutdown or threading.Event(),
    )


def run_queued(server: Server) -> int:
    """Run every queued task to its end in this thread (starting it, then each of its slices);
    return how many task starts there were."""
    worker = make_worker(server)
    started = 0
    while (work := worker.run_once()) is not None:
        started += work.slice is None
    return started


def create(client: TestClient, **spec: Any) -> dict[str, Any]:
    """Create a task over the sample range; assert 201 and return the task."""
    response = client.post(TASKS_URL, json={"logstore": "app", **RANGE, **spec})
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def get(client: TestClient, task_id: str) -> dict[str, Any]:
    response = client.get(f"{TASKS_URL}/{task_id}")
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


def download(client: TestClient, task_id: str, **params: Any) -> bytes:
    """Fetch the task's file through a fresh link (no bearer token)."""
    link = client.get(f"{TASKS_URL}/{task_id}/link", params=params)
    assert link.status_code == 200, link.text
    response = client.get(local_path(link.json()["url"]), headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    return response.content


def local_path(url: str) -> str:
    return url.removeprefix("http://testserver")


def decompress(data: bytes, compression: str) -> bytes:
    """Decode concatenated frames/members the way the standard tools do."""
    if compression == "gzip":
        return gzip.decompress(data)
    if compression == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=True
        )
        return reader.read()
    if compression == "lz4":
        return _lz4_frames(data)
    return data


def _lz4_frames(data: bytes) -> bytes:
    out = bytearray()
    while data:
        decompressor = lz4.frame.LZ4FrameDecompressor()
        out += decompressor.decompress(data)
        data = decompressor.unused_data
    return bytes(out)


def read_rows(data: bytes, export_format: str) -> tuple[list[str], list[list[str]]]:
    """Return the columns and rows of an exported file, every value as canonical text."""
    if export_format == "csv":
        rows = list(csv.reader(io.StringIO(data.decode())))
        return rows[0], [[canonical(value) for value in row] for row in rows[1:]]
    if export_format == "jsonl":
        objects = [json.loads(line) for line in data.decode().splitlines()]
        columns = list(objects[0]) if objects else []
        return columns, [[canonical(item[name]) for name in columns] for item in objects]
    table = pq.read_table(io.BytesIO(data))
    return table.column_names, [
        [canonical(value) for value in row.values()] for row in table.to_pylist()
    ]


def canonical(value: Any) -> str:
    """One text per value whatever the format wrote: times as UTC ISO, null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value).astimezone(UTC).isoformat()
        except ValueError:
            return value
    return str(value)


def query_rows(
    client: TestClient, query: str, order: str = "asc", limit: int = 10_000
) -> tuple[list[str], list[list[str]]]:
    """Return the synchronous query's columns and rows as canonical text."""
    response = client.post(
        "/api/v1/projects/web/logstores/app/query",
        json={"query": query, **RANGE, "order": order, "limit": limit},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    columns = [column["name"] for column in body["columns"]]
    return columns, [[canonical(value) for value in row] for row in body["rows"]]


Check = Callable[[bytes], None]
