"""Contract of stored slices with their own leases, on SQLite and PostgreSQL: planned once,
claimed fairly and exactly once (also from several processes at once), renewed, lapsed one by
one, finished (the last finisher completes the task), retried, released, and cancelled."""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from logsluice.adapters.artifacts import LocalArtifactStore
from logsluice.adapters.sql import SqlTaskStore, SqlWebhookStore, create_sql_engine
from logsluice.domain.errors import LeaseLostError, StorageUnavailableError
from logsluice.domain.outages import is_transient
from logsluice.domain.tasks import (
    ClaimedWork,
    SliceOutcome,
    SliceStatus,
    Task,
    TaskStatus,
    WebhookTarget,
)
from logsluice.domain.timerange import TimeRange
from logsluice.services.task_file_hash import BACKGROUND, FileHasher, hashes_of_parts
from logsluice.services.task_files import artifact_key
from tests.contract.task_samples import LEASE, NO_LIMIT, OTHER_WORKER, T0, WORKER, make_task

PROCESSES = 4
HOOK = WebhookTarget(url="https://hooks.example/task", secret_ciphertext="sealed")


def _ranges(count: int) -> list[TimeRange]:
    return [
        TimeRange(T0 + timedelta(minutes=index), T0 + timedelta(minutes=index + 1))
        for index in range(count)
    ]


def _claim(store: SqlTaskStore, worker_id: str = WORKER, **changes: Any) -> ClaimedWork | None:
    arguments: dict[str, Any] = {"lease": LEASE, "now": T0, "max_running_per_project": NO_LIMIT}
    return store.claim_next_work(worker_id, **(arguments | changes))


def _started(
    store: SqlTaskStore,
    project: str = "web",
    slices: int = 3,
    *,
    webhook: bool = False,
    **spec: Any,
) -> Task:
    """A task created (with a webhook if asked), claimed and planned into ``slices`` slices by
    WORKER."""
    task = store.create_task(make_task(project, **({"webhook": HOOK} if webhook else {})))
    work = _claim(store)
    assert work is not None
    assert work.task.id == task.id
    assert work.slice is None
    store.plan_slices(task.id, _ranges(slices), worker_id=WORKER, now=T0, **spec)
    return store.get_task(project, task.id)


def _done(rows: int = 10, size_bytes: int = 100) -> SliceOutcome:
    return SliceOutcome(rows=rows, size_bytes=size_bytes, sha256="ab" * 32, md5="cd" * 16)


def test_slices_are_planned_once(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=3)
    again = task_store.plan_slices(task.id, _ranges(5), worker_id=WORKER, now=T0)
    assert [item.slice_index for item in again] == [0, 1, 2]
    assert all(item.status is SliceStatus.QUEUED for item in again)
    assert task_store.get_task("web", task.id).slices_total == 3
    assert task_store.list_task_slices(task.id) == again


def test_only_the_task_lease_holder_plans(task_store: SqlTaskStore) -> None:
    task = task_store.create_task(make_task())
    assert _claim(task_store) is not None
    with pytest.raises(LeaseLostError):
        task_store.plan_slices(task.id, _ranges(2), worker_id=OTHER_WORKER, now=T0)


def test_slices_are_claimed_in_order_each_once(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=3)
    claims = [_claim(task_store, f"w{index}") for index in range(4)]
    claimed = [work for work in claims if work is not None]
    assert [work.slice.slice_index for work in claimed if work.slice] == [0, 1, 2]
    assert claims[3] is None
    first = task_store.list_task_slices(task.id)[0]
    assert (first.status, first.lease_owner, first.attempts) == (SliceStatus.RUNNING, "w0", 1)


def test_the_last_finisher_takes_the_task_lease(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=2)
    first, second = _claim(task_store, "w1"), _claim(task_store, "w2")
    assert first is not None
    assert second is not None
    after, last = task_store.finish_slice(task.id, 1, "w2", _done(7, 70), lease=LEASE, now=T0)
    assert not last
    assert (after.rows_written, after.bytes_written, after.slices_done) == (7, 70, 1)
    after, last = task_store.finish_slice(task.id, 0, "w1", _done(3, 30), lease=LEASE, now=T0)
    assert last
    assert after.lease_owner == "w1"
    assert (after.rows_written, after.bytes_written, after.slices_done) == (10, 100, 2)
    done = task_store.list_task_slices(task.id)
    assert [(item.status, item.sha256) for item in done] == [(SliceStatus.DONE, "ab" * 32)] * 2
    succeeded = task_store.transition(task.id, TaskStatus.SUCCEEDED, now=T0, worker_id="w1")
    assert succeeded.status is TaskStatus.SUCCEEDED


