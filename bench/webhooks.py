"""Webhook delivery speed: the outbox dispatcher against plain HTTP POSTs of the same events.

Ends N download tasks that name a webhook on a local receiver (a SQLite task store in
``bench/out/``, so N outbox rows), then in one run measures events/s and the time relative to the
baseline (a):

(a) the same N bodies POSTed to the receiver with ``http.client``, ``--concurrency`` threads, one
    connection per request (what the sender does), nothing else — the baseline;
(b) ``WebhookDispatcher.deliver_due`` until the outbox is empty: claim in the task store, sign,
    address check, POST, settle — ``--concurrency`` attempts at once.

The receiver must get exactly N requests in each path, and in (b) N distinct ``webhook-id``s, or
the run exits with status 1.

    .venv/bin/python bench/webhooks.py --events 2000 --concurrency 4
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from logsluice.adapters.artifacts import build_artifact_store
from logsluice.adapters.secret_cipher import FernetSecretCipher
from logsluice.adapters.sql import SqlTaskStore, SqlWebhookStore, create_sql_engine, migrate_engine
from logsluice.adapters.webhook_sender import HttpWebhookSender
from logsluice.domain.export import ExportFormat
from logsluice.domain.tasks import Task, TaskSpec, WebhookTarget
from logsluice.domain.timerange import TimeRange
from logsluice.domain.webhooks import new_webhook_secret, parse_networks
from logsluice.services.clock import SystemClock
from logsluice.services.links import LinkSigner
from logsluice.services.sinks import ArtifactStores
from logsluice.services.webhooks import WebhookDispatcher, WebhookSettings

OUT_DIR = Path(__file__).parent / "out" / "webhooks"


class Receiver:
    """Counts requests and their ``webhook-id`` headers; answers 204."""

    def __init__(self) -> None:
        self.requests = 0
        self.ids: set[str] = set()
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    receiver.requests += 1
                    receiver.ids.add(self.headers.get("webhook-id") or "")
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


def _end_tasks(store: SqlTaskStore, count: int, target: WebhookTarget) -> None:
    now = datetime.now(UTC)
    spec = TaskSpec(
        name="bench",
        logstore="app",
        query="*",
        time_range=TimeRange(now - timedelta(hours=1), now),
        format=ExportFormat.CSV,
    )
    for _ in range(count):
        task = store.create_task(Task.queued(project="bench", spec=spec, now=now, webhook=target))
        store.request_cancel("bench", task.id, now=now)


def _baseline(port: int, events: int, concurrency: int, body: bytes) -> float:
    def post(_: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/hook", body=body, headers={"content-type": "application/json"})
        connection.getresponse().read()
        connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, range(events)))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    arguments = parser.parse_args()
    shutil.rmtree(OUT_DIR, ignore_errors=True)
    OUT_DIR.mkdir(parents=True)
    engine = create_sql_engine(f"sqlite:///{OUT_DIR / 'tasks.sqlite3'}")
    migrate_engine(engine)
    receiver = Receiver()
    cipher = FernetSecretCipher(Fernet.generate_key())
    url = f"http://127.0.0.1:{receiver.port}/hook"
    target = WebhookTarget(url=url, secret_ciphertext=cipher.encrypt(new_webhook_secret()))
    task_store = SqlTaskStore(engine)
    _end_tasks(task_store, arguments.events, target)
    store = SqlWebhookStore(engine)
    sample = store.claim_due(now=datetime.now(UTC) - timedelta(days=1), hold=timedelta(), limit=1)
    assert sample == []  # nothing is due before the endings
    body = b'{"type":"download_task.cancelled","timestamp":"2026-12-07T00:00:00+00:00","data":' + (
        b'{"id":"' + b"0" * 32 + b'","status":"CANCELLED","rows":0,"bytes":0}}'
    )

    baseline = _baseline(receiver.port, arguments.events, arguments.concurrency, body)
    baseline_requests = receiver.requests
    receiver.requests, receiver.ids = 0, set()

    dispatcher = WebhookDispatcher(
        store=store,
        sender=HttpWebhookSender(allowed_networks=parse_networks("127.0.0.1/32")),
        cipher=cipher,
        task_store=task_store,
        artifact_stores=ArtifactStores(build_artifact_store(f"file://{OUT_DIR / 'artifacts'}")),
        link_signer=LinkSigner(b"0" * 32, SystemClock()),
        clock=SystemClock(),
        settings=WebhookSettings(
            batch_size=arguments.concurrency, concurrency=arguments.concurrency
        ),
        base_url="http://127.0.0.1:1",
    )
    started = time.perf_counter()
    while store.count_unsettled():
        dispatcher.deliver_due()
    dispatched = time.perf_counter() - started
    dispatcher.close()

    events = arguments.events
    print(f"{events:,} events, {arguments.concurrency} at a time, SQLite outbox")
    print("| path | seconds | events/s | time × plain POSTs |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| (a) plain POSTs | {baseline:.2f} | {events / baseline:,.0f} | 1.00 |")
    print(
        f"| (b) dispatcher | {dispatched:.2f} | {events / dispatched:,.0f} "
        f"| {dispatched / baseline:.2f} |"
    )
    correct = baseline_requests == events and receiver.requests == events
    correct = correct and len(receiver.ids) == events
    if not correct:
        print(f"wrong counts: {baseline_requests}, {receiver.requests}, {len(receiver.ids)} ids")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
