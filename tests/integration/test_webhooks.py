"""Completion webhooks end to end: a real HTTP receiver on 127.0.0.1 (allowlisted) gets exactly
one verified event per ending of a task, for every ending; a 500 is retried with the same
webhook-id until the retry window ends, and the task shows it; a redirect is not followed; a
refused address gets no request, at create nor at delivery; the project default covers tasks of
every dialect. The server runs on a manual clock and the test drives the dispatcher."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from logsluice.adapters.artifacts import build_artifact_store
from logsluice.adapters.secret_cipher import FernetSecretCipher
from logsluice.adapters.sql import SqlTaskStore, SqlWebhookStore, create_sql_engine, migrate_engine
from logsluice.bootstrap import Server, build_secret_cipher, build_server, build_webhook_sender
from logsluice.domain.tasks import Task, TaskDialect, TaskStatus, WebhookTarget
from logsluice.domain.webhooks import DeliveryStatus
from logsluice.services.clock import SystemClock
from logsluice.services.links import LinkSigner
from logsluice.services.sinks import ArtifactStores
from logsluice.services.webhooks import WebhookDispatcher, WebhookSettings
from logsluice.settings import load_settings
from tests.contract.task_samples import make_spec
from tests.integration.api_checks import assert_error, authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    RANGE,
    TASKS_URL,
    create,
    generate_records,
    get,
    load,
    local_path,
    run_queued,
)
from tests.s3_server import S3Bucket

pytestmark = pytest.mark.timeout(120)

RECORDS = generate_records(300, seed=3)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RETRY_WINDOW = timedelta(minutes=5)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """An HTTP server that records every request and answers from ``answers`` (then 200)."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/logsluice?source=test"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._record()

        def do_GET(self) -> None:
            self._record()

        def _record(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            target = holder[0]
            target.received.append(
                Received(
                    self.path, {key.lower(): value for key, value in self.headers.items()}, body
                )
            )
            status, headers = target.answers.pop(0) if target.answers else (200, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()


class ManualClock:
    def __init__(self) -> None:
        self.current = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _server(tmp_path: Path, clock: ManualClock, **overrides: Any) -> Server:
    settings = load_settings(
        data_dir=tmp_path / "data",
        workers=0,
        janitor_interval=3600,
        disk_reserve_bytes=0,
        webhook_poll_interval=3600,  # the test drives the dispatcher
        webhook_retry_initial_delay=10,
        webhook_retry_max_delay=60,
        webhook_retry_window=RETRY_WINDOW.total_seconds(),
        artifact_retention=3600,
        **({"webhook_allow_networks": "127.0.0.1/32,::1/128"} | overrides),
    )
    return build_server(settings, clock)


@pytest.fixture
def server(tmp_path: Path, clock: ManualClock) -> Iterator[Server]:
    built = _server(tmp_path, clock)
    yield built
    built.container.close()


@pytest.fixture
def client(server: Server) -> Iterator[TestClient]:
    with authorized_client(server) as test_client:
        load(test_client, RECORDS)
        yield test_client


def _deliver(server: Server) -> int:
    assert server.webhooks is not None
    return server.webhooks.dispatcher.deliver_due()


def _verified(received: Received, secret: str = SECRET) -> dict[str, Any]:
    """Check the Standard Webhooks signature with the reference library; return the event.

    The server's clock is a manual one, often hours off the real time the library's ``verify``
    holds the timestamp to, so the signature is recomputed with the library's ``sign`` for the
    sent timestamp (and ``verify`` runs in full when the times are close).
    """
    headers = received.headers
    sent_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=UTC)
    expected = Webhook(secret).sign(headers["webhook-id"], sent_at, received.body)
    assert expected in headers["webhook-signature"].split(" ")
    if abs(datetime.now(UTC) - sent_at) < timedelta(minutes=4):
        Webhook(secret).verify(received.body, headers)
    event: dict[str, Any] = json.loads(received.body)
    assert event["timestamp"] == sent_at.isoformat()
    return event


def _fail_queued(server: Server, task_id: str, clock: ManualClock) -> None:
    """End a task FAILED the way the runner does: claim it, then fail it under the lease."""
    store = server.container.task_store
    claimed = store.claim_next_task(
        "test-worker", lease=timedelta(minutes=1), now=clock.now(), max_running_per_project=100
    )
    assert claimed is not None
    assert claimed.id == task_id
    store.transition(
        task_id,
        TaskStatus.FAILED,
        now=clock.now(),
        worker_id="test-worker",
        error_code="query_failed",
        error_message="the engine gave up",
    )


def test_every_ending_sends_exactly_one_verified_event(
    server: Server, client: TestClient, receiver: Receiver, clock: ManualClock
) -> None:
    hook = {"url": receiver.url, "secret": SECRET}
    succeeded = create(client, name="ok", webhook=hook)
    run_queued(server)
    failed = create(client, name="bad", webhook=hook)
    _fail_queued(server, failed["id"], clock)
    cancelled = create(client, name="stop", webhook=hook)
    assert client.post(f"{TASKS_URL}/{cancelled['id']}/cancel").status_code == 200
    assert _deliver(server) == 3
    clock.advance(timedelta(hours=2))  # past the file's retention: the janitor expires it
    assert server.container.janitor.run_once().expired == 1
    assert _deliver(server) == 1
    assert _deliver(server) == 0

    events = {}
    for received in receiver.received:
        assert received.path == "/hooks/logsluice?source=test"
        assert received.headers["content-type"] == "application/json"
        assert received.headers["user-agent"].startswith("logsluice")
        event = _verified(received)
        events[(event["data"]["id"], event["type"])] = (received.headers["webhook-id"], event)
    assert sorted(events) == sorted(
        [
            (succeeded["id"], "download_task.succeeded"),
            (failed["id"], "download_task.failed"),
            (cancelled["id"], "download_task.cancelled"),
            (succeeded["id"], "download_task.expired"),
        ]
    )
    assert len({webhook_id for webhook_id, _ in events.values()}) == 4

    _, success = events[(succeeded["id"], "download_task.succeeded")]
    data = success["data"]
    finished = get(client, succeeded["id"])
    manifest_expected = {"rows": finished["rows_written"], "bytes": finished["bytes_written"]}
    assert {"rows": data["rows"], "bytes": data["bytes"]} == manifest_expected
    assert data["rows"] == len(RECORDS)
    assert data["status"] == "SUCCEEDED"
    assert data["project"] == "web"
    assert data["name"] == "ok"
    assert data["error"] is None
    assert data["dialect"] == "native"
    assert "artifact_key" not in data
    assert len(data["sha256"]) == 64
    assert data["link"]["url"].startswith("http://127.0.0.1:")
    assert data["finished_at"] is not None
    assert data["created_at"] is not None
    _, failure = events[(failed["id"], "download_task.failed")]
    assert failure["data"]["error"] == {"code": "query_failed", "message": "the engine gave up"}
    assert failure["data"]["link"] is None
    assert failure["data"]["sha256"] is None
    _, expiry = events[(succeeded["id"], "download_task.expired")]
    assert expiry["data"]["status"] == "EXPIRED"
    assert expiry["data"]["link"] is None

    shown = get(client, succeeded["id"])["webhook"]
    assert shown["url"] == receiver.url
    assert shown["source"] == "task"
    assert shown["state"] == "delivered"
    assert [item["event_type"] for item in shown["deliveries"]] == [
        "download_task.succeeded",
        "download_task.expired",
    ]
    first = shown["deliveries"][0]
    assert (first["status"], first["attempts"], first["last_status_code"]) == ("delivered", 1, 200)
    assert first["id"] == events[(succeeded["id"], "download_task.succeeded")][0]
    assert "secret" not in json.dumps(shown)


def test_the_link_of_a_success_event_downloads_the_file(
    server: Server, client: TestClient, receiver: Receiver
) -> None:
    task = create(client, webhook={"url": receiver.url, "secret": SECRET})
    run_queued(server)
    _deliver(server)
    [received] = receiver.received
    link = _verified(received)["data"]["link"]["url"]
    path = "/downloads/" + link.split("/downloads/", 1)[1]
    response = client.get(local_path(path), headers={"Authorization": ""})
    assert response.status_code == 200
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert hashlib.sha256(response.content).hexdigest() == manifest["sha256"]
    assert _verified(received)["data"]["sha256"] == manifest["sha256"]


def test_the_event_of_a_task_in_a_sink_has_its_sha256_and_a_working_link(
    server: Server, client: TestClient, receiver: Receiver, s3_bucket: S3Bucket
) -> None:
    sink = {
        "name": "oss-main",
        "endpoint": s3_bucket.server.endpoint,
        "bucket": s3_bucket.name,
        "access_key_id": s3_bucket.server.access_key_id,
        "secret_access_key": s3_bucket.server.secret_access_key,
    }
    assert client.post("/api/v1/projects/web/sinks", json=sink).status_code == 201
    task = create(client, sink="oss-main", webhook={"url": receiver.url, "secret": SECRET})
    run_queued(server)
    _deliver(server)
    [received] = receiver.received
    event = _verified(received)["data"]
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert event["sha256"] == manifest["sha256"]
    # the same kind of link the link endpoint gives: the sink's own presigned URL
    endpoint_link = client.get(f"{TASKS_URL}/{task['id']}/link").json()["url"]
    assert endpoint_link.startswith(f"{s3_bucket.server.endpoint}/{s3_bucket.name}/")
    assert event["link"]["url"].startswith(f"{s3_bucket.server.endpoint}/{s3_bucket.name}/")
    content = httpx.get(event["link"]["url"]).content
    assert hashlib.sha256(content).hexdigest() == manifest["sha256"]


def test_a_failing_receiver_is_retried_with_the_same_id_until_it_answers(
    server: Server, client: TestClient, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.answers = [(500, {}), (503, {})]
    task = create(client, webhook={"url": receiver.url, "secret": SECRET})
    client.post(f"{TASKS_URL}/{task['id']}/cancel")
    assert _deliver(server) == 1
    shown = get(client, task["id"])["webhook"]
    assert shown["state"] == "retrying"
    [delivery] = shown["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "pending",
        1,
        500,
    )
    assert "500" in delivery["last_error"]
    assert delivery["next_attempt_at"] is not None
    assert _deliver(server) == 0  # not due yet: backoff
    clock.advance(timedelta(seconds=10))
    assert _deliver(server) == 1
    clock.advance(timedelta(seconds=20))
    assert _deliver(server) == 1
    assert _deliver(server) == 0
    assert len(receiver.received) == 3
    assert len({item.headers["webhook-id"] for item in receiver.received}) == 1
    assert {_verified(item)["data"]["id"] for item in receiver.received} == {task["id"]}
    [delivery] = get(client, task["id"])["webhook"]["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "delivered",
        3,
        200,
    )
    assert delivery["last_error"] is None
    assert delivery["delivered_at"] is not None


def test_a_delivery_is_given_up_when_the_retry_window_ends(
    server: Server, client: TestClient, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.answers = [(500, {})] * 100
    task = create(client, webhook={"url": receiver.url, "secret": SECRET})
    client.post(f"{TASKS_URL}/{task['id']}/cancel")
    rounds = 0
    while get(client, task["id"])["webhook"]["state"] != "failed":
        _deliver(server)
        clock.advance(timedelta(seconds=61))
        rounds += 1
        assert rounds < 50, "the delivery was never given up"
    [delivery] = get(client, task["id"])["webhook"]["deliveries"]
    assert delivery["status"] == "failed"
    assert delivery["last_status_code"] == 500
    assert "answered 500" in delivery["last_error"]
    assert delivery["next_attempt_at"] is None
    attempts = len(receiver.received)
    assert delivery["attempts"] == attempts
    assert attempts > 3
    clock.advance(timedelta(hours=1))
    assert _deliver(server) == 0
    assert len(receiver.received) == attempts


def test_a_redirect_is_not_followed(server: Server, client: TestClient, receiver: Receiver) -> None:
    receiver.answers = [(302, {"location": "/elsewhere"}), (307, {"location": "/elsewhere"})]
    task = create(client, webhook={"url": receiver.url, "secret": SECRET})
    client.post(f"{TASKS_URL}/{task['id']}/cancel")
    _deliver(server)
    assert [item.path for item in receiver.received] == ["/hooks/logsluice?source=test"]
    [delivery] = get(client, task["id"])["webhook"]["deliveries"]
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] == 302
    assert "redirect" in delivery["last_error"]


def test_a_refused_address_is_a_400_at_create_and_gets_no_request(
    tmp_path: Path, clock: ManualClock, receiver: Receiver
) -> None:
    server = _server(tmp_path, clock, webhook_allow_networks="")
    try:
        with authorized_client(server) as client:
            load(client, RECORDS)
            for body in (
                {"webhook": {"url": receiver.url}},
                {"webhook_url": receiver.url.replace("127.0.0.1", "localhost")},
                {"webhook_url": "http://2130706433:1/"},
                {"webhook_url": "http://[::ffff:127.0.0.1]:1/"},
            ):
                response = client.post(TASKS_URL, json={"logstore": "app", **RANGE, **body})
                error = assert_error(response, 400, "webhook_target_refused")
                assert "LOGSLUICE_WEBHOOK_ALLOW_NETWORKS" in error["message"]
            response = client.patch("/api/v1/projects/web", json={"webhook": {"url": receiver.url}})
            assert_error(response, 400, "webhook_target_refused")
            assert client.get(TASKS_URL).json()["total"] == 0
    finally:
        server.container.close()
    assert receiver.received == []


def test_an_address_refused_at_delivery_gets_no_request(
    tmp_path: Path, clock: ManualClock, receiver: Receiver
) -> None:
    server = _server(tmp_path, clock, webhook_allow_networks="")
    try:
        with authorized_client(server) as client:
            load(client, RECORDS)
            # stored past the API's check, as if the name had pointed elsewhere at create
            cipher_text = build_secret_cipher(server.container.settings).encrypt(SECRET)
            target = WebhookTarget(url=receiver.url, secret_ciphertext=cipher_text)
            server.container.catalog_store.set_project_webhook("web", target)
            task = create(client)
            client.post(f"{TASKS_URL}/{task['id']}/cancel")
            assert _deliver(server) == 1
            [delivery] = get(client, task["id"])["webhook"]["deliveries"]
    finally:
        server.container.close()
    assert receiver.received == []
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] is None
    assert "loopback" in delivery["last_error"]


def test_the_project_default_covers_tasks_of_every_dialect(
    server: Server, client: TestClient, receiver: Receiver
) -> None:
    response = client.patch("/api/v1/projects/web", json={"webhook": {"url": receiver.url}})
    assert response.status_code == 200, response.text
    project = response.json()
    assert project["webhook_url"] == receiver.url
    made_secret = project["webhook_secret"]
    assert made_secret.startswith("whsec_")
    shown = client.get("/api/v1/projects/web").json()
    assert shown["webhook_url"] == receiver.url
    assert shown["webhook_secret"] is None
    native = create(client, name="native")
    assert native["webhook"]["source"] == "project"
    assert native["webhook"]["state"] == "waiting"
    vendor = server.container.tasks.create(
        "web", make_spec(name="from-sls", logstream=None, limit=None), dialect=TaskDialect.SLS
    )
    assert vendor.view is not None
    for task_id in (native["id"], vendor.view.task.id):
        assert client.post(f"{TASKS_URL}/{task_id}/cancel").status_code == 200
    assert _deliver(server) == 2
    events = [_verified(item, made_secret) for item in receiver.received]
    assert sorted(event["data"]["dialect"] for event in events) == ["native", "sls"]
    # removing the default: later endings send nothing
    assert (
        client.patch("/api/v1/projects/web", json={"webhook": None}).json()["webhook_url"] is None
    )
    later = create(client, name="later")
    assert later["webhook"] is None
    client.post(f"{TASKS_URL}/{later['id']}/cancel")
    assert _deliver(server) == 0


def test_a_flat_webhook_gets_a_secret_shown_once(
    server: Server, client: TestClient, receiver: Receiver
) -> None:
    created = create(client, webhook_url=receiver.url, idempotency_key="once")
    secret = created["webhook_secret"]
    assert secret.startswith("whsec_")
    assert created["webhook"]["state"] == "waiting"
    again = client.post(
        TASKS_URL,
        json={"logstore": "app", **RANGE, "webhook_url": receiver.url, "idempotency_key": "once"},
    )
    assert again.status_code == 200
    assert again.json()["webhook_secret"] is None
    assert get(client, created["id"])["webhook_secret"] is None
    client.post(f"{TASKS_URL}/{created['id']}/cancel")
    _deliver(server)
    [received] = receiver.received
    assert _verified(received, secret)["type"] == "download_task.cancelled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"webhook": {"url": "ftp://example.com/"}}, "webhook.url"),
        ({"webhook": {"url": "https://example.com/", "secret": "plain"}}, "webhook.secret"),
        ({"webhook_secret": SECRET}, "webhook_url"),
        ({"webhook": {"url": "https://example.com/"}, "webhook_url": "https://a.example/"}, None),
    ],
)
def test_a_malformed_webhook_is_a_400(
    client: TestClient, body: dict[str, Any], field: str | None
) -> None:
    response = client.post(TASKS_URL, json={"logstore": "app", **RANGE, **body})
    error = assert_error(response, 400, "invalid_input")
    if field is not None:
        assert error["details"]["field"] == field