def test_a_lapsed_slice_is_claimed_again_alone(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=2)
    assert _claim(task_store, "w1") is not None
    second = _claim(task_store, "w2")
    assert second is not None
    assert second.slice is not None
    later = T0 + LEASE / 2
    task_store.heartbeat_slice(task.id, 1, "w2", lease=LEASE, now=later, rows=5, size_bytes=50)
    lapsed_at = T0 + LEASE + timedelta(seconds=1)
    again = _claim(task_store, "w3", now=lapsed_at)
    assert again is not None
    assert again.slice is not None
    assert (again.slice.slice_index, again.slice.attempts) == (0, 2)
    assert _claim(task_store, "w4", now=lapsed_at) is None  # slice 1's lease still runs
    with pytest.raises(LeaseLostError):
        task_store.finish_slice(task.id, 0, "w1", _done(), lease=LEASE, now=lapsed_at)


def test_lapsed_slices_are_queued_by_the_janitor(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=2)
    assert _claim(task_store, "w1") is not None
    task_store.heartbeat_slice(task.id, 0, "w1", lease=LEASE * 4, now=T0, rows=0, size_bytes=0)
    assert task_store.requeue_lapsed(now=T0 + LEASE * 2, max_attempts=3) == []
    assert task_store.list_task_slices(task.id)[0].status is SliceStatus.RUNNING
    task_store.requeue_lapsed(now=T0 + LEASE * 5, max_attempts=3)
    assert task_store.list_task_slices(task.id)[0].status is SliceStatus.QUEUED


def test_heartbeats_keep_the_task_alive_and_report_progress(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=2)
    assert _claim(task_store, "w1") is not None
    later = T0 + LEASE * 0.9
    after = task_store.heartbeat_slice(
        task.id, 0, "w1", lease=LEASE, now=later, rows=40, size_bytes=400, progress=20.0
    )
    assert after.lease_expires_at == later + LEASE
    assert (after.rows_written, after.bytes_written, after.progress) == (40, 400, 20.0)
    assert task_store.requeue_lapsed(now=T0 + LEASE * 1.5, max_attempts=3) == []
    with pytest.raises(LeaseLostError):
        task_store.heartbeat_slice(task.id, 0, "w2", lease=LEASE, now=later, rows=0, size_bytes=0)


def test_progress_counts_the_rows_of_running_slices_against_the_estimate(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=4)
    task_store.record_estimate(task.id, estimate_rows=1000, estimate_bytes=None, now=T0)
    assert _claim(task_store, "w1") is not None
    assert _claim(task_store, "w2") is not None
    task_store.heartbeat_slice(task.id, 0, "w1", lease=LEASE, now=T0, rows=150, size_bytes=1)
    after = task_store.heartbeat_slice(
        task.id, 1, "w2", lease=LEASE, now=T0, rows=200, size_bytes=1
    )
    # no slice finished yet: the share of finished slices alone would say 0 %
    assert (after.rows_written, after.progress) == (350, 35.0)
    more = task_store.heartbeat_slice(
        task.id, 1, "w2", lease=LEASE, now=T0, rows=2000, size_bytes=1
    )
    assert more.progress == 99.9  # more rows than estimated: never 100 % before the end


def test_a_failed_slice_waits_then_retries_and_its_holder_may_fail_the_task(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=1)
    assert _claim(task_store, "w1") is not None
    retry_at = T0 + timedelta(seconds=5)
    failed = task_store.fail_slice(
        task.id, 0, "w1", now=T0, retry_at=retry_at, error_message="boom"
    )
    assert (failed.status, failed.attempts, failed.error_message) == (
        SliceStatus.QUEUED,
        1,
        "boom",
    )
    assert _claim(task_store, "w2") is None
    again = _claim(task_store, "w2", now=retry_at)
    assert again is not None
    assert again.slice is not None
    assert again.slice.attempts == 2
    ended = task_store.transition(
        task.id, TaskStatus.FAILED, now=retry_at, worker_id="w2", error_code="x"
    )
    assert ended.status is TaskStatus.FAILED


