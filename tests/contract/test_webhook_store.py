"""Contract of the webhook outbox on SQLite and PostgreSQL: an ending writes exactly one delivery in
its own transaction (task webhook, else the project's default; none for a deleted task), claims
are exclusive also under concurrent dispatchers, a lost claim cannot settle, and a purge forgets."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from logsluice.adapters.sql import SqlCatalogStore, SqlTaskStore, SqlWebhookStore, create_sql_engine
from logsluice.domain.catalog import Project
from logsluice.domain.tasks import Task, TaskStatus, WebhookTarget
from logsluice.domain.timerange import TimeRange
from logsluice.domain.webhooks import DeliveryOutcome, DeliveryStatus
from tests.contract.task_samples import LEASE, NO_LIMIT, T0, WORKER, make_task

pytestmark = pytest.mark.timeout(120)

HOLD = timedelta(seconds=60)
TARGET = WebhookTarget(url="https://hooks.example/task", secret_ciphertext="sealed-task")
DEFAULT = WebhookTarget(url="https://hooks.example/project", secret_ciphertext="sealed-project")


@pytest.fixture
def webhook_store(sql_engine: Engine) -> SqlWebhookStore:
    return SqlWebhookStore(sql_engine)


def _run_to(store: SqlTaskStore, task: Task, status: TaskStatus) -> Task:
    """Claim ``task`` (the only queued one) and end it in ``status`` as a worker would."""
    claimed = store.claim_next_task(WORKER, lease=LEASE, now=T0, max_running_per_project=NO_LIMIT)
    assert claimed is not None
    assert claimed.id == task.id
    fields: dict[str, object] = {}
    if status == TaskStatus.SUCCEEDED:
        fields = {"artifact_key": f"web/{task.id}/export.csv", "expires_at": T0 + LEASE}
        fields |= {"rows_written": 42, "bytes_written": 1234}
    if status == TaskStatus.FAILED:
        fields = {"error_code": "query_failed", "error_message": "boom"}
    return store.transition(task.id, status, now=T0, worker_id=WORKER, **fields)


@pytest.mark.parametrize("status", [TaskStatus.SUCCEEDED, TaskStatus.FAILED])
def test_an_ending_writes_one_delivery_with_the_task_as_it_ended(
    task_store: SqlTaskStore, webhook_store: SqlWebhookStore, status: TaskStatus
) -> None:
    task = task_store.create_task(make_task(webhook=TARGET))
    assert task_store.get_task("web", task.id).webhook == TARGET
    assert webhook_store.list_deliveries([task.id]) == {}
    ended = _run_to(task_store, task, status)
    [delivery] = webhook_store.list_deliveries([task.id])[task.id]
    assert delivery.id.startswith("msg_")
    assert delivery.event_type == f"download_task.{status.value.lower()}"
    assert (delivery.url, delivery.secret_ciphertext) == (TARGET.url, TARGET.secret_ciphertext)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert delivery.payload["status"] == status.value
    assert delivery.payload["rows"] == ended.rows_written
    assert delivery.payload["artifact_key"] == ended.artifact_key
    assert delivery.payload["error"] == (
        {"code": "query_failed", "message": "boom"} if status == TaskStatus.FAILED else None
    )
    assert delivery.created_at == delivery.next_attempt_at == T0


def test_cancel_expiry_and_a_lapsed_lease_write_deliveries_too(
    task_store: SqlTaskStore, webhook_store: SqlWebhookStore
) -> None:
    cancelled = task_store.create_task(make_task(webhook=TARGET))
    task_store.request_cancel("web", cancelled.id, now=T0)
    succeeded = _run_to(
        task_store, task_store.create_task(make_task(webhook=TARGET)), TaskStatus.SUCCEEDED
    )
    task_store.expire_tasks(now=T0 + LEASE)
    exhausted = task_store.create_task(make_task(webhook=TARGET))
    task_store.claim_next_task(WORKER, lease=LEASE, now=T0, max_running_per_project=NO_LIMIT)
    task_store.requeue_lapsed(now=T0 + 2 * LEASE, max_attempts=1)
    found = webhook_store.list_deliveries([cancelled.id, succeeded.id, exhausted.id])
    assert [item.event_type for item in found[cancelled.id]] == ["download_task.cancelled"]
    assert [item.event_type for item in found[succeeded.id]] == [
        "download_task.succeeded",
        "download_task.expired",
    ]
    assert [item.event_type for item in found[exhausted.id]] == ["download_task.failed"]
    assert found[exhausted.id][0].payload["error"]["code"] == "attempts_exhausted"


def test_the_project_default_applies_to_tasks_without_their_own(
    task_store: SqlTaskStore,
    webhook_store: SqlWebhookStore,
    catalog_store: SqlCatalogStore,
) -> None:
    project = Project(name="web", description="", created_at=T0)
    catalog_store.create_project(project)
    catalog_store.set_project_webhook("web", DEFAULT)
    assert catalog_store.get_project("web").webhook == DEFAULT
    plain = task_store.create_task(make_task(project_generation=project.generation))
    own = task_store.create_task(make_task(project_generation=project.generation, webhook=TARGET))
    task_store.request_cancel("web", plain.id, now=T0)
    task_store.request_cancel("web", own.id, now=T0)
    found = webhook_store.list_deliveries([plain.id, own.id])
    assert [item.url for item in found[plain.id]] == [DEFAULT.url]
    assert [item.url for item in found[own.id]] == [TARGET.url]
    catalog_store.set_project_webhook("web", None)
    later = task_store.create_task(make_task(project_generation=project.generation))
    task_store.request_cancel("web", later.id, now=T0)
    assert webhook_store.list_deliveries([later.id]) == {}


def test_a_task_without_any_webhook_or_deleted_sends_nothing(
    task_store: SqlTaskStore, webhook_store: SqlWebhookStore
) -> None:
    plain = task_store.create_task(make_task())
    task_store.request_cancel("web", plain.id, now=T0)
    deleted = task_store.create_task(make_task(webhook=TARGET))
    task_store.delete_task("web", deleted.id, now=T0)
    assert webhook_store.list_deliveries([plain.id, deleted.id]) == {}
    assert webhook_store.count_unsettled() == 0


def test_a_purge_forgets_the_deliveries(
    task_store: SqlTaskStore, webhook_store: SqlWebhookStore
) -> None:
    task = task_store.create_task(make_task(webhook=TARGET))
    task_store.request_cancel("web", task.id, now=T0)
    assert webhook_store.count_unsettled() == 1
    task_store.delete_task("web", task.id, now=T0)
    task_store.purge_task(task.id)
    assert webhook_store.list_deliveries([task.id]) == {}


def test_a_claim_holds_a_delivery_and_settling_records_the_outcome(
    task_store: SqlTaskStore, webhook_store: SqlWebhookStore
) -> None:
    task = task_store.create_task(make_task(webhook=TARGET))
    task_store.request_cancel("web", task.id, now=T0)
    assert webhook_store.claim_due(now=T0 - timedelta(seconds=1), hold=HOLD, limit=10) == []
    [claimed] = webhook_store.claim_due(now=T0, hold=HOLD, limit=10)
    assert (claimed.status, claimed.attempts) == (DeliveryStatus.DELIVERING, 1)
    assert webhook_store.claim_due(now=T0 + HOLD / 2, hold=HOLD, limit=10) == []
    retry_at = T0 + timedelta(seconds=5)
    retry = DeliveryOutcome(
        delivery=claimed,
        status=DeliveryStatus.PENDING,
        at=T0,
        status_code=500,
        error="the webhook answered 500",
        next_attempt_at=retry_at,
    )
    assert webhook_store.settle([retry]) == {claimed.id}
    [pending] = webhook_store.list_deliveries([task.id])[task.id]
    assert (pending.status, pending.last_status_code, pending.next_attempt_at) == (
        DeliveryStatus.PENDING,
        500,
        retry_at,
    )
    [again] = webhook_store.claim_due(now=retry_at, hold=HOLD, limit=10)
    assert again.id == claimed.id
    assert again.attempts == 2
    delivered = DeliveryOutcome(
        delivery=again, status=DeliveryStatus.DELIVERED, at=retry_at, status_code=204
    )
    assert webhook_store.settle([delivered]) == {again.id}
    [done] = webhook_store.list_deliveries([task.id])[task.id]
    assert (done.status, done.delivered_at, done.last_error) == (
        DeliveryStatus.DELIVERED,
        retry_at,
        None,
    )
    assert webhook_store.claim_due(now=retry_at + 10 * HOLD, hold=HOLD, limit=10) == []
    assert webhook_store.count_unsettled() == 0


def test_a_lapsed_claim_is_taken_over_and_the_old_holder_cannot_settle(
    task_store: SqlTaskStore, webhook_store: SqlWebhookStore
) -> None:
    task = task_store.create_task(make_task(webhook=TARGET))
    task_store.request_cancel("web", task.id, now=T0)
    [first] = webhook_store.claim_due(now=T0, hold=HOLD, limit=1)
    [second] = webhook_store.claim_due(now=T0 + HOLD, hold=HOLD, limit=1)
    assert second.id == first.id
    assert second.attempts == 2
    late = DeliveryOutcome(delivery=first, status=DeliveryStatus.DELIVERED, at=T0, status_code=200)
    assert webhook_store.settle([late]) == set()
    [current] = webhook_store.list_deliveries([task.id])[task.id]
    assert current.status == DeliveryStatus.DELIVERING


def test_concurrent_claimers_never_share_a_delivery(task_store: SqlTaskStore, sql_url: str) -> None:
    ids = []
    for _ in range(60):
        task = task_store.create_task(make_task(webhook=TARGET))
        task_store.request_cancel("web", task.id, now=T0)
        ids.append(task.id)
    stores = [SqlWebhookStore(create_sql_engine(sql_url)) for _ in range(4)]
    claimed: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(len(stores))

    def claim_all(store: SqlWebhookStore) -> None:
        start.wait()
        while batch := store.claim_due(now=T0, hold=HOLD, limit=3):
            with lock:
                claimed.update(item.id for item in batch)

    threads = [threading.Thread(target=claim_all, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert len(claimed) == len(ids)
    assert set(claimed.values()) == {1}


def test_a_batch_of_outcomes_is_recorded_together(
    task_store: SqlTaskStore, webhook_store: SqlWebhookStore
) -> None:
    for _ in range(3):
        task = task_store.create_task(make_task(webhook=TARGET))
        task_store.request_cancel("web", task.id, now=T0)
    claimed = webhook_store.claim_due(now=T0, hold=HOLD, limit=10)
    assert len(claimed) == 3
    outcomes = [
        DeliveryOutcome(delivery=claimed[0], status=DeliveryStatus.DELIVERED, at=T0),
        DeliveryOutcome(delivery=claimed[1], status=DeliveryStatus.FAILED, at=T0, error="given up"),
        DeliveryOutcome(
            delivery=claimed[2],
            status=DeliveryStatus.PENDING,
            at=T0,
            next_attempt_at=T0 + HOLD,
        ),
    ]
    assert webhook_store.settle(outcomes) == {item.id for item in claimed}
    assert webhook_store.settle([]) == set()
    found = webhook_store.list_deliveries([item.task_id for item in claimed])
    statuses = {items[0].id: items[0].status for items in found.values()}
    assert statuses == {
        claimed[0].id: DeliveryStatus.DELIVERED,
        claimed[1].id: DeliveryStatus.FAILED,
        claimed[2].id: DeliveryStatus.PENDING,
    }
    assert webhook_store.count_unsettled() == 1


def test_a_cancel_that_ends_with_the_last_released_slice_writes_a_delivery(
    task_store: SqlTaskStore, webhook_store: SqlWebhookStore
) -> None:
    task = task_store.create_task(make_task(webhook=TARGET))
    arguments: dict[str, Any] = {"lease": LEASE, "now": T0, "max_running_per_project": NO_LIMIT}
    assert task_store.claim_next_work(WORKER, **arguments) is not None
    ranges = [TimeRange(T0 + timedelta(minutes=index), T0 + timedelta(minutes=index + 1))
              for index in range(2)]  # fmt: skip
    task_store.plan_slices(task.id, ranges, worker_id=WORKER, now=T0)
    assert task_store.claim_next_work("w1", **arguments) is not None
    task_store.request_cancel("web", task.id, now=T0)
    assert webhook_store.list_deliveries([task.id]) == {}  # CANCELLING: not ended yet
    task_store.release_slice(task.id, 0, "w1", now=T0)
    assert task_store.get_task("web", task.id).status is TaskStatus.CANCELLED
    [delivery] = webhook_store.list_deliveries([task.id])[task.id]
    assert delivery.event_type == "download_task.cancelled"
    assert delivery.payload["status"] == "CANCELLED"
