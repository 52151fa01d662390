"""Many nodes on one lake, as a new user runs them: PostgreSQL (task store and lake catalog) and
an S3 server (the lake's data), two ``logsluice serve`` nodes and a ``logsluice worker``.

The two nodes ingest the two halves of one file at once; every search, ``| SQL`` aggregation and
the export the worker runs (it reads the lake directly, not through a node) are compared with the
same computation done independently over the file with pyarrow; forbidden constructs are refused.
A node killed with SIGKILL in the middle of an ingest loses no record it acknowledged and doubles
none. One keyed request sent to both nodes at once is stored once and answered alike. The S3
endpoint and keys reach the nodes through the standard ``AWS_*`` variables only.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import zstandard

from tests.acceptance.conftest import LOGSLUICE, free_port
from tests.contract.conftest_lake import new_s3_bucket
from tests.s3_server import S3Server

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.timeout(900)]

ROWS = 200_000
START = datetime(2026, 3, 1, tzinfo=UTC)
TOKEN = "lake-nodes-token"
PROJECT_URL = "/api/v1/projects/lake"
LOGSTORE_URL = f"{PROJECT_URL}/logstores/events"
WHOLE_RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-04T00:00:00Z"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """ROWS records over two days with distinct times and a unique ``number``."""
    step_us = 2 * 86_400_000_000 // ROWS
    numbers = pa.array(range(ROWS), pa.int64())
    times = pc.add(pc.multiply(numbers, step_us), int(START.timestamp() * 1_000_000))
    return pa.table(
        {
            "timestamp": times.cast(pa.timestamp("us", "UTC")),
            "number": numbers,
            "level": pa.array([("INFO", "WARN", "ERROR", "INFO")[n % 4] for n in range(ROWS)]),
            "status": pa.array([200 + (n % 5) * 100 for n in range(ROWS)], pa.int64()),
            "message": pa.array([f"event {n} from host-{n % 7}" for n in range(ROWS)]),
        }
    )


class Cluster:
    """The processes of one lake deployment; all are killed at the end."""

    def __init__(self, directory: Path, environment: dict[str, str]) -> None:
        self.directory = directory
        self.environment = environment
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *arguments: str) -> subprocess.Popen[bytes]:
        log = (self.directory / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [LOGSLUICE, *arguments], env=self.environment, stdout=log, stderr=log
        )
        self.processes.append(process)
        return process

    def serve(self, name: str) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        process = self.start(name, "serve", "--port", str(port), "--no-workers")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, (self.directory / f"{name}.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return process, url
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"{name} did not start")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def cluster(
    tmp_path: Path,
    postgresql_database_factory: Callable[[], str],
    s3_server: S3Server,
) -> Iterator[Cluster]:
    bucket = new_s3_bucket(s3_server)
    lake_url = f"ducklake:{postgresql_database_factory()}?data_path=s3://{bucket}/lake"
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LOGSLUICE_", "AWS_"))
    }
    environment |= s3_server.environment() | {
        "LOGSLUICE_DATA_DIR": str(tmp_path / "data"),
        "LOGSLUICE_DATABASE_URL": postgresql_database_factory(),
        "LOGSLUICE_LOG_STORE_URL": lake_url,
        "LOGSLUICE_ADMIN_TOKEN": TOKEN,
        "LOGSLUICE_TASK_ROWS_PER_SLICE": "50000",
        "LOGSLUICE_JANITOR_INTERVAL": "1",
    }
    running = Cluster(tmp_path, environment)
    yield running
    running.stop()


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)


def _create_logstore(url: str) -> None:
    with _client(url) as client:
        assert client.post("/api/v1/projects", json={"name": "lake"}).status_code == 201
        body = {"name": "events", "retention_days": 3650}
        created = client.post(f"{PROJECT_URL}/logstores", json=body)
        assert created.status_code == 201, created.text


def _ingest(cluster: Cluster, url: str, path: Path) -> subprocess.Popen[bytes]:
    environment = cluster.environment | {"LOGSLUICE_SERVER": url, "LOGSLUICE_TOKEN": TOKEN}
    command = [LOGSLUICE, "ingest", "-p", "lake", "-l", "events", "--chunk-records", "25000"]
    return subprocess.Popen([*command, str(path)], env=environment)


def _query(url: str, text: str, limit: int = 100) -> dict[str, Any]:
    with _client(url) as client:
        response = client.post(
            f"{LOGSTORE_URL}/query", json={"query": text, "limit": limit, **WHOLE_RANGE}
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


def _export(url: str, query: str) -> bytes:
    spec = {"logstore": "events", "query": query, **WHOLE_RANGE, "format": "csv"}
    with _client(url) as client:
        created = client.post(f"{PROJECT_URL}/download-tasks", json={**spec, "compression": "zstd"})
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            task = client.get(f"{PROJECT_URL}/download-tasks/{task_id}").json()
            if task["status"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.3)
        assert task["status"] == "SUCCEEDED", task
        link = client.get(f"{PROJECT_URL}/download-tasks/{task_id}/link").json()["url"]
        data = httpx.get(link, timeout=120).content
    return zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True).read()


def test_two_nodes_ingest_halves_and_a_worker_exports_from_the_lake(
    cluster: Cluster, dataset: pa.Table, tmp_path: Path
) -> None:
    halves = [dataset.slice(0, ROWS // 2), dataset.slice(ROWS // 2)]
    paths = [tmp_path / f"half-{index}.parquet" for index in (0, 1)]
    for half, path in zip(halves, paths, strict=True):
        pq.write_table(half, path)
    (_, first_url), (_, second_url) = cluster.serve("serve-a"), cluster.serve("serve-b")
    _create_logstore(first_url)
    ingests = [_ingest(cluster, first_url, paths[0]), _ingest(cluster, second_url, paths[1])]
    assert [ingest.wait(timeout=600) for ingest in ingests] == [0, 0]
    worker = cluster.start("worker", "worker", "--server", "http://127.0.0.1:9")  # never used

    for url in (first_url, second_url):
        assert _query(url, "*")["count"] == ROWS
        errors = pc.sum(pc.equal(dataset.column("level"), "ERROR")).as_py()
        assert _query(url, "level:ERROR AND status>=300")["count"] == sum(
            1
            for level, status in zip(
                dataset.column("level").to_pylist(),
                dataset.column("status").to_pylist(),
                strict=True,
            )
            if level == "ERROR" and status >= 300
        )
        assert _query(url, "level:ERROR")["count"] == errors
    aggregated = _query(
        first_url,
        "* | select level, count(*) as n, sum(number) as total group by level order by level",
    )
    expected = dataset.group_by("level").aggregate([("number", "count"), ("number", "sum")])
    expected = expected.sort_by("level")
    assert aggregated["rows"] == [
        [level, count, total]
        for level, count, total in zip(
            expected.column("level").to_pylist(),
            expected.column("number_count").to_pylist(),
            expected.column("number_sum").to_pylist(),
            strict=True,
        )
    ]

    exported = _export(second_url, "status>=400")
    rows = list(csv.DictReader(io.StringIO(exported.decode())))
    numbers = sorted(int(row["number"]) for row in rows)
    mask = pc.greater_equal(dataset.column("status"), 400)
    assert numbers == sorted(dataset.filter(mask).column("number").to_pylist())
    assert "records from the lake" in (tmp_path / "worker.log").read_text()
    assert worker.poll() is None

    for forbidden in (
        "* | select * from read_parquet('s3://x/lake/*.parquet')",
        "* | select * from lake.main.events",
        "* | select count(*) from __ducklake_metadata_lake.main.ducklake_data_file",
        "* | attach 'ducklake:x' as other",
        "* | select * from duckdb_secrets()",
    ):
        with _client(first_url) as client:
            response = client.post(
                f"{LOGSTORE_URL}/query", json={"query": forbidden, **WHOLE_RANGE}
            )
        assert response.status_code == 400, forbidden
        assert response.json()["error"]["code"] == "invalid_query"


def _post_chunks(url: str, chunks: list[bytes], acknowledged: list[int]) -> None:
    """POST JSON Lines chunks in order; record the index of each one the node acknowledged."""
    with _client(url) as client:
        for index, chunk in enumerate(chunks):
            try:
                response = client.post(
                    f"{LOGSTORE_URL}/records",
                    content=chunk,
                    headers={"Content-Type": "application/x-ndjson"},
                )
            except httpx.TransportError:
                return
            if response.status_code != 200:
                return
            acknowledged.append(index)


def test_a_node_killed_mid_ingest_loses_nothing_acknowledged_and_doubles_nothing(
    cluster: Cluster, dataset: pa.Table
) -> None:
    victim, victim_url = cluster.serve("serve-victim")
    _, survivor_url = cluster.serve("serve-survivor")
    _create_logstore(survivor_url)
    rows = dataset.slice(0, 60_000).to_pylist()
    chunks = [
        b"\n".join(
            orjson.dumps({**row, "timestamp": row["timestamp"].isoformat()})
            for row in rows[start : start + 2_000]
        )
        for start in range(0, len(rows), 2_000)
    ]
    acknowledged: list[int] = []
    sender = threading.Thread(target=_post_chunks, args=(victim_url, chunks, acknowledged))
    sender.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    sender.join(timeout=60)
    assert 5 <= len(acknowledged) < len(chunks), "the node died too late to test anything"

    answer = _query(
        survivor_url, "* | select count(*) as n, count(distinct number) as d, max(number) as top"
    )
    stored, distinct, top = answer["rows"][0]
    assert stored == distinct  # nothing doubled
    acknowledged_rows = len(acknowledged) * 2_000
    # every acknowledged chunk is there, and at most the one in flight besides
    assert acknowledged_rows <= stored <= acknowledged_rows + 2_000
    assert top >= acknowledged_rows - 1
    # the survivor takes the rest (all but the chunk in flight when the node died)
    rest: list[int] = []
    _post_chunks(survivor_url, chunks[len(acknowledged) + 1 :], rest)
    assert len(rest) == len(chunks) - len(acknowledged) - 1
    assert stored + len(rest) * 2_000 == _query(survivor_url, "*")["count"]


def test_one_keyed_request_sent_to_two_nodes_at_once_is_stored_once(
    cluster: Cluster, dataset: pa.Table
) -> None:
    """A client's request with an Idempotency-Key reaches both nodes at the same instant (a retry
    through a load balancer), round after round: each round's records are stored once, and both
    nodes answer with the same counts (one of them as a replay, ADR 0027)."""
    _, first_url = cluster.serve("serve-first")
    _, second_url = cluster.serve("serve-second")
    _create_logstore(first_url)
    rounds, size = 8, 500
    rows = dataset.slice(0, rounds * size).to_pylist()
    both_sent = threading.Barrier(2, timeout=60)
    for round_number in range(rounds):
        body = b"\n".join(
            orjson.dumps({**row, "timestamp": row["timestamp"].isoformat()})
            for row in rows[round_number * size : (round_number + 1) * size]
        )
        answers: dict[str, httpx.Response] = {}

        def send(
            url: str,
            body: bytes = body,
            round_number: int = round_number,
            answers: dict[str, httpx.Response] = answers,
        ) -> None:
            headers = {
                "Content-Type": "application/x-ndjson",
                "Idempotency-Key": f"round-{round_number}",
            }
            with _client(url) as client:
                both_sent.wait()
                answers[url] = client.post(f"{LOGSTORE_URL}/records", content=body, headers=headers)

        threads = [threading.Thread(target=send, args=(url,)) for url in (first_url, second_url)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        results = [answers[url] for url in (first_url, second_url)]
        assert [result.status_code for result in results] == [200, 200], results[0].text
        first, second = (result.json() for result in results)
        # one stored the records, the other was answered from its receipt, with the same counts
        assert sorted([first.pop("replayed"), second.pop("replayed")]) == [False, True]
        assert first == second
        assert first["accepted"] == size
    answer = _query(first_url, "* | select count(*) as n, count(distinct number) as d")
    assert answer["rows"][0] == [rounds * size, rounds * size]  # each round stored once