def test_a_slice_waiting_for_a_store_keeps_its_attempts_and_the_task_shows_it(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=2)
    assert _claim(task_store, "w1") is not None
    retry_at = T0 + timedelta(seconds=1)
    waiting = task_store.fail_slice(
        task.id, 0, "w1", now=T0, retry_at=retry_at, error_message="s3 down", outage_since=T0
    )
    assert (waiting.status, waiting.attempts, waiting.outage_since) == (SliceStatus.QUEUED, 0, T0)
    shown = task_store.get_task("web", task.id)
    assert (shown.status, shown.error_code, shown.error_message) == (
        TaskStatus.RUNNING,
        "backend_unavailable",
        "s3 down",
    )
    again = _claim(task_store, "w2", now=retry_at)
    assert again is not None
    assert again.slice is not None
    assert (again.slice.slice_index, again.slice.attempts) == (0, 1)
    assert again.slice.outage_since == T0  # the outage's start stays for its window
    task_store.finish_slice(task.id, 0, "w2", _done(), lease=LEASE, now=retry_at)
    assert task_store.get_task("web", task.id).error_code is None  # a slice got through
    task_store.record_outage(task.id, now=retry_at, message="planning waits")
    assert task_store.get_task("web", task.id).error_message == "planning waits"
    task_store.record_outage(task.id, now=retry_at, message=None)
    assert task_store.get_task("web", task.id).error_code is None
    assert _claim(task_store, "w2", now=retry_at) is not None  # slice 1
    counted = task_store.fail_slice(  # any other failure counts, and is no outage
        task.id, 1, "w2", now=retry_at, retry_at=retry_at, error_message="boom"
    )
    assert (counted.attempts, counted.outage_since) == (1, None)


def test_an_unreachable_database_is_an_outage() -> None:
    pytest.importorskip("psycopg")
    store = SqlTaskStore(create_sql_engine("postgresql://postgres@127.0.0.1:1/nowhere"))
    with pytest.raises(StorageUnavailableError) as raised:
        store.list_task_slices("any")
    assert is_transient(raised.value)
    assert raised.value.details["store"] == "the task store"


def test_a_missing_slice_is_recorded_as_such(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=1)
    assert _claim(task_store, "w1") is not None
    missing = SliceOutcome(
        rows=0, size_bytes=0, sha256=None, md5=None, status=SliceStatus.FAILED_INCOMPLETE
    )
    after, last = task_store.finish_slice(task.id, 0, "w1", missing, lease=LEASE, now=T0)
    assert last
    assert after.incomplete
    assert after.missing_ranges == (_ranges(1)[0],)


def test_released_slices_are_not_counted_and_a_cancel_ends_with_the_last(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=2)
    assert _claim(task_store, "w1") is not None
    assert _claim(task_store, "w2") is not None
    task_store.request_cancel("web", task.id, now=T0)
    assert _claim(task_store, "w3") is None  # a cancelling task hands out no slices
    released = task_store.release_slice(task.id, 0, "w1", now=T0)
    assert (released.status, released.attempts) == (SliceStatus.QUEUED, 0)
    assert task_store.get_task("web", task.id).status is TaskStatus.CANCELLING
    task_store.release_slice(task.id, 1, "w2", now=T0)
    assert task_store.get_task("web", task.id).status is TaskStatus.CANCELLED


def _cancelled_with_one_delivery(store: SqlTaskStore, task: Task) -> None:
    """The cancel ended the task at once, and queued its webhook in the same step."""
    ended = store.request_cancel("web", task.id, now=T0)
    assert ended.status is TaskStatus.CANCELLED
    assert ended.finished_at == T0
    assert store.get_task("web", task.id).status is TaskStatus.CANCELLED
    [delivery] = SqlWebhookStore(store._engine).list_deliveries([task.id])[task.id]
    assert delivery.event_type == "download_task.cancelled"
    assert _claim(store, "w9") is None  # nothing of it is handed out any more


def test_a_cancel_ends_a_task_none_of_whose_slices_runs_at_once(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=3, webhook=True)
    _cancelled_with_one_delivery(task_store, task)
    slices = task_store.list_task_slices(task.id)
    assert [item.status for item in slices] == [SliceStatus.QUEUED] * 3  # kept for a retry


def test_a_cancel_ends_at_once_a_task_whose_slices_wait_for_a_retry_or_are_done(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=2, webhook=True)
    assert _claim(task_store, "w1") is not None
    task_store.finish_slice(task.id, 0, "w1", _done(), lease=LEASE, now=T0)
    assert _claim(task_store, "w2") is not None
    retry_at = T0 + timedelta(seconds=5)
    task_store.fail_slice(task.id, 1, "w2", now=T0, retry_at=retry_at, error_message="boom")
    _cancelled_with_one_delivery(task_store, task)


