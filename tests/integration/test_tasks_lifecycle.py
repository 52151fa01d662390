"""Download tasks over the native API: bad input, project isolation, idempotency, dry runs, queue
positions, cancel/retry/delete, lapsed leases, expiry, and signed links with HTTP Range."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server, build_server
from logsluice.domain.tasks import TaskStatus
from logsluice.services.worker import WorkerPool, WorkerSettings
from logsluice.settings import load_settings
from tests.integration.api_checks import assert_error, authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    RANGE,
    TASKS_URL,
    create,
    decompress,
    download,
    generate_records,
    get,
    load,
    local_path,
    make_worker,
    read_rows,
    run_queued,
)
from tests.token_changes import BASE64URL_ALPHABET

RECORDS = generate_records(600, seed=5)


class ManualClock:
    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def now(self) -> datetime:
        return self.current


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(tmp_path: Path, clock: ManualClock) -> Iterator[Server]:
    # No background workers or janitor: each test drives them itself, on the manual clock.
    settings = load_settings(
        data_dir=tmp_path / "data",
        workers=0,
        janitor_interval=3600,
        task_rows_per_slice=100,
        # 10 batches a slice: more than the encoder works ahead, so a stop asked for while a slice
        # is encoded takes effect before the slice's last batch
        task_batch_rows=10,
    )
    built = build_server(settings, clock)
    yield built
    built.container.close()


@pytest.fixture
def client(server: Server) -> Iterator[TestClient]:
    with authorized_client(server) as test_client:
        load(test_client, RECORDS)
        yield test_client


def _artifact_files(server: Server) -> list[Path]:
    root = server.container.settings.data_dir / "artifacts"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def _assert_nothing_stored(client: TestClient, server: Server) -> None:
    assert client.get(TASKS_URL).json()["total"] == 0
    assert _artifact_files(server) == []


BAD_BODIES: list[tuple[str, dict[str, Any], int, str]] = [
    ("unknown logstore", {"logstore": "nope"}, 404, "logstore_not_found"),
    ("from after to", {"from": "2026-03-02T00:00:00Z"}, 400, "invalid_time_range"),
    ("from equals to", {"to": RANGE["from"]}, 400, "invalid_time_range"),
    ("bad time text", {"from": "yesterday"}, 400, "invalid_time_range"),
    ("epoch out of range", {"to": 1e30}, 400, "invalid_input"),
    ("epoch too large an integer", {"to": 10**30}, 400, "invalid_input"),
    ("bad format", {"format": "xlsx"}, 400, "invalid_input"),
    ("bad compression", {"compression": "bzip2"}, 400, "invalid_input"),
    ("bad order", {"order": "sideways"}, 400, "invalid_input"),
    ("bad query", {"query": 'level:"unterminated'}, 400, "invalid_query"),
    ("forbidden sql", {"query": "* | select * from read_csv('/etc/passwd')"}, 400, "invalid_query"),
    ("unknown field", {"query": "nosuchfield:1"}, 400, "invalid_query"),
    ("huge limit", {"limit": 10**30}, 400, "invalid_input"),
    ("zero limit", {"limit": 0}, 400, "invalid_input"),
    ("limit as text", {"limit": "10"}, 400, "invalid_input"),
    ("bad name", {"name": "Bad Name!"}, 400, "invalid_name"),
    ("bad time zone", {"timezone": "Mars/Olympus"}, 400, "invalid_input"),
    ("long delimiter", {"csv": {"delimiter": ";;"}}, 400, "invalid_input"),
    ("unknown option", {"colour": "blue"}, 400, "invalid_input"),
    ("wrong type", {"allow_incomplete": "yes"}, 400, "invalid_input"),
]


@pytest.mark.parametrize(("change", "status", "code"), [case[1:] for case in BAD_BODIES],
                         ids=[case[0] for case in BAD_BODIES])  # fmt: skip
def test_bad_input_is_refused_and_leaves_nothing_behind(
    client: TestClient, server: Server, change: dict[str, Any], status: int, code: str
) -> None:
    body = {"logstore": "app", **RANGE, **change}
    error = assert_error(client.post(TASKS_URL, json=body), status, code)
    if code == "invalid_query" and "position" in error["details"]:
        assert isinstance(error["details"]["position"], int)
    _assert_nothing_stored(client, server)


@pytest.mark.parametrize("missing", ["logstore", "from", "to"])
def test_a_missing_field_is_refused(client: TestClient, server: Server, missing: str) -> None:
    body = {"logstore": "app", **RANGE}
    del body[missing]
    error = assert_error(client.post(TASKS_URL, json=body), 400, "invalid_input")
    assert missing in error["message"]
    _assert_nothing_stored(client, server)


def test_an_unknown_project_is_404(client: TestClient) -> None:
    response = client.post(
        "/api/v1/projects/nope/download-tasks", json={"logstore": "app", **RANGE}
    )
    assert_error(response, 404, "project_not_found")


def test_the_per_project_limit_cap_applies(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "capped", workers=0, task_max_limit=100)
    capped = build_server(settings)
    try:
        with authorized_client(capped) as client:
            load(client, RECORDS[:10])
            body = {"logstore": "app", **RANGE, "limit": 101}
            assert_error(client.post(TASKS_URL, json=body), 400, "invalid_input")
            assert client.post(TASKS_URL, json={**body, "limit": 100}).status_code == 201
    finally:
        capped.container.close()


def test_another_projects_task_is_not_found(client: TestClient, server: Server) -> None:
    task = create(client, query="*")
    run_queued(server)
    assert client.post("/api/v1/projects", json={"name": "other"}).status_code == 201
    other = f"/api/v1/projects/other/download-tasks/{task['id']}"
    for method, suffix in [("GET", ""), ("POST", "/cancel"), ("POST", "/retry"),
                           ("GET", "/link"), ("GET", "/manifest"), ("DELETE", "")]:  # fmt: skip
        assert_error(client.request(method, other + suffix), 404, "download_task_not_found")
    assert get(client, task["id"])["status"] == "SUCCEEDED"


def test_a_dry_run_estimates_and_stores_nothing(client: TestClient, server: Server) -> None:
    body = {"logstore": "app", **RANGE, "query": "level:ERROR", "format": "csv"}
    response = client.post(TASKS_URL, json=body, params={"dry_run": "true"})
    assert response.status_code == 200, response.text
    estimate = response.json()["estimate"]
    assert estimate["rows"] == sum(1 for record in RECORDS if record["level"] == "ERROR")
    assert estimate["bytes"] > estimate["rows"] * 20
    _assert_nothing_stored(client, server)


def test_an_idempotency_key_returns_the_first_task(client: TestClient) -> None:
    body = {"logstore": "app", **RANGE, "idempotency_key": "nightly-1"}
    first = client.post(TASKS_URL, json=body)
    again = client.post(TASKS_URL, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    changed = client.post(TASKS_URL, json={**body, "query": "level:ERROR"})
    assert_error(changed, 409, "conflict")
    assert client.get(TASKS_URL).json()["total"] == 1


def test_queued_tasks_show_their_place_and_list_filters_work(
    client: TestClient, clock: ManualClock
) -> None:
    ids = []
    for number in range(3):
        ids.append(create(client, name=f"task-{number}")["id"])
        clock.current += timedelta(seconds=1)
    positions = [get(client, task_id)["queue_position"] for task_id in ids]
    assert positions == [1, 2, 3]
    listed = client.get(TASKS_URL, params={"order_by": "name", "order": "asc", "size": 2}).json()
    assert [task["name"] for task in listed["download_tasks"]] == ["task-0", "task-1"]
    assert listed["total"] == 3
    by_name = client.get(TASKS_URL, params={"name": "task-2"}).json()
    assert [task["id"] for task in by_name["download_tasks"]] == [ids[2]]
    assert client.get(TASKS_URL, params={"status": "RUNNING"}).json()["total"] == 0
    assert client.get(TASKS_URL, params={"status": "QUEUED,RUNNING"}).json()["total"] == 3
    assert_error(client.get(TASKS_URL, params={"status": "LOST"}), 400, "invalid_input")
    assert_error(client.get(TASKS_URL, params={"size": 0}), 400, "invalid_input")


def test_cancel_a_queued_task_at_once_then_retry_it(client: TestClient, server: Server) -> None:
    task = create(client, query="*")
    cancelled = client.post(f"{TASKS_URL}/{task['id']}/cancel").json()
    assert cancelled["status"] == "CANCELLED"
    assert run_queued(server) == 0
    assert_error(client.get(f"{TASKS_URL}/{task['id']}/link"), 409, "conflict")
    assert client.post(f"{TASKS_URL}/{task['id']}/retry").json()["status"] == "QUEUED"
    assert run_queued(server) == 1
    assert get(client, task["id"])["rows_written"] == len(RECORDS)
    assert_error(client.post(f"{TASKS_URL}/{task['id']}/retry"), 409, "conflict")


def test_a_running_task_stops_at_its_next_heartbeat_after_cancel(
    client: TestClient, server: Server, clock: ManualClock
) -> None:
    task = create(client, query="*")
    store = server.container.task_store
    claimed = store.claim_next_task(
        "w1", lease=timedelta(seconds=30), now=clock.now(), max_running_per_project=5
    )
    assert claimed is not None
    assert claimed.id == task["id"]
    assert client.post(f"{TASKS_URL}/{task['id']}/cancel").json()["status"] == "CANCELLING"
    server.container.runner.run(claimed, "w1", threading.Event())
    stopped = get(client, task["id"])
    assert stopped["status"] == "CANCELLED"
    assert stopped["rows_written"] < len(RECORDS)


class _StopWhileEncoding:
    """An encoder that asks the worker to stop once it has encoded a batch, if it is the
    ``stop_in``-th encoder to encode one (encoders built for a file's head encode none), so that
    slice's part has bytes written when the worker stops."""

    def __init__(
        self, encoder: Any, shutdown: threading.Event, encoding: list[Any], stop_in: int
    ) -> None:
        self._encoder = encoder
        self._shutdown = shutdown
        self._encoding = encoding
        self._stop_in = stop_in

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def encode(self, batch: pa.RecordBatch) -> Any:
        chunk = self._encoder.encode(batch)
        if self not in self._encoding:
            self._encoding.append(self)
        if len(self._encoding) == self._stop_in and self._encoding[-1] is self:
            self._shutdown.set()
        return chunk


def _run_until_idle(worker: Any) -> None:
    while worker.run_once() is not None:
        pass


@pytest.mark.parametrize(
    ("export_format", "compression", "suffix"),
    [("csv", "gzip", "csv.gz"), ("jsonl", "lz4", "jsonl.lz4"), ("parquet", "none", "parquet")],
)
def test_a_slice_interrupted_midway_is_resumed_alone_to_the_same_file(
    client: TestClient, server: Server, export_format: str, compression: str, suffix: str
) -> None:
    spec = {"query": "*", "format": export_format, "compression": compression}
    reference = create(client, name="reference", **spec)
    run_queued(server)
    expected = download(client, reference["id"])
    task = create(client, name="resumed", **spec)
    shutdown = threading.Event()
    worker = make_worker(server, shutdown)
    runner = server.container.runner
    build_encoder = runner.encoder_factory
    encoding: list[Any] = []

    def encoder_stopping_in_the_third_slice(*arguments: Any, **options: Any) -> Any:
        encoder = build_encoder(*arguments, **options)
        return _StopWhileEncoding(encoder, shutdown, encoding, stop_in=3)

    runner.encoder_factory = encoder_stopping_in_the_third_slice
    try:
        while not shutdown.is_set() and worker.run_once() is not None:
            pass
    finally:
        runner.encoder_factory = build_encoder
    store = server.container.artifact_store
    key = f"web/{task['id']}/resumed.{suffix}"
    slices = server.container.task_store.list_task_slices(task["id"])
    assert [item.status for item in slices[:3]] == ["done", "done", "queued"]
    # the stopped slice's attempt is gone; the finished parts were hashed and put together into
    # the file to publish already (ADR 0018), so none is listed any more
    assert store.list_parts(key) == []
    assert [item.file_hash_state is not None for item in slices[:3]] == [True, True, False]
    assert get(client, task["id"])["status"] == "QUEUED"
    opened: list[int] = []
    open_part = store.open_part

    def recording_open_part(part_key: str, number: int, *more: Any) -> Any:
        opened.append(number)
        return open_part(part_key, number, *more)

    store.open_part = recording_open_part  # type: ignore[method-assign]
    try:
        run_queued(server)
    finally:
        del store.open_part
    assert get(client, task["id"])["status"] == "SUCCEEDED"
    assert 1 not in opened
    assert 2 not in opened  # a finished part is never written again
    assert 3 in opened
    resumed = download(client, task["id"])
    assert read_rows(decompress(resumed, compression), export_format) == read_rows(
        decompress(expected, compression), export_format
    )


def test_a_lapsed_lease_is_requeued_and_resumed(
    client: TestClient, server: Server, clock: ManualClock
) -> None:
    task = create(client, query="*")
    store = server.container.task_store
    store.claim_next_task(
        "dead-worker", lease=timedelta(seconds=5), now=clock.now(), max_running_per_project=5
    )
    assert get(client, task["id"])["status"] == "RUNNING"
    clock.current += timedelta(seconds=6)
    report = server.container.janitor.run_once()
    assert report.requeued == 1
    assert run_queued(server) == 1
    finished = get(client, task["id"])
    assert (finished["status"], finished["attempts"]) == ("SUCCEEDED", 2)


class Crash(BaseException):
    """The worker process dies here (not an error the runner could handle)."""


@pytest.mark.parametrize("crash_at", ["publish", "manifest"])
@pytest.mark.parametrize(("limit", "truncated"), [(599, True), (600, False)])
def test_a_run_killed_after_its_last_slice_tells_truncated_from_complete(
    client: TestClient,
    server: Server,
    clock: ManualClock,
    crash_at: str,
    limit: int,
    truncated: bool,
) -> None:
    # A SEARCH | SQL query is one slice; of its 600 rows a limit of 599 cuts one off.
    task = create(client, query="* | select timestamp, level order by timestamp", limit=limit)
    store = server.container.runner.artifact_store
    method = "publish" if crash_at == "publish" else "put"
    original = getattr(store, method)

    def crash_once(key: str, *arguments: Any) -> Any:
        if key.endswith("app-export.csv" if crash_at == "publish" else "manifest.json"):
            raise Crash
        return original(key, *arguments)

    setattr(store, method, crash_once)
    try:
        with pytest.raises(Crash):
            _run_until_idle(make_worker(server))
    finally:
        delattr(store, method)
    clock.current += timedelta(minutes=1)  # the dead worker's lease lapses
    assert server.container.janitor.run_once().requeued == 1
    run_queued(server)
    finished = get(client, task["id"])
    assert (finished["status"], finished["rows_written"]) == ("SUCCEEDED", limit)
    assert finished["truncated"] is truncated
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert manifest["status"] == ("truncated" if truncated else "complete")


def test_delete_removes_the_task_and_its_files(client: TestClient, server: Server) -> None:
    task = create(client, query="*")
    run_queued(server)
    assert _artifact_files(server)
    assert client.delete(f"{TASKS_URL}/{task['id']}").status_code == 204
    assert_error(client.get(f"{TASKS_URL}/{task['id']}"), 404, "download_task_not_found")
    _assert_nothing_stored(client, server)


def test_an_expired_artifact_is_gone(
    client: TestClient, server: Server, clock: ManualClock
) -> None:
    task = create(client, query="*")
    run_queued(server)
    url = local_path(client.get(f"{TASKS_URL}/{task['id']}/link").json()["url"])
    clock.current += timedelta(days=7, seconds=1)
    assert server.container.janitor.run_once().expired == 1
    assert get(client, task["id"])["status"] == TaskStatus.EXPIRED
    assert _artifact_files(server) == []
    assert_error(client.get(f"{TASKS_URL}/{task['id']}/link"), 410, "artifact_gone")
    clock.current -= timedelta(days=7)  # the link itself is still in date
    assert_error(client.get(url), 410, "artifact_gone")


def test_links_tampered_expired_and_deleted(
    client: TestClient, server: Server, clock: ManualClock
) -> None:
    task = create(client, query="*")
    run_queued(server)
    link = client.get(f"{TASKS_URL}/{task['id']}/link", params={"ttl": 120}).json()
    url = local_path(link["url"])
    assert datetime.fromisoformat(link["expires_at"]) <= clock.now() + timedelta(seconds=120)
    token = url.rsplit("/", 1)[1]
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert_error(client.get(tampered), 403, "link_invalid")
    assert_error(client.get(url.replace(token, token[1:])), 403, "link_invalid")
    assert_error(
        client.get(f"{TASKS_URL}/{task['id']}/link", params={"ttl": 10}), 400, "invalid_input"
    )
    clock.current += timedelta(seconds=121)
    assert_error(client.get(url), 403, "link_expired")
    fresh = local_path(client.get(f"{TASKS_URL}/{task['id']}/link").json()["url"])
    assert client.get(fresh).status_code == 200
    client.delete(f"{TASKS_URL}/{task['id']}")
    assert_error(client.get(fresh), 410, "artifact_gone")


def test_a_link_with_any_other_last_character_is_refused(
    client: TestClient, server: Server
) -> None:
    """The last character's unused bits used to decode to the same bytes (issue 12, item 8)."""
    task = create(client, query="*")
    run_queued(server)
    url = local_path(client.get(f"{TASKS_URL}/{task['id']}/link").json()["url"])
    prefix, token = url.rsplit("/", 1)
    for position in (0, len(token) // 2, len(token) - 2, len(token) - 1):
        for replacement in BASE64URL_ALPHABET + "+=.~":  # "/" would change the path
            if replacement != token[position]:
                changed = token[:position] + replacement + token[position + 1 :]
                response = client.get(f"{prefix}/{quote(changed, safe='')}")
                assert_error(response, 403, "link_invalid")
    assert client.get(url).status_code == 200


def test_downloads_honour_http_range(client: TestClient, server: Server) -> None:
    task = create(client, query="*", format="csv", compression="zstd")
    run_queued(server)
    whole = download(client, task["id"])
    url = local_path(client.get(f"{TASKS_URL}/{task['id']}/link").json()["url"])
    client.headers.pop("Authorization")
    head = client.get(url)
    assert head.headers["content-length"] == str(len(whole))
    assert head.headers["etag"] == f'"{hashlib.sha256(whole).hexdigest()}"'
    assert head.headers["accept-ranges"] == "bytes"
    assert 'filename="app-export.csv.zst"' in head.headers["content-disposition"]
    part = client.get(url, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.content == whole[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(whole)}"
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert (tail.status_code, tail.content) == (206, whole[-50:])
    rest = client.get(url, headers={"Range": f"bytes={len(whole) - 5}-"})
    assert rest.content == whole[-5:]
    beyond = client.get(url, headers={"Range": f"bytes={len(whole)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(whole)}"
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert (stale.status_code, stale.content) == (200, whole)


@pytest.mark.parametrize("action", ["create", "retry"])
def test_idle_workers_wake_when_a_task_is_queued_not_at_their_next_poll(
    make_server: ServerFactory, action: str
) -> None:
    built = make_server(workers=0)
    container = built.container
    pool = WorkerPool(
        container.task_store,
        container.runner,
        container.clock,
        WorkerSettings(poll_interval=timedelta(hours=1)),
        size=2,
        signal=container.queue_signal,
    )
    with authorized_client(built) as test_client:
        load(test_client, RECORDS[:50])
        task = create(test_client, query="*")
        if action == "retry":
            test_client.post(f"{TASKS_URL}/{task['id']}/cancel")
            assert get(test_client, task["id"])["status"] == "CANCELLED"
        pool.start()
        try:
            time.sleep(0.3)  # both workers found nothing to claim and now wait an hour
            if action == "create":
                task = create(test_client, name="woken", query="*")
            else:
                assert test_client.post(f"{TASKS_URL}/{task['id']}/retry").status_code == 200
            deadline = time.monotonic() + 30
            while get(test_client, task["id"])["status"] != "SUCCEEDED":
                assert time.monotonic() < deadline, get(test_client, task["id"])
                time.sleep(0.05)
        finally:
            pool.stop()  # wakes the waiting workers too: returns at once, not in an hour
