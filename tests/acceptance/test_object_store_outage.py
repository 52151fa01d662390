"""The object store goes down in the middle of an export and comes back: the task waits, resumes
and finishes (issue #8, ADR 0024). Real processes: PostgreSQL as the task store, ``rclone serve
s3`` over a directory as the artifact store (killed with SIGKILL and started again on the same port
and directory), ``logsluice serve --no-workers`` and two ``logsluice worker`` processes.

boto3 tries each request twice only (``AWS_MAX_ATTEMPTS=2``), and the store stays down far longer
than that and than a slice's three attempts would last (1 s, then 2 s apart), so what carries the
task through is the runner's own wait. The file then holds every row exactly once, its sha256 is
the manifest's, and delete leaves no object and no unfinished upload.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.fernet import Fernet

from tests.acceptance.conftest import free_port
from tests.acceptance.test_scale_out_s3 import TOKEN
from tests.acceptance.test_scale_out_s3 import environment as fleet_environment
from tests.acceptance.test_tasks_crash_recovery import Processes, postgresql_url  # noqa: F401
from tests.integration.tasks_support import decompress
from tests.s3_server import RestartableS3Server, S3Bucket

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.timeout(300)]

PROJECT = "/api/v1/projects/shop"
TASKS = f"{PROJECT}/download-tasks"
RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
TOTAL = 300_000
ROWS_PER_SLICE = 5_000
OUTAGE_SECONDS = 10


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop_all()


def environment(base: Path, name: str, postgresql: str, bucket: S3Bucket) -> dict[str, str]:
    """The scale-out deployment's settings, with short outage waits and a client that gives up
    within a second (``AWS_MAX_ATTEMPTS``), so the runner's own waiting is what is exercised."""
    return fleet_environment(base, name, postgresql, bucket) | {
        "AWS_MAX_ATTEMPTS": "2",
        "LOGSLUICE_TASK_ROWS_PER_SLICE": str(ROWS_PER_SLICE),
        "LOGSLUICE_TASK_LEASE": "5",
        "LOGSLUICE_OUTAGE_RETRY_MAX_DELAY": "2",
    }


def bucket_client(bucket: S3Bucket) -> Any:
    return bucket.server.client()


def unfinished_uploads(s3: Any, bucket: str) -> list[Any]:
    try:
        return list(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
    except s3.exceptions.NoSuchUpload:  # rclone's answer when there are none
        return []


def records() -> bytes:
    """TOTAL records spread over the day (so the task plans many slices), each its own ``n``."""
    start, step = datetime(2026, 3, 1, tzinfo=UTC), timedelta(days=1) / TOTAL
    lines = (
        orjson.dumps({"timestamp": (start + index * step).isoformat(), "n": index})
        for index in range(TOTAL)
    )
    return b"\n".join(lines) + b"\n"


def wait_for(client: httpx.Client, task_id: str, condition: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"{TASKS}/{task_id}").json()
        if condition(task):
            return task
        assert task["status"] in ("QUEUED", "RUNNING"), task
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_the_object_store_killed_mid_export_and_restarted_the_task_finishes(
    tmp_path: Path,
    processes: Processes,
    restartable_s3_server: RestartableS3Server,
    postgresql_url: str,  # noqa: F811
) -> None:
    s3_server = restartable_s3_server
    bucket = s3_server.bucket("exports")
    (tmp_path / "cipher-key").write_text(Fernet.generate_key().decode())  # shared by all nodes
    port = free_port()
    processes.serve(environment(tmp_path, "api", postgresql_url, bucket), port, "--no-workers")
    server_url = f"http://127.0.0.1:{port}"
    client = httpx.Client(
        base_url=server_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
    )
    assert client.post("/api/v1/projects", json={"name": "shop"}).status_code == 201
    assert client.post(f"{PROJECT}/logstores", json={"name": "orders"}).status_code == 201
    ingested = client.post(f"{PROJECT}/logstores/orders/records", content=records())
    assert ingested.json()["accepted"] == TOTAL
    for name in ("worker-a", "worker-b"):
        worker = environment(tmp_path, name, postgresql_url, bucket)
        processes.start(name, worker, "worker", "--server", server_url)

    spec = {"logstore": "orders", "format": "csv", "compression": "zstd", **RANGE}
    task = client.post(TASKS, json=spec).json()
    running = wait_for(
        client,
        task["id"],
        lambda seen: seen["status"] == "RUNNING" and seen["slices_done"] >= 1,
        "a slice to be done",
    )
    s3_server.kill()
    assert running["slices_done"] < running["slices_total"], "the export finished before the kill"
    waiting = wait_for(
        client, task["id"], lambda seen: seen["error"] is not None, "the task to show the outage"
    )
    assert waiting["status"] == "RUNNING"
    assert waiting["error"]["code"] == "backend_unavailable"
    assert f"s3://{bucket.name}/artifacts" in waiting["error"]["message"]
    time.sleep(OUTAGE_SECONDS)  # past the client's retries and a slice's three attempts
    still = client.get(f"{TASKS}/{task['id']}").json()
    assert still["status"] == "RUNNING", still
    s3_server.start()

    done = wait_for(client, task["id"], lambda seen: seen["status"] == "SUCCEEDED", "success")
    assert done["error"] is None
    assert done["attempts"] == 1  # waiting cost the task no run
    s3 = bucket_client(bucket)
    prefix = f"artifacts/shop/{task['id']}/"
    data = s3.get_object(Bucket=bucket.name, Key=prefix + done["file_name"])["Body"].read()
    manifest_object = s3.get_object(Bucket=bucket.name, Key=prefix + "manifest.json")
    manifest = json.loads(manifest_object["Body"].read())
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    rows = decompress(data, "zstd").decode().splitlines()[1:]
    numbers = sorted(int(row.rsplit(",", 1)[-1]) for row in rows)
    assert numbers == list(range(TOTAL))  # every row exactly once

    assert client.delete(f"{TASKS}/{task['id']}").status_code == 204
    deadline = time.monotonic() + 30
    while s3.list_objects_v2(Bucket=bucket.name).get("KeyCount", 0) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert s3.list_objects_v2(Bucket=bucket.name).get("KeyCount", 0) == 0
    assert unfinished_uploads(s3, bucket.name) == []