def test_a_cancel_ends_at_once_a_task_whose_slices_are_done_but_not_completed(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=1, webhook=True)
    assert _claim(task_store, "w1") is not None
    _, last = task_store.finish_slice(task.id, 0, "w1", _done(), lease=LEASE, now=T0)
    assert last  # w1 holds the task's lease to complete it, and may have died doing so
    _cancelled_with_one_delivery(task_store, task)
    with pytest.raises(LeaseLostError):  # a completer still alive finds its ending refused
        task_store.transition(task.id, TaskStatus.SUCCEEDED, now=T0, worker_id="w1")


def test_a_cancel_ends_at_once_a_task_whose_only_running_slice_lapsed(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=1, webhook=True)
    assert _claim(task_store, "w1", now=T0 - LEASE * 2) is not None  # its lease is over
    _cancelled_with_one_delivery(task_store, task)


@pytest.mark.parametrize("ending", ["cancel", "delete"])
def test_a_cancelled_task_whose_last_running_slice_fails_ends_then(
    task_store: SqlTaskStore, ending: str
) -> None:
    task = _started(task_store, slices=2, webhook=True)
    assert _claim(task_store, "w1") is not None
    assert _claim(task_store, "w2") is not None
    if ending == "cancel":
        assert task_store.request_cancel("web", task.id, now=T0).status is TaskStatus.CANCELLING
    else:
        assert task_store.delete_task("web", task.id, now=T0).status is TaskStatus.CANCELLING
    retry_at = T0 + timedelta(seconds=5)
    # the slices failed (e.g. their logstore went with the project): queued for a retry that no
    # worker takes of a cancelled task, so the last one to fail ends it
    task_store.fail_slice(task.id, 0, "w1", now=T0, retry_at=retry_at, error_message="gone")
    assert _status(task_store, task, ending) is TaskStatus.CANCELLING  # w2's slice still runs
    task_store.fail_slice(task.id, 1, "w2", now=T0, retry_at=retry_at, error_message="gone")
    assert _status(task_store, task, ending) is TaskStatus.CANCELLED
    if ending == "cancel":  # a deleted task's webhook is not sent
        [delivery] = SqlWebhookStore(task_store._engine).list_deliveries([task.id])[task.id]
        assert delivery.event_type == "download_task.cancelled"


def _status(store: SqlTaskStore, task: Task, ending: str) -> TaskStatus:
    """The task's status; a deleted one is seen through the janitor's list (CANCELLED: its files
    may go) or else is still ending."""
    if ending == "cancel":
        return store.get_task("web", task.id).status
    purgeable = [item for item in store.list_purgeable_tasks() if item.id == task.id]
    return purgeable[0].status if purgeable else TaskStatus.CANCELLING


def test_a_running_task_whose_slice_fails_keeps_running(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=1)
    assert _claim(task_store, "w1") is not None
    retry_at = T0 + timedelta(seconds=5)
    task_store.fail_slice(task.id, 0, "w1", now=T0, retry_at=retry_at, error_message="boom")
    assert task_store.get_task("web", task.id).status is TaskStatus.RUNNING


def test_a_cancel_waits_for_a_running_slice_and_a_second_cancel_changes_nothing(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=2)
    assert _claim(task_store, "w1") is not None
    assert task_store.request_cancel("web", task.id, now=T0).status is TaskStatus.CANCELLING
    assert task_store.request_cancel("web", task.id, now=T0).status is TaskStatus.CANCELLING
    task_store.release_slice(task.id, 0, "w1", now=T0)
    assert task_store.get_task("web", task.id).status is TaskStatus.CANCELLED


def test_a_delete_ends_a_task_with_queued_slices_only_at_once(task_store: SqlTaskStore) -> None:
    idle = _started(task_store, slices=2)
    deleted = task_store.delete_task("web", idle.id, now=T0)
    assert (deleted.status, deleted.deleted) == (TaskStatus.CANCELLED, True)
    assert [task.id for task in task_store.list_purgeable_tasks()] == [idle.id]


def test_a_delete_leaves_a_task_being_completed_to_its_completer(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=1)
    assert _claim(task_store, "w1") is not None
    task_store.finish_slice(task.id, 0, "w1", _done(), lease=LEASE, now=T0)
    # the completer may be publishing the file: its files go once it stopped (or its lease lapsed)
    assert task_store.delete_task("web", task.id, now=T0).status is TaskStatus.CANCELLING
    assert task_store.list_purgeable_tasks() == []
    task_store.requeue_lapsed(now=T0 + LEASE * 2, max_attempts=3)
    assert [item.id for item in task_store.list_purgeable_tasks()] == [task.id]


