"""Contract of TaskStore for SqlTaskStore on SQLite and PostgreSQL: lifecycle, queue, janitor.

Many threads and processes claiming at once are in test_task_store_concurrency.py.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta

import pytest

from logsluice.adapters.sql import ATTEMPTS_EXHAUSTED, SqlTaskStore
from logsluice.domain.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    LeaseLostError,
    TaskNotFoundError,
)
from logsluice.domain.tasks import (
    ALLOWED_TRANSITIONS,
    Task,
    TaskDialect,
    TaskStatus,
)
from logsluice.domain.timerange import TimeRange
from tests.contract.task_samples import (
    LEASE,
    NO_LIMIT,
    OTHER_WORKER,
    T0,
    WORKER,
    make_spec,
    make_task,
    task_in,
)

T1 = T0 + timedelta(seconds=5)


def _claim(
    store: SqlTaskStore, worker: str = WORKER, *, now: datetime = T0, limit: int = NO_LIMIT
) -> Task | None:
    return store.claim_next_task(worker, lease=LEASE, now=now, max_running_per_project=limit)


def _claimed(store: SqlTaskStore, worker: str = WORKER, *, now: datetime = T0) -> Task:
    task = _claim(store, worker, now=now)
    assert task is not None
    return task


# --- records --------------------------------------------------------------------------------------


def test_every_field_of_a_task_round_trips(task_store: SqlTaskStore) -> None:
    task = make_task(
        estimate_rows=123_456,
        estimate_bytes=9_876_543_210,
        slices_total=24,
        artifact_key="web/abc/export.csv.zst",
        expires_at=T0 + timedelta(days=7),
        missing_ranges=(TimeRange(T0, T1),),
        truncated=True,
        incomplete=True,
    )

    created = task_store.create_task(task)

    assert created == task
    assert task_store.get_task("web", task.id) == task


def test_a_new_task_must_be_queued(task_store: SqlTaskStore) -> None:
    with pytest.raises(InvalidInputError):
        task_store.create_task(make_task(status=TaskStatus.RUNNING))


def test_a_taken_id_is_refused(task_store: SqlTaskStore) -> None:
    task = task_store.create_task(make_task())

    with pytest.raises(AlreadyExistsError):
        task_store.create_task(make_task(id=task.id, spec=make_spec("other")))


def test_another_projects_task_is_not_found(task_store: SqlTaskStore) -> None:
    task = task_store.create_task(make_task("web"))

    with pytest.raises(TaskNotFoundError):
        task_store.get_task("batch", task.id)
    with pytest.raises(TaskNotFoundError):
        task_store.request_cancel("batch", task.id, now=T1)
    with pytest.raises(TaskNotFoundError):
        task_store.delete_task("batch", task.id, now=T1)
    assert task_store.get_task("web", task.id).status == TaskStatus.QUEUED


def test_unknown_task_is_not_found(task_store: SqlTaskStore) -> None:
    with pytest.raises(TaskNotFoundError):
        task_store.get_task("web", "missing")
    with pytest.raises(TaskNotFoundError):
        task_store.transition("missing", TaskStatus.CANCELLED, now=T1)
    with pytest.raises(TaskNotFoundError):
        task_store.heartbeat("missing", WORKER, lease=LEASE, now=T1)


# --- idempotency ----------------------------------------------------------------------------------


def test_same_key_and_spec_returns_the_first_task(task_store: SqlTaskStore) -> None:
    first = task_store.create_task(make_task(spec=make_spec(idempotency_key="k-1")))

    again = task_store.create_task(make_task(now=T1, spec=make_spec(idempotency_key="k-1")))

    assert again == first
    assert task_store.list_tasks("web")[1] == 1


def test_same_key_with_another_spec_conflicts(task_store: SqlTaskStore) -> None:
    first = task_store.create_task(make_task(spec=make_spec(idempotency_key="k-1")))

    with pytest.raises(ConflictError) as raised:
        task_store.create_task(make_task(spec=make_spec(idempotency_key="k-1", limit=10)))
    assert raised.value.details["task_id"] == first.id


def test_keys_are_per_project_and_optional(task_store: SqlTaskStore) -> None:
    web = task_store.create_task(make_task("web", spec=make_spec(idempotency_key="k-1")))
    batch = task_store.create_task(make_task("batch", spec=make_spec(idempotency_key="k-1")))
    plain_1 = task_store.create_task(make_task("web"))
    plain_2 = task_store.create_task(make_task("web"))

    assert len({web.id, batch.id, plain_1.id, plain_2.id}) == 4


def test_a_deleted_tasks_key_can_be_used_again(task_store: SqlTaskStore) -> None:
    first = task_store.create_task(make_task(spec=make_spec(idempotency_key="k-1")))
    task_store.delete_task("web", first.id, now=T1)

    second = task_store.create_task(make_task(spec=make_spec(idempotency_key="k-1", limit=5)))

    assert second.id != first.id


# --- transitions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.product(TaskStatus, TaskStatus)),
    ids=lambda status: str(status).lower(),
)
def test_every_transition_is_applied_or_refused_by_the_rules(
    task_store: SqlTaskStore, source: TaskStatus, target: TaskStatus
) -> None:
    task = task_in(task_store, source)

    if target in ALLOWED_TRANSITIONS[source]:
        moved = task_store.transition(task.id, target, now=T1)
        assert (moved.status, moved.updated_at) == (target, T1)
    else:
        with pytest.raises(ConflictError):
            task_store.transition(task.id, target, now=T1)
        unchanged = task_store.get_task("web", task.id)
        assert (unchanged.status, unchanged.updated_at) == (source, task.updated_at)


def test_finishing_sets_finished_at_and_drops_the_lease(task_store: SqlTaskStore) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)
    assert (running.lease_owner, running.started_at) == (WORKER, T0)

    done = task_store.transition(
        running.id, TaskStatus.SUCCEEDED, now=T1, worker_id=WORKER, rows_written=42
    )

    assert (done.finished_at, done.lease_owner, done.lease_expires_at) == (T1, None, None)
    assert done.rows_written == 42


def test_a_transition_guarded_by_another_worker_loses(task_store: SqlTaskStore) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)

    with pytest.raises(LeaseLostError):
        task_store.transition(running.id, TaskStatus.SUCCEEDED, now=T1, worker_id=OTHER_WORKER)
    assert task_store.get_task("web", running.id).status == TaskStatus.RUNNING


def test_from_statuses_narrows_the_guard(task_store: SqlTaskStore) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)

    with pytest.raises(ConflictError):
        task_store.transition(
            running.id,
            TaskStatus.QUEUED,
            now=T1,
            from_statuses={TaskStatus.FAILED, TaskStatus.CANCELLED},
        )
    assert task_store.get_task("web", running.id).status == TaskStatus.RUNNING


def test_retry_starts_clean(task_store: SqlTaskStore) -> None:
    failed = task_in(task_store, TaskStatus.FAILED)
    assert (failed.error_code, failed.attempts) == ("query_failed", 1)

    retried = task_store.transition(failed.id, TaskStatus.QUEUED, now=T1, attempts=0)

    assert (retried.status, retried.error_code, retried.finished_at) == (
        TaskStatus.QUEUED,
        None,
        None,
    )
    assert retried.attempts == 0
    assert _claimed(task_store, now=T1).id == failed.id


def test_unknown_fields_are_refused(task_store: SqlTaskStore) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)

    with pytest.raises(InvalidInputError):
        task_store.transition(running.id, TaskStatus.SUCCEEDED, now=T1, project="other")
    assert task_store.get_task("web", running.id).status == TaskStatus.RUNNING


# --- cancel ---------------------------------------------------------------------------------------


def test_cancelling_a_queued_task_is_immediate(task_store: SqlTaskStore) -> None:
    task = task_store.create_task(make_task())

    cancelled = task_store.request_cancel("web", task.id, now=T1)

    assert (cancelled.status, cancelled.finished_at) == (TaskStatus.CANCELLED, T1)
    assert _claim(task_store, now=T1) is None
    assert task_store.request_cancel("web", task.id, now=T1) == cancelled


def test_cancelling_a_running_task_is_seen_at_the_next_heartbeat(task_store: SqlTaskStore) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)
    assert not task_store.heartbeat(running.id, WORKER, lease=LEASE, now=T1).cancel_requested

    cancelling = task_store.request_cancel("web", running.id, now=T1)
    beat = task_store.heartbeat(running.id, WORKER, lease=LEASE, now=T1 + timedelta(seconds=1))
    done = task_store.transition(running.id, TaskStatus.CANCELLED, now=T1, worker_id=WORKER)

    assert (cancelling.status, cancelling.cancel_requested) == (TaskStatus.CANCELLING, True)
    assert beat.cancel_requested
    assert done.status == TaskStatus.CANCELLED


@pytest.mark.parametrize("status", [TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.EXPIRED])
def test_a_finished_task_cannot_be_cancelled(task_store: SqlTaskStore, status: TaskStatus) -> None:
    task = task_in(task_store, status)

    with pytest.raises(ConflictError):
        task_store.request_cancel("web", task.id, now=T1)
    assert task_store.get_task("web", task.id).status == status


# --- an estimate that comes after the task -------------------------------------------------------


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.SUCCEEDED])
def test_a_late_estimate_is_stored_in_any_status(
    task_store: SqlTaskStore, status: TaskStatus
) -> None:
    task = task_in(task_store, status)

    task_store.record_estimate(task.id, estimate_rows=1_234, estimate_bytes=56_789, now=T1)

    stored = task_store.get_task("web", task.id)
    assert (stored.estimate_rows, stored.estimate_bytes, stored.status) == (1_234, 56_789, status)
    assert stored.updated_at == T1


def test_a_late_estimate_of_a_deleted_or_unknown_task_changes_nothing(
    task_store: SqlTaskStore,
) -> None:
    task = task_store.create_task(make_task())
    task_store.delete_task("web", task.id, now=T1)

    task_store.record_estimate(task.id, estimate_rows=1, estimate_bytes=1, now=T1)
    task_store.record_estimate("no-such-task", estimate_rows=1, estimate_bytes=1, now=T1)

    assert task_store.list_purgeable_tasks()[0].estimate_rows is None


# --- heartbeat, lease lapse, attempts -------------------------------------------------------------


def test_heartbeat_renews_the_lease_and_stores_progress(task_store: SqlTaskStore) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)

    beat = task_store.heartbeat(
        running.id,
        WORKER,
        lease=LEASE,
        now=T1,
        progress=12.5,
        rows_written=100,
        bytes_written=2048,
        slices_total=8,
    )

    assert beat.lease_expires_at == T1 + LEASE
    assert (beat.progress, beat.rows_written, beat.bytes_written, beat.slices_total) == (
        12.5,
        100,
        2048,
        8,
    )


def test_heartbeat_of_a_worker_without_the_lease_is_refused(task_store: SqlTaskStore) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)

    with pytest.raises(LeaseLostError):
        task_store.heartbeat(running.id, OTHER_WORKER, lease=LEASE, now=T1)
    assert task_store.get_task("web", running.id).lease_expires_at == T0 + LEASE


def test_a_lapsed_lease_requeues_and_the_next_claim_counts_an_attempt(
    task_store: SqlTaskStore,
) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)
    assert task_store.requeue_lapsed(now=T0 + LEASE - timedelta(seconds=1), max_attempts=3) == []

    (requeued,) = task_store.requeue_lapsed(now=T0 + LEASE + timedelta(seconds=1), max_attempts=3)
    again = _claimed(task_store, OTHER_WORKER, now=T0 + timedelta(minutes=1))

    assert (requeued.id, requeued.status, requeued.lease_owner) == (
        running.id,
        TaskStatus.QUEUED,
        None,
    )
    assert (again.id, again.attempts, again.lease_owner) == (running.id, 2, OTHER_WORKER)
    assert again.started_at == T0
    with pytest.raises(LeaseLostError):
        task_store.heartbeat(running.id, WORKER, lease=LEASE, now=T0 + timedelta(minutes=1))


def test_a_renewed_lease_is_not_requeued(task_store: SqlTaskStore) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)
    task_store.heartbeat(running.id, WORKER, lease=LEASE, now=T0 + timedelta(seconds=25))

    assert task_store.requeue_lapsed(now=T0 + timedelta(seconds=40), max_attempts=3) == []
    assert task_store.get_task("web", running.id).status == TaskStatus.RUNNING


def test_a_task_fails_when_its_attempts_are_used_up(task_store: SqlTaskStore) -> None:
    task = task_store.create_task(make_task())
    now = T0
    for _ in range(2):
        assert _claimed(task_store, now=now).id == task.id
        now += LEASE * 2
        task_store.requeue_lapsed(now=now, max_attempts=2)

    failed = task_store.get_task("web", task.id)

    assert (failed.status, failed.attempts, failed.error_code) == (
        TaskStatus.FAILED,
        2,
        ATTEMPTS_EXHAUSTED,
    )
    assert failed.finished_at == now


def test_a_lapsed_cancelling_task_ends_cancelled(task_store: SqlTaskStore) -> None:
    cancelling = task_in(task_store, TaskStatus.CANCELLING)

    (ended,) = task_store.requeue_lapsed(now=T0 + LEASE * 2, max_attempts=3)

    assert (ended.id, ended.status, ended.lease_owner) == (
        cancelling.id,
        TaskStatus.CANCELLED,
        None,
    )


# --- listing --------------------------------------------------------------------------------------


def _create_listing_fixture(store: SqlTaskStore) -> dict[str, Task]:
    created = {}
    for index, (name, logstore) in enumerate(
        [("b-nightly", "app"), ("a-hourly", "nginx"), ("c-adhoc", "app"), ("a-hourly", "app")]
    ):
        spec = make_spec(name, logstore=logstore)
        task = store.create_task(make_task(spec=spec, now=T0 + timedelta(minutes=index)))
        created[f"{name}/{logstore}"] = task
    store.create_task(make_task("batch", now=T0))
    return created


def test_list_filters_by_status_logstore_and_name(task_store: SqlTaskStore) -> None:
    created = _create_listing_fixture(task_store)
    cancelled = task_store.request_cancel("web", created["c-adhoc/app"].id, now=T1)

    assert task_store.list_tasks("web", status=TaskStatus.CANCELLED) == ([cancelled], 1)
    by_logstore, total = task_store.list_tasks("web", logstore="app", order_by="created")
    assert total == 3
    assert {task.spec.logstore for task in by_logstore} == {"app"}
    by_name, _ = task_store.list_tasks("web", name="a-hourly", descending=False)
    assert [task.spec.logstore for task in by_name] == ["nginx", "app"]
    assert task_store.list_tasks("web", status=[TaskStatus.QUEUED, TaskStatus.CANCELLED])[1] == 4


def test_list_orders_and_pages(task_store: SqlTaskStore) -> None:
    created = _create_listing_fixture(task_store)
    task_store.request_cancel("web", created["b-nightly/app"].id, now=T0 + timedelta(hours=1))

    newest_first, total = task_store.list_tasks("web", page=1, size=3)
    last_page, _ = task_store.list_tasks("web", page=2, size=3)
    by_name, _ = task_store.list_tasks("web", order_by="name", descending=False, size=10)
    by_update, _ = task_store.list_tasks("web", order_by="updated", size=1)

    assert total == 4
    assert [task.created_at for task in newest_first + last_page] == [
        T0 + timedelta(minutes=minutes) for minutes in (3, 2, 1, 0)
    ]
    assert [task.spec.name for task in by_name] == ["a-hourly", "a-hourly", "b-nightly", "c-adhoc"]
    assert by_update[0].id == created["b-nightly/app"].id
    assert task_store.list_tasks("web", page=3, size=3) == ([], 4)


def test_list_refuses_a_bad_page_or_order(task_store: SqlTaskStore) -> None:
    with pytest.raises(InvalidInputError):
        task_store.list_tasks("web", page=0)
    with pytest.raises(InvalidInputError):
        task_store.list_tasks("web", order_by="size")  # type: ignore[arg-type]


# --- fairness and queue position ------------------------------------------------------------------


def _queue(store: SqlTaskStore, project: str, count: int, first_minute: int) -> list[Task]:
    return [
        store.create_task(make_task(project, now=T0 + timedelta(minutes=first_minute + index)))
        for index in range(count)
    ]


def test_a_flooding_project_does_not_starve_another(task_store: SqlTaskStore) -> None:
    flood = _queue(task_store, "flood", 5, first_minute=0)
    quiet = _queue(task_store, "quiet", 2, first_minute=10)
    positions = {task.id: task_store.queue_position(task) for task in flood + quiet}

    order = [_claimed(task_store).id for _ in range(7)]

    expected = [flood[0], quiet[0], flood[1], quiet[1], flood[2], flood[3], flood[4]]
    assert order == [task.id for task in expected]
    assert [positions[task_id] for task_id in order] == [1, 2, 3, 4, 5, 6, 7]
    assert _claim(task_store) is None


FLOOD_PROJECTS = [f"project-{index}" for index in range(10)]


def _flood(store: SqlTaskStore) -> None:
    """Queue 100 tasks of ``project-0`` first, then 12 of each of the nine others, interleaved."""
    _queue(store, FLOOD_PROJECTS[0], 100, first_minute=0)
    for index in range(12):
        for number, project in enumerate(FLOOD_PROJECTS[1:]):
            later = T1 + timedelta(hours=1 + index, minutes=number)
            store.create_task(make_task(project, now=later))


def _assert_equal_shares(started: list[str], projects: list[str]) -> None:
    shares = Counter(started)
    share = len(started) // len(projects)
    assert {project: shares[project] for project in projects} == dict.fromkeys(projects, share)


def test_a_flood_of_short_tasks_gets_its_turn_like_every_other_project(
    task_store: SqlTaskStore,
) -> None:
    _flood(task_store)
    started = []
    for _ in range(100):
        task = _claimed(task_store, now=T1)
        task_store.transition(task.id, TaskStatus.SUCCEEDED, now=T1, worker_id=WORKER)
        started.append(task.project)

    _assert_equal_shares(started, FLOOD_PROJECTS)
    assert started[:10] == FLOOD_PROJECTS  # round 1: whoever queued first, then the others


def test_projects_take_turns_while_tasks_keep_running_up_to_the_limit(
    task_store: SqlTaskStore,
) -> None:
    _flood(task_store)
    running: list[Task] = []
    started = []
    for _ in range(60):
        task = _claim(task_store, now=T1, limit=2)
        assert task is not None
        started.append(task.project)
        running.append(task)
        if len(running) == 6:  # six workers: the longest running task ends, a worker is free
            oldest = running.pop(0)
            task_store.transition(oldest.id, TaskStatus.SUCCEEDED, now=T1, worker_id=WORKER)

    _assert_equal_shares(started, FLOOD_PROJECTS)


def test_queue_positions_follow_the_turns_of_the_projects(task_store: SqlTaskStore) -> None:
    _flood(task_store)
    for _ in range(3):  # project-0, project-1 and project-2 have had their turn
        _claimed(task_store, now=T1)
    queued = [
        task
        for project in FLOOD_PROJECTS
        for task in task_store.list_tasks(project, status=TaskStatus.QUEUED, size=500)[0]
    ]
    positions = {task.id: task_store.queue_position(task) for task in queued}

    order = [_claimed(task_store, now=T1).id for _ in range(len(queued))]

    assert [positions[task_id] for task_id in order] == list(range(1, len(queued) + 1))


def test_a_project_at_its_running_limit_is_skipped(task_store: SqlTaskStore) -> None:
    flood = _queue(task_store, "flood", 3, first_minute=0)
    quiet = _queue(task_store, "quiet", 1, first_minute=10)

    claimed = [_claim(task_store, limit=1) for _ in range(3)]

    assert [task.id if task else None for task in claimed] == [flood[0].id, quiet[0].id, None]
    task_store.transition(flood[0].id, TaskStatus.SUCCEEDED, now=T1, worker_id=WORKER)
    after_finish = _claim(task_store, limit=1)
    assert after_finish is not None
    assert after_finish.id == flood[1].id


def test_queue_position_counts_running_tasks_of_the_project(task_store: SqlTaskStore) -> None:
    busy = _queue(task_store, "busy", 3, first_minute=0)
    _claimed(task_store)
    _claimed(task_store)
    idle = _queue(task_store, "idle", 1, first_minute=10)[0]

    assert task_store.queue_position(idle) == 1
    assert task_store.queue_position(busy[2]) == 2
    assert task_store.queue_position(busy[0]) is None


# --- expiry, delete, purge ------------------------------------------------------------------------


def test_succeeded_tasks_expire_when_their_time_comes(task_store: SqlTaskStore) -> None:
    soon = task_store.create_task(make_task(now=T0))
    later = task_store.create_task(make_task(now=T0 + timedelta(seconds=1)))
    for task, expires_at in ((soon, T1), (later, T1 + timedelta(days=1))):
        _claimed(task_store)
        task_store.transition(task.id, TaskStatus.SUCCEEDED, now=T0, expires_at=expires_at)

    assert task_store.expire_tasks(now=T1 - timedelta(microseconds=1)) == []
    (expired,) = task_store.expire_tasks(now=T1)

    assert (expired.id, expired.status, expired.finished_at) == (soon.id, TaskStatus.EXPIRED, T0)
    assert task_store.get_task("web", later.id).status == TaskStatus.SUCCEEDED


def test_deleting_a_projects_tasks_hides_and_stops_each_of_them(task_store: SqlTaskStore) -> None:
    queued = task_store.create_task(make_task("web", now=T0))
    running = task_store.create_task(make_task("web", now=T1))
    other = task_store.create_task(make_task("billing", now=T1))
    assert _claimed(task_store).id == queued.id  # project turns: web first, billing, then web
    assert _claimed(task_store).id == other.id
    assert _claimed(task_store).id == running.id
    task_store.transition(queued.id, TaskStatus.SUCCEEDED, now=T1, worker_id=WORKER)

    deleted = {task.id: task for task in task_store.delete_project_tasks("web", now=T1)}

    assert (deleted[queued.id].status, deleted[queued.id].deleted) == (TaskStatus.SUCCEEDED, True)
    assert deleted[running.id].status == TaskStatus.CANCELLING
    assert deleted[running.id].cancel_requested
    assert task_store.list_tasks("web") == ([], 0)
    assert task_store.get_task("billing", other.id).status == TaskStatus.RUNNING
    assert [task.id for task in task_store.list_purgeable_tasks()] == [queued.id]


def test_clearing_a_tasks_checkpoints_needs_its_lease(task_store: SqlTaskStore) -> None:
    task = task_store.create_task(make_task())
    _claimed(task_store)
    task_store.plan_slices(task.id, [TimeRange(T0, T1)], worker_id=WORKER, now=T1)

    with pytest.raises(LeaseLostError):
        task_store.clear_slices(task.id, worker_id=OTHER_WORKER)
    task_store.clear_slices(task.id, worker_id=WORKER)

    assert task_store.list_task_slices(task.id) == []


def test_a_task_keeps_its_project_generation(task_store: SqlTaskStore) -> None:
    task = task_store.create_task(make_task(project_generation="7d1d5a36-generation"))

    assert task_store.get_task("web", task.id).project_generation == "7d1d5a36-generation"


def test_a_deleted_queued_task_is_hidden_cancelled_and_purgeable(task_store: SqlTaskStore) -> None:
    task = task_store.create_task(make_task())
    kept = task_store.create_task(make_task(now=T1))

    deleted = task_store.delete_task("web", task.id, now=T1)

    assert (deleted.deleted, deleted.status) == (True, TaskStatus.CANCELLED)
    with pytest.raises(TaskNotFoundError):
        task_store.get_task("web", task.id)
    with pytest.raises(TaskNotFoundError):
        task_store.delete_task("web", task.id, now=T1)
    assert task_store.list_tasks("web") == ([kept], 1)
    assert [purgeable.id for purgeable in task_store.list_purgeable_tasks()] == [task.id]
    task_store.purge_task(task.id)
    assert task_store.list_purgeable_tasks() == []
    task_store.purge_task(kept.id)
    assert task_store.get_task("web", kept.id) == kept


def test_a_deleted_running_task_is_purgeable_once_its_worker_stops(
    task_store: SqlTaskStore,
) -> None:
    running = task_in(task_store, TaskStatus.RUNNING)

    deleted = task_store.delete_task("web", running.id, now=T1)
    beat = task_store.heartbeat(running.id, WORKER, lease=LEASE, now=T1)

    assert (deleted.status, beat.cancel_requested) == (TaskStatus.CANCELLING, True)
    assert task_store.list_purgeable_tasks() == []
    task_store.transition(running.id, TaskStatus.CANCELLED, now=T1, worker_id=WORKER)
    assert [task.id for task in task_store.list_purgeable_tasks()] == [running.id]
    task_store.purge_task(running.id)
    assert task_store.list_task_slices(running.id) == []


def test_queue_positions_of_many_tasks_match_one_by_one(task_store: SqlTaskStore) -> None:
    flood = _queue(task_store, "flood", 4, first_minute=0)
    quiet = _queue(task_store, "quiet", 2, first_minute=10)
    running = _claimed(task_store)
    tasks = [task for task in flood + quiet if task.id != running.id]

    positions = task_store.queue_positions([task.id for task in [*tasks, running]])

    assert positions == {task.id: task_store.queue_position(task) for task in tasks}
    assert running.id not in positions
    assert task_store.queue_positions([]) == {}


def test_get_tasks_returns_the_projects_visible_ones(task_store: SqlTaskStore) -> None:
    mine = task_store.create_task(make_task("web"))
    deleted = task_store.create_task(make_task("web", now=T1))
    other = task_store.create_task(make_task("shop"))
    task_store.delete_task("web", deleted.id, now=T1)

    found = task_store.get_tasks("web", [mine.id, deleted.id, other.id, "missing"])

    assert [task.id for task in found] == [mine.id]
    assert task_store.get_tasks("web", []) == []


def test_tasks_updated_since_a_time(task_store: SqlTaskStore) -> None:
    old = task_store.create_task(make_task(now=T0))
    new = task_store.create_task(make_task(now=T1))

    changed, total = task_store.list_tasks("web", order_by="updated", updated_since=T1)

    assert ([task.id for task in changed], total) == ([new.id], 1)
    assert old.id not in [task.id for task in changed]


def test_a_task_keeps_the_dialect_it_was_created_through(task_store: SqlTaskStore) -> None:
    created = task_store.create_task(make_task(dialect=TaskDialect.SLS))

    assert task_store.get_task("web", created.id).dialect == TaskDialect.SLS
    assert task_store.create_task(make_task(now=T1)).dialect == TaskDialect.NATIVE
