"""Crash recovery of download tasks with real processes: ``logsluice serve`` killed with SIGKILL in
the middle of a large export and restarted, and a ``logsluice worker`` killed while another one
survives (on PostgreSQL as the task store; both workers run slices of the one task; once with the
DuckDB file, workers reading through serve, and once with a lake on PostgreSQL + S3, workers reading
the lake). Each time the task finishes, after the dead process's slice ran again, with a file
byte-for-byte equal (decompressed) to an uninterrupted export's."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from logsluice.adapters.sql import SqlTaskStore, create_sql_engine
from tests.acceptance.conftest import LOGSLUICE, free_port
from tests.contract.conftest_lake import new_s3_bucket
from tests.s3_server import S3Server

# Each test ingests 1M records through the CLI and exports them twice: ~1 min on a quiet 2-core
# machine, several under load; the timeout only bounds a hang.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROWS = 1_000_000
START = datetime(2026, 3, 1, tzinfo=UTC)
TOKEN = "acceptance-" + secrets.token_hex(8)
PROJECT_URL = "/api/v1/projects/crash"
TASKS_URL = f"{PROJECT_URL}/download-tasks"
SPEC = {
    "logstore": "events",
    "query": "*",
    "from": "2026-03-01T00:00:00Z",
    "to": "2026-03-02T00:00:00Z",
    "format": "csv",
    "compression": "zstd",
}
POSTGRESQL_SERVER = "postgresql://postgres@127.0.0.1:5432"


def _environment(data_dir: Path, **settings: str) -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("LOGSLUICE_")
    }
    return environment | {
        "LOGSLUICE_DATA_DIR": str(data_dir),
        "LOGSLUICE_ADMIN_TOKEN": TOKEN,
        "LOGSLUICE_TASK_ROWS_PER_SLICE": "50000",
        "LOGSLUICE_TASK_BATCH_ROWS": "20000",
        "LOGSLUICE_TASK_LEASE": "3",
        "LOGSLUICE_JANITOR_INTERVAL": "1",
        **{
            name if name.startswith("AWS_") else f"LOGSLUICE_{name.upper()}": value
            for name, value in settings.items()
        },
    }


class Processes:
    """The processes a test started; all are killed at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, environment: dict[str, str], *arguments: str
    ) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen([LOGSLUICE, *arguments], env=environment, stdout=log, stderr=log)
        self.started.append(process)
        return process

    def serve(self, environment: dict[str, str], port: int, *extra: str) -> subprocess.Popen[bytes]:
        process = self.start("serve", environment, "serve", "--port", str(port), *extra)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, (self.log_dir / "serve.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return process
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("serve did not start")

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop_all()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Parquet file of ROWS records with distinct timestamps (so the order is total)."""
    step_microseconds = 86_400_000_000 // ROWS
    moments = [START + timedelta(microseconds=index * step_microseconds) for index in range(ROWS)]
    table = pa.table(
        {
            "timestamp": pa.array(moments, pa.timestamp("us", tz="UTC")),
            "level": pa.array([("INFO", "WARN", "ERROR")[index % 3] for index in range(ROWS)]),
            "status": pa.array([200 + (index % 5) * 100 for index in range(ROWS)], pa.int64()),
            "message": pa.array([f"event number {index}" for index in range(ROWS)]),
        }
    )
    path = tmp_path_factory.mktemp("dataset") / "events.parquet"
    pq.write_table(table, path)
    return path


def _client(port: int) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )


def _load(port: int, environment: dict[str, str], dataset: Path) -> None:
    with _client(port) as client:
        assert client.post("/api/v1/projects", json={"name": "crash"}).status_code == 201
        created = client.post(f"{PROJECT_URL}/logstores", json={"name": "events"})
        assert created.status_code == 201
    environment = environment | {
        "LOGSLUICE_SERVER": f"http://127.0.0.1:{port}",
        "LOGSLUICE_TOKEN": TOKEN,
    }
    command = [LOGSLUICE, "ingest", "-p", "crash", "-l", "events", str(dataset)]
    result = subprocess.run(
        [*command, "--chunk-records", "250000"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def _task(port: int, task_id: str) -> dict[str, Any]:
    with _client(port) as client:
        task: dict[str, Any] = client.get(f"{TASKS_URL}/{task_id}").json()
        return task


def _wait_mid_export(port: int, task_id: str) -> None:
    """Return once the task is RUNNING with at least two slices written but far from done."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        task = _task(port, task_id)
        assert task["status"] in ("QUEUED", "RUNNING"), task
        if task["status"] == "RUNNING" and task["rows_written"] >= 100_000:
            assert task["rows_written"] < ROWS, "the export finished before it could be killed"
            return
        time.sleep(0.02)
    raise AssertionError("the task never got going")


def _wait_succeeded(port: int, task_id: str, seconds: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        task = _task(port, task_id)
        if task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert task["status"] == "SUCCEEDED", task
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish")


def _file(port: int, task_id: str) -> bytes:
    with _client(port) as client:
        url = client.get(f"{TASKS_URL}/{task_id}/link").json()["url"]
        data = httpx.get(url, timeout=120).content
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    return reader.read()


def _create(port: int, name: str) -> str:
    with _client(port) as client:
        response = client.post(TASKS_URL, json={**SPEC, "name": name})
        assert response.status_code == 201, response.text
        task_id: str = response.json()["id"]
        return task_id


def _assert_same_export(port: int, resumed_id: str, database_url: str) -> None:
    resumed = _wait_succeeded(port, resumed_id)
    # it really was interrupted and resumed: the dead process finished slices before it died (the
    # task store keeps who finished each), or the slice it held ran again, or the whole task was
    # claimed again
    store = SqlTaskStore(create_sql_engine(database_url))
    slices = store.list_task_slices(resumed_id)
    store.close()
    assert len(slices) == resumed["slices_total"]
    assert all(item.status == "done" for item in slices)
    assert (
        len({item.lease_owner for item in slices}) >= 2
        or max(item.attempts for item in slices) >= 2
        or resumed["attempts"] >= 2
    )
    assert resumed["rows_written"] == ROWS
    reference = _wait_succeeded(port, _create(port, "uninterrupted"))
    resumed_file, reference_file = _file(port, resumed_id), _file(port, reference["id"])
    assert resumed_file.count(b"\n") == ROWS + 1
    assert resumed_file == reference_file


def test_serve_killed_mid_export_resumes_after_restart(
    tmp_path: Path, processes: Processes, dataset: Path
) -> None:
    environment = _environment(tmp_path / "data", workers="1")
    port = free_port()
    server = processes.serve(environment, port)
    _load(port, environment, dataset)
    task_id = _create(port, "interrupted")
    _wait_mid_export(port, task_id)
    server.send_signal(signal.SIGKILL)
    server.wait()
    processes.serve(environment, port)
    _assert_same_export(port, task_id, f"sqlite:///{tmp_path / 'data' / 'logsluice.sqlite3'}")


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh PostgreSQL database (skips when none is reachable, fails under CI=true)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(f"{POSTGRESQL_SERVER}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"PostgreSQL is required under CI=true: {error}") from error
        pytest.skip(f"PostgreSQL unreachable: {error}")
    name = f"logsluice_crash_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRESQL_SERVER}/{name}"
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["duckdb", "lake"])
def store_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    """The log store of the worker test: the DuckDB file (workers read through serve) or a lake
    on PostgreSQL + S3 (workers read the lake directly)."""
    if request.param == "duckdb":
        return {}
    server: S3Server = request.getfixturevalue("s3_server")
    database_factory: Callable[[], str] = request.getfixturevalue("postgresql_database_factory")
    bucket = new_s3_bucket(server)
    lake_url = f"ducklake:{database_factory()}?data_path=s3://{bucket}/lake"
    return {"log_store_url": lake_url, **server.environment()}


@pytest.mark.postgresql
def test_a_killed_worker_process_is_replaced_by_the_survivor(
    tmp_path: Path,
    processes: Processes,
    dataset: Path,
    postgresql_url: str,
    store_settings: dict[str, str],
) -> None:
    environment = _environment(tmp_path / "data", database_url=postgresql_url, **store_settings)
    port = free_port()
    processes.serve(environment, port, "--no-workers")
    _load(port, environment, dataset)
    server_url = f"http://127.0.0.1:{port}"
    workers = {
        name: processes.start(name, environment, "worker", "--server", server_url)
        for name in ("worker-a", "worker-b")
    }
    task_id = _create(port, "interrupted")
    _wait_mid_export(port, task_id)
    # both workers run the task's slices; one of them dies holding one
    running = [name for name in workers if task_id in (tmp_path / f"{name}.log").read_text()]
    assert running
    workers[running[0]].send_signal(signal.SIGKILL)
    workers[running[0]].wait()
    _assert_same_export(port, task_id, postgresql_url)