def test_the_last_released_slice_queues_its_task_again(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=2)
    assert _claim(task_store, "w1") is not None
    task_store.release_slice(task.id, 0, "w1", now=T0)
    assert task_store.get_task("web", task.id).status is TaskStatus.QUEUED
    again = _claim(task_store, "w2")
    assert again is not None
    assert (again.task.id, again.slice) == (task.id, None)
    planned = task_store.plan_slices(task.id, [], worker_id="w2", now=T0)
    assert [item.status for item in planned] == [SliceStatus.QUEUED] * 2


def test_a_limited_task_runs_its_slices_one_after_another(task_store: SqlTaskStore) -> None:
    task = _started(task_store, slices=3, waits_for_previous=True)
    first = _claim(task_store, "w1")
    assert first is not None
    assert first.slice is not None
    assert _claim(task_store, "w2") is None
    task_store.finish_slice(task.id, 0, "w1", _done(), lease=LEASE, now=T0)
    second = _claim(task_store, "w2")
    assert second is not None
    assert second.slice is not None
    assert second.slice.slice_index == 1


def test_a_running_task_does_not_starve_another_project(task_store: SqlTaskStore) -> None:
    _started(task_store, "big", slices=10)
    task_store.create_task(make_task("small", now=T0 + timedelta(hours=1)))
    order = []
    for index in range(3):
        work = _claim(task_store, f"w{index}")
        assert work is not None
        order.append((work.task.project, work.slice is not None))
    # the small project's queued task goes before the big task's next slice
    assert order == [("small", False), ("big", True), ("big", True)]


def _process_slice_claimer(
    url: str, worker_id: str, barrier: Any, holding: Any, results: Any
) -> None:
    engine = create_sql_engine(url)
    store = SqlTaskStore(engine)
    barrier.wait()
    claimed = []
    while (work := _claim(store, worker_id)) is not None:
        if work.slice is None:
            continue
        claimed.append((work.task.id, work.slice.slice_index))
        if len(claimed) == 1:
            # every process holds a slice of its own at once before any finishes one: the
            # claims really overlap, however the machine schedules the processes
            holding.wait(timeout=60)
        store.finish_slice(
            work.task.id, work.slice.slice_index, worker_id, _done(), lease=LEASE, now=T0
        )
    results.put((worker_id, claimed))
    engine.dispose()


@pytest.mark.slow
def test_processes_claim_every_slice_exactly_once(task_store: SqlTaskStore, sql_url: str) -> None:
    tasks = [_started(task_store, project, slices=15) for project in ("alpha", "beta", "gamma")]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    holding = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(
            target=_process_slice_claimer,
            args=(sql_url, f"process-{index}", barrier, holding, results),
        )
        for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)

    assert all(process.exitcode == 0 for process in processes)
    claims = Counter(item for claimed in outcomes.values() for item in claimed)
    assert set(claims) == {(task.id, index) for task in tasks for index in range(15)}
    assert set(claims.values()) == {1}
    assert all(outcomes.values())  # every process ran slices of its own
    for task in tasks:
        assert task_store.get_task(task.project, task.id).slices_done == 15


def test_a_file_hash_is_stored_once_and_only_on_the_finishing_it_was_computed_from(
    task_store: SqlTaskStore,
) -> None:
    task = _started(task_store, slices=2)
    assert _claim(task_store, "w1") is not None
    assert _claim(task_store, "w2") is not None
    running = task_store.list_task_slices(task.id)[1]
    assert not task_store.record_file_hash(
        task.id, 1, written_at=running.written_at, state=b"early"
    )  # not finished: its part may still be rewritten
    finished_at = T0 + timedelta(seconds=5)
    task_store.finish_slice(task.id, 0, "w1", _done(), lease=LEASE, now=finished_at)
    first = task_store.list_task_slices(task.id)[0]
    assert first.written_at == finished_at
    assert not task_store.record_file_hash(task.id, 0, written_at=T0, state=b"stale")
    assert task_store.record_file_hash(task.id, 0, written_at=finished_at, state=b"state-0")
    assert not task_store.record_file_hash(task.id, 0, written_at=finished_at, state=b"again")
    stored = task_store.list_task_slices(task.id)
    assert [item.file_hash_state for item in stored] == [b"state-0", None]