def test_a_deleted_task_sends_nothing(
    server: Server, client: TestClient, receiver: Receiver
) -> None:
    task = create(client, webhook={"url": receiver.url, "secret": SECRET})
    assert client.delete(f"{TASKS_URL}/{task['id']}").status_code == 204
    assert _deliver(server) == 0
    assert receiver.received == []


@pytest.mark.postgresql
def test_two_dispatchers_on_postgresql_deliver_each_event_once(
    postgresql_database_factory: Any, receiver: Receiver, tmp_path: Path
) -> None:
    url = postgresql_database_factory()
    engine = create_sql_engine(url)
    migrate_engine(engine)
    task_store = SqlTaskStore(engine)
    cipher = FernetSecretCipher(Fernet.generate_key())
    target = WebhookTarget(url=receiver.url, secret_ciphertext=cipher.encrypt(SECRET))
    now = datetime.now(UTC)
    ids = []
    for index in range(40):
        task = task_store.create_task(
            Task.queued(project="web", spec=make_spec(name=f"t{index}"), now=now, webhook=target)
        )
        task_store.request_cancel("web", task.id, now=now)
        ids.append(task.id)
    settings = load_settings(data_dir=tmp_path / "data", webhook_allow_networks="127.0.0.1/32")
    stores = [SqlWebhookStore(create_sql_engine(url)) for _ in range(2)]
    outcomes: list[tuple[str, DeliveryStatus, int | None]] = []
    dispatchers = [
        WebhookDispatcher(
            store=store,
            sender=build_webhook_sender(settings),
            cipher=cipher,
            task_store=task_store,
            artifact_stores=ArtifactStores(build_artifact_store(settings.artifact_store_url)),
            link_signer=LinkSigner(b"0" * 32, SystemClock()),
            clock=SystemClock(),
            settings=WebhookSettings(batch_size=3, concurrency=2),
            base_url="http://127.0.0.1:1",
            on_outcome=lambda delivery, status, code: outcomes.append((delivery.id, status, code)),
        )
        for store in stores
    ]
    start = threading.Barrier(2)
    counts: list[int] = []

    def run(dispatcher: WebhookDispatcher) -> None:
        start.wait()
        counts.append(dispatcher.deliver_due())

    threads = [threading.Thread(target=run, args=(item,)) for item in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for dispatcher in dispatchers:
        dispatcher.close()
    try:
        webhook_ids = [item.headers["webhook-id"] for item in receiver.received]
        assert sum(counts) == 40
        assert len(webhook_ids) == 40
        assert len(set(webhook_ids)) == 40
        assert {_verified(item)["data"]["id"] for item in receiver.received} == set(ids)
        assert stores[0].count_unsettled() == 0
        assert sorted(outcomes) == sorted(
            (webhook_id, DeliveryStatus.DELIVERED, 200) for webhook_id in webhook_ids
        )
    finally:
        for store in stores:
            store.close()
        task_store.close()


def test_a_retried_task_waits_again_and_its_next_ending_sends_a_new_event(
    server: Server, client: TestClient, receiver: Receiver
) -> None:
    task = create(client, webhook={"url": receiver.url, "secret": SECRET})
    client.post(f"{TASKS_URL}/{task['id']}/cancel")
    _deliver(server)
    assert get(client, task["id"])["webhook"]["state"] == "delivered"
    assert client.post(f"{TASKS_URL}/{task['id']}/retry").status_code == 200
    assert get(client, task["id"])["webhook"]["state"] == "waiting"
    client.post(f"{TASKS_URL}/{task['id']}/cancel")
    assert _deliver(server) == 1
    shown = get(client, task["id"])["webhook"]
    assert shown["state"] == "delivered"
    assert [item["status"] for item in shown["deliveries"]] == ["delivered", "delivered"]
    first, second = receiver.received
    assert first.headers["webhook-id"] != second.headers["webhook-id"]
    assert [_verified(item)["type"] for item in receiver.received] == [
        "download_task.cancelled",
        "download_task.cancelled",
    ]


def test_a_secret_sealed_with_another_key_fails_the_attempt_with_the_reason(
    server: Server, client: TestClient, receiver: Receiver
) -> None:
    other_key = FernetSecretCipher(Fernet.generate_key()).encrypt(SECRET)
    target = WebhookTarget(url=receiver.url, secret_ciphertext=other_key)
    server.container.catalog_store.set_project_webhook("web", target)
    task = create(client)
    client.post(f"{TASKS_URL}/{task['id']}/cancel")
    assert _deliver(server) == 1
    [delivery] = get(client, task["id"])["webhook"]["deliveries"]
    assert delivery["status"] == "pending"
    assert "LOGSLUICE_ACCESS_KEY_CIPHER_KEY" in delivery["last_error"]
    assert receiver.received == []


def test_a_success_event_sent_after_the_file_expired_has_no_link(
    server: Server, client: TestClient, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.answers = [(503, {})]
    task = create(client, webhook={"url": receiver.url, "secret": SECRET})
    run_queued(server)
    assert _deliver(server) == 1  # refused: the event waits for its retry
    first = _verified(receiver.received[0])["data"]
    assert first["link"] is not None
    assert first["sha256"] is not None
    clock.advance(timedelta(hours=2))
    assert server.container.janitor.run_once().expired == 1
    assert _deliver(server) == 2  # the retried success event and the expiry event
    events = {_verified(item)["type"]: _verified(item)["data"] for item in receiver.received[1:]}
    assert set(events) == {"download_task.succeeded", "download_task.expired"}
    late = events["download_task.succeeded"]
    assert late["status"] == "SUCCEEDED"
    assert late["rows"] == first["rows"]
    assert late["link"] is None
    assert late["sha256"] is None
    assert get(client, task["id"])["webhook"]["state"] == "delivered"


def test_a_success_event_of_an_s3_artifact_links_to_the_object_store(
    make_server: ServerFactory,
    s3_bucket: S3Bucket,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
) -> None:
    for name, value in s3_bucket.server.environment().items():
        monkeypatch.setenv(name, value)
    server = make_server(
        workers=0,
        artifact_store_url=s3_bucket.url("artifacts"),
        webhook_allow_networks="127.0.0.1/32",
        webhook_poll_interval=3600,
    )
    with authorized_client(server) as client:
        load(client, RECORDS)
        task = create(client, webhook={"url": receiver.url, "secret": SECRET})
        assert run_queued(server) == 1
        assert _deliver(server) == 1
    [received] = receiver.received
    data = _verified(received)["data"]
    assert data["link"]["url"].startswith(f"{s3_bucket.server.endpoint}/{s3_bucket.name}/")
    content = httpx.get(data["link"]["url"]).content
    assert hashlib.sha256(content).hexdigest() == data["sha256"]
    assert data["id"] == task["id"]


def test_the_event_of_a_task_whose_sink_was_removed_goes_out_without_a_link(
    server: Server, client: TestClient, receiver: Receiver, s3_bucket: S3Bucket
) -> None:
    sink = {
        "name": "oss-gone",
        "endpoint": s3_bucket.server.endpoint,
        "bucket": s3_bucket.name,
        "access_key_id": s3_bucket.server.access_key_id,
        "secret_access_key": s3_bucket.server.secret_access_key,
    }
    assert client.post("/api/v1/projects/web/sinks", json=sink).status_code == 201
    task = create(client, sink="oss-gone", webhook={"url": receiver.url, "secret": SECRET})
    run_queued(server)
    assert get(client, task["id"])["status"] == "SUCCEEDED"
    assert client.delete("/api/v1/projects/web/sinks/oss-gone").status_code == 204
    assert _deliver(server) == 1
    [received] = receiver.received
    event = _verified(received)
    assert event["type"] == "download_task.succeeded"
    assert event["data"]["link"] is None
    assert event["data"]["sha256"] is None
    assert get(client, task["id"])["webhook"]["state"] == "delivered"
