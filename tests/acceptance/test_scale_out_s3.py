"""The scale-out deployment of ``docs/deploy.md`` with real processes: PostgreSQL as the task
store, an S3 server (moto) as the artifact store, ``logsluice serve --no-workers`` and two
``logsluice worker`` processes with data directories of their own. Exports in every format land
in the bucket with their manifest (sha256 equal), links are presigned URLs of the objects, delete
leaves no object and no unfinished upload, and a sink registered with ``logsluice sink add``
receives the file of a task that names it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet

from tests.acceptance.conftest import LOGSLUICE, free_port
from tests.acceptance.test_tasks_crash_recovery import Processes, postgresql_url  # noqa: F401
from tests.integration.tasks_support import decompress
from tests.s3_server import S3Bucket

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.timeout(300)]

TOKEN = "scale-out-" + secrets.token_hex(8)
PROJECT = "/api/v1/projects/shop"
TASKS = f"{PROJECT}/download-tasks"
RECORDS = 20_000
RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop_all()


def environment(base: Path, name: str, postgresql: str, bucket: S3Bucket) -> dict[str, str]:
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("LOGSLUICE")}
    cipher_key = (base / "cipher-key").read_text()
    return (
        inherited
        | bucket.server.environment()
        | {
            "LOGSLUICE_DATA_DIR": str(base / name),
            "LOGSLUICE_DATABASE_URL": postgresql,
            "LOGSLUICE_ARTIFACT_STORE_URL": bucket.url("artifacts"),
            "LOGSLUICE_ADMIN_TOKEN": TOKEN,
            "LOGSLUICE_LINK_SECRET": "link-" + "0" * 40,
            "LOGSLUICE_ACCESS_KEY_CIPHER_KEY": cipher_key,
            "LOGSLUICE_TASK_ROWS_PER_SLICE": "4000",
            "LOGSLUICE_JANITOR_INTERVAL": "1",
            "LOGSLUICE_DISK_RESERVE_BYTES": "0",
        }
    )


def bucket_client(bucket: S3Bucket) -> Any:
    return bucket.server.client()


def records() -> bytes:
    lines = (
        orjson.dumps(
            {
                "timestamp": f"2026-03-01T{index % 24:02d}:{index % 60:02d}:{index % 59:02d}Z",
                "level": ("INFO", "WARN", "ERROR")[index % 3],
                "status": 200 + (index % 4) * 100,
                "message": f"order {index} placed",
            }
        )
        for index in range(RECORDS)
    )
    return b"\n".join(lines) + b"\n"


def wait_succeeded(client: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"{TASKS}/{task_id}").json()
        if task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert task["status"] == "SUCCEEDED", task
            return task
        time.sleep(0.3)
    raise AssertionError(f"task {task_id} did not finish")


def row_count(content: bytes, export_format: str, compression: str) -> int:
    if export_format == "parquet":
        return int(pq.read_table(io.BytesIO(content)).num_rows)
    lines = decompress(content, compression).splitlines()
    return len(lines) - (1 if export_format == "csv" else 0)


def test_a_worker_fleet_exports_into_the_bucket(
    tmp_path: Path,
    processes: Processes,
    s3_bucket: S3Bucket,
    postgresql_url: str,  # noqa: F811
) -> None:
    (tmp_path / "cipher-key").write_text(Fernet.generate_key().decode())  # shared by all nodes
    serving = environment(tmp_path, "api", postgresql_url, s3_bucket)
    port = free_port()
    processes.serve(serving, port, "--no-workers")
    server_url = f"http://127.0.0.1:{port}"
    for name in ("worker-a", "worker-b"):
        worker_environment = environment(tmp_path, name, postgresql_url, s3_bucket)
        processes.start(name, worker_environment, "worker", "--server", server_url)
    client = httpx.Client(
        base_url=server_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    assert client.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
    assert client.post(f"{PROJECT}/logstores", json={"name": "orders"}).status_code == 201
    ingested = client.post(f"{PROJECT}/logstores/orders/records", content=records())
    assert ingested.json()["accepted"] == RECORDS

    formats = [("csv", "zstd"), ("jsonl", "gzip"), ("parquet", "none")]
    created = [
        client.post(
            TASKS,
            json={"logstore": "orders", "format": fmt, "compression": compression, **RANGE},
        ).json()
        for fmt, compression in formats
    ]
    s3 = bucket_client(s3_bucket)
    for task, (fmt, compression) in zip(created, formats, strict=True):
        done = wait_succeeded(client, task["id"])
        prefix = f"artifacts/shop/{task['id']}/"
        content = s3.get_object(Bucket=s3_bucket.name, Key=prefix + done["file_name"])["Body"]
        data = content.read()
        manifest = json.loads(
            s3.get_object(Bucket=s3_bucket.name, Key=prefix + "manifest.json")["Body"].read()
        )
        assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
        assert row_count(data, fmt, compression) == RECORDS
        link = client.get(f"{TASKS}/{task['id']}/link").json()["url"]
        assert link.startswith(f"{s3_bucket.server.endpoint}/{s3_bucket.name}/{prefix}")
        assert httpx.get(link, headers={"Range": "bytes=0-99"}).content == data[:100]

    for task in created:
        assert client.delete(f"{TASKS}/{task['id']}").status_code == 204
    deadline = time.monotonic() + 30
    while s3.list_objects_v2(Bucket=s3_bucket.name).get("KeyCount", 0) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert s3.list_objects_v2(Bucket=s3_bucket.name).get("KeyCount", 0) == 0
    assert not s3.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads")

    sink_add = [
        LOGSLUICE,
        "sink",
        "add",
        "--project",
        "shop",
        "--name",
        "oss-main",
        "--endpoint",
        s3_bucket.server.endpoint,
        "--bucket",
        s3_bucket.name,
        "--prefix",
        "customer",
        "--access-key",
        s3_bucket.server.access_key_id,
        "--secret",
        s3_bucket.server.secret_access_key,
    ]
    cli = serving | {"LOGSLUICE_SERVER": server_url, "LOGSLUICE_TOKEN": TOKEN}
    added = subprocess.run(sink_add, env=cli, capture_output=True, text=True, check=False)
    assert added.returncode == 0, added.stderr
    listed = subprocess.run(
        [LOGSLUICE, "sink", "list", "-p", "shop", "--json"], env=cli, capture_output=True, text=True
    )
    assert s3_bucket.server.secret_access_key not in listed.stdout
    assert json.loads(listed.stdout)[0]["name"] == "oss-main"
    task_create = [LOGSLUICE, "task", "create", "-p", "shop", "-l", "orders", "--json"]
    period = ["--from", RANGE["from"], "--to", RANGE["to"], "--format", "csv"]
    sink = ["--sink", "oss-main", "--sink-prefix", "from-cli"]
    answer = subprocess.run(
        [*task_create, *period, *sink], env=cli, capture_output=True, text=True, check=False
    )
    assert answer.returncode == 0, answer.stderr
    to_sink = json.loads(answer.stdout)
    done = wait_succeeded(client, to_sink["id"])
    key = f"customer/from-cli/shop/{to_sink['id']}/{done['file_name']}"
    data = s3.get_object(Bucket=s3_bucket.name, Key=key)["Body"].read()
    assert row_count(data, "csv", "none") == RECORDS


def wait_mid_export(client: httpx.Client, task_id: str, least_rows: int, total: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        task = client.get(f"{TASKS}/{task_id}").json()
        assert task["status"] in ("QUEUED", "RUNNING"), task
        if task["status"] == "RUNNING" and task["rows_written"] >= least_rows:
            assert task["rows_written"] < total, "the export finished before a worker was killed"
            return
        time.sleep(0.05)
    raise AssertionError("the task never got going")


def test_a_worker_killed_mid_export_leaves_every_row_once_in_the_bucket(
    tmp_path: Path,
    processes: Processes,
    s3_bucket: S3Bucket,
    postgresql_url: str,  # noqa: F811
) -> None:
    total = 200_000
    (tmp_path / "cipher-key").write_text(Fernet.generate_key().decode())
    serving = environment(tmp_path, "api", postgresql_url, s3_bucket) | {
        "LOGSLUICE_TASK_LEASE": "3",
        "LOGSLUICE_TASK_ROWS_PER_SLICE": "10000",
    }
    port = free_port()
    processes.serve(serving, port, "--no-workers")
    server_url = f"http://127.0.0.1:{port}"
    client = httpx.Client(
        base_url=server_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
    )
    assert client.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
    assert client.post(f"{PROJECT}/logstores", json={"name": "orders"}).status_code == 201
    lines = (
        orjson.dumps({"timestamp": f"2026-03-01T00:00:00.{index:06d}Z", "n": index})
        for index in range(total)
    )
    body = b"\n".join(lines) + b"\n"
    assert client.post(f"{PROJECT}/logstores/orders/records", content=body).json()["accepted"] == (
        total
    )

    def start_worker(name: str) -> subprocess.Popen[bytes]:
        overrides = serving_overrides(serving)
        worker_environment = environment(tmp_path, name, postgresql_url, s3_bucket) | overrides
        return processes.start(name, worker_environment, "worker", "--server", server_url)

    # One worker takes the task and is killed as soon as it runs it (a quiet machine exports
    # 200,000 rows in about a second: waiting for rows would often miss the middle); the second
    # worker, started after the kill, finishes it once the first one's slice lease lapses.
    first = start_worker("worker-a")
    spec = {"logstore": "orders", "format": "csv", "compression": "zstd", **RANGE}
    task = client.post(TASKS, json=spec).json()
    wait_mid_export(client, task["id"], 0, total)
    first.send_signal(signal.SIGKILL)
    first.wait()
    start_worker("worker-b")
    done = wait_succeeded(client, task["id"])
    s3 = bucket_client(s3_bucket)
    prefix = f"artifacts/shop/{task['id']}/"
    data = s3.get_object(Bucket=s3_bucket.name, Key=prefix + done["file_name"])["Body"].read()
    manifest = json.loads(
        s3.get_object(Bucket=s3_bucket.name, Key=prefix + "manifest.json")["Body"].read()
    )
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    rows = decompress(data, "zstd").decode().splitlines()[1:]
    numbers = sorted(int(row.rsplit(",", 1)[-1]) for row in rows)
    assert numbers == list(range(total))  # every row exactly once
    assert client.delete(f"{TASKS}/{task['id']}").status_code == 204
    deadline = time.monotonic() + 30
    while s3.list_objects_v2(Bucket=s3_bucket.name).get("KeyCount", 0) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert s3.list_objects_v2(Bucket=s3_bucket.name).get("KeyCount", 0) == 0
    assert not s3.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads")


def serving_overrides(serving: dict[str, str]) -> dict[str, str]:
    """The task settings every node of one deployment shares."""
    return {
        name: serving[name] for name in ("LOGSLUICE_TASK_LEASE", "LOGSLUICE_TASK_ROWS_PER_SLICE")
    }