def _file_hasher(task_store: SqlTaskStore, store: Any, task: Task) -> FileHasher:
    """A file hasher of ``task`` whose head is ``b"H"``."""
    return FileHasher(
        task_store,
        store,
        task,
        lambda: b"H",
        shutdown=threading.Event(),
        budget=LEASE,
        logger=structlog.get_logger(),
    )


def test_the_file_hasher_extends_the_chain_in_order_and_never_raises(
    task_store: SqlTaskStore, tmp_path: Path
) -> None:
    task = _started(task_store, slices=3)
    artifacts = LocalArtifactStore(tmp_path)
    parts = [b"zero", b"one", b"two"]
    for index, data in enumerate(parts):
        writer = artifacts.open_part(artifact_key(task), index + 1)
        writer.write(data)
        writer.commit()
    for worker in ("w0", "w1", "w2"):
        assert _claim(task_store, worker) is not None

    def hasher(store: Any = artifacts) -> FileHasher:
        return _file_hasher(task_store, store, task)

    def finish(index: int) -> None:
        outcome = _done(1, len(parts[index]))
        task_store.finish_slice(task.id, index, f"w{index}", outcome, lease=LEASE, now=T0)

    finish(1)
    hasher().after_finishing(1)  # slice 0 is not hashed yet: its finisher goes on from it
    assert [item.file_hash_state for item in task_store.list_task_slices(task.id)] == [None] * 3
    finish(0)
    hasher().after_finishing(0)
    slices = task_store.list_task_slices(task.id)
    assert [item.file_hash_state is not None for item in slices] == [True, True, False]
    finish(2)

    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("the store is gone")

    hasher(Broken()).after_finishing(2)  # logged, not raised: the completer goes on
    slices = task_store.list_task_slices(task.id)
    hashes = hashes_of_parts(task, slices, artifacts, b"H")
    assert hashes is not None
    assert hashes.hexdigests()[0] == hashlib.sha256(b"H" + b"".join(parts)).hexdigest()


def test_a_finished_slice_hands_the_read_back_of_parts_to_the_background_thread(
    task_store: SqlTaskStore, tmp_path: Path
) -> None:
    task = _started(task_store, slices=2)
    artifacts = LocalArtifactStore(tmp_path)
    parts = [b"zero", b"one"]
    for index, data in enumerate(parts):
        writer = artifacts.open_part(artifact_key(task), index + 1)
        writer.write(data)
        writer.commit()
    for worker in ("w0", "w1"):
        assert _claim(task_store, worker) is not None
    for index in (1, 0):  # slice 1 finished first: neither part was hashed as it was written
        outcome = _done(1, len(parts[index]))
        task_store.finish_slice(task.id, index, f"w{index}", outcome, lease=LEASE, now=T0)
    read_on: list[str] = []
    read_part = artifacts.read_part

    def recorded_read_part(key: str, number: int) -> Any:
        read_on.append(threading.current_thread().name)
        return read_part(key, number)

    artifacts.read_part = recorded_read_part  # type: ignore[method-assign]
    _file_hasher(task_store, artifacts, task).start_after_finishing(0)
    BACKGROUND.wait()
    assert read_on == ["logsluice-assemble"] * 2  # not the worker's thread
    slices = task_store.list_task_slices(task.id)
    assert [item.file_hash_state is not None for item in slices] == [True, True]
    hashes = hashes_of_parts(task, slices, artifacts, b"H")
    assert hashes is not None
    assert hashes.hexdigests()[0] == hashlib.sha256(b"H" + b"".join(parts)).hexdigest()


def _finish_both_at_once(task_store: SqlTaskStore, task: Task) -> list[bool]:
    """Finish slices 0 and 1 (held by w1 and w2) from two threads at the same moment; return
    whether each finisher was told it completes the task."""
    start = threading.Barrier(2)
    lasts: list[bool] = []

    def finish(index: int) -> None:
        start.wait()
        _, last = task_store.finish_slice(
            task.id, index, f"w{index + 1}", _done(), lease=LEASE, now=T0
        )
        lasts.append(last)

    threads = [threading.Thread(target=finish, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return lasts


def test_of_two_slices_finished_at_once_exactly_one_completes_the_task(
    task_store: SqlTaskStore,
) -> None:
    for _ in range(30):  # without the task's row locked, PostgreSQL lets both miss it at times
        task = _started(task_store, slices=2)
        assert _claim(task_store, "w1") is not None
        assert _claim(task_store, "w2") is not None
        assert sorted(_finish_both_at_once(task_store, task)) == [False, True]
