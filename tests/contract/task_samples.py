"""Builders of task specs and tasks, and a way to bring a stored task into any status, for tests."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from logsluice.domain.export import Compression, CsvOptions, ExportFormat, Order
from logsluice.domain.tasks import Task, TaskSpec, TaskStatus
from logsluice.domain.timerange import TimeRange
from logsluice.ports import TaskStore

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
LEASE = timedelta(seconds=30)
WORKER = "worker-a"
OTHER_WORKER = "worker-b"
NO_LIMIT = 1000


def make_spec(name: str = "export", **changes: object) -> TaskSpec:
    values: dict[str, object] = {
        "name": name,
        "logstore": "app",
        "query": "status>=500 | select host, count(*) as n group by host",
        "time_range": TimeRange(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC)),
        "format": ExportFormat.CSV,
        "display_name": "Errors by host",
        "description": "nightly export",
        "logstream": "edge",
        "compression": Compression.ZSTD,
        "limit": 1_000_000,
        "order": Order.DESC,
        "allow_incomplete": True,
        "csv": CsvOptions(header=False, delimiter=";", escape_formulas=False),
        "timezone": "Asia/Shanghai",
    }
    values.update(changes)
    return TaskSpec(**values)


def make_task(
    project: str = "web", *, now: datetime = T0, spec: TaskSpec | None = None, **changes: object
) -> Task:
    task = Task.queued(project=project, spec=spec or make_spec(), now=now)
    return dataclasses.replace(task, **changes)


def task_in(store: TaskStore, status: TaskStatus, *, project: str = "web") -> Task:
    """Create a task and bring it to ``status`` through the store's own operations.

    It must be the only queued task, since it is claimed on the way to RUNNING.
    """
    task = store.create_task(make_task(project))
    if status == TaskStatus.QUEUED:
        return task
    if status == TaskStatus.CANCELLED:
        return store.request_cancel(project, task.id, now=T0)
    claimed = store.claim_next_task(WORKER, lease=LEASE, now=T0, max_running_per_project=NO_LIMIT)
    assert claimed is not None
    assert claimed.id == task.id
    return _finish_from_running(store, claimed, status)


def _finish_from_running(store: TaskStore, task: Task, status: TaskStatus) -> Task:
    if status == TaskStatus.RUNNING:
        return task
    if status == TaskStatus.CANCELLING:
        return store.request_cancel(task.project, task.id, now=T0)
    if status == TaskStatus.FAILED:
        return store.transition(
            task.id, TaskStatus.FAILED, now=T0, worker_id=WORKER, error_code="query_failed"
        )
    succeeded = store.transition(
        task.id, TaskStatus.SUCCEEDED, now=T0, worker_id=WORKER, expires_at=T0, progress=100.0
    )
    if status == TaskStatus.SUCCEEDED:
        return succeeded
    (expired,) = store.expire_tasks(now=T0)
    return expired
