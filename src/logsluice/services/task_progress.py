"""Progress a client can trust: percent, rows and bytes so far, rows per second, ETA, queue place.

The runner stores ``progress``, ``rows_written`` and ``bytes_written`` with every heartbeat; this
module turns them and the task's times into what the API shows. The rate is measured over the time
the task has run (from its first start); the ETA extrapolates it over the part still to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from logsluice.domain.tasks import RUNNING_STATUSES, Task, TaskStatus
from logsluice.domain.webhooks import WebhookDelivery

COMPLETE_PERCENT = 100.0
# How long after its estimate's time budget ran out a missing estimate still counts as pending:
# the late estimate is being stored.
_ESTIMATE_STORE_SLACK = timedelta(seconds=2)

EstimateStatus = Literal["pending", "done", "unknown"]


@dataclass(frozen=True)
class TaskProgress:
    """How far a task is: ``percent`` 0–100, counters, rate and ETA (None when unknown)."""

    percent: float
    rows_written: int
    bytes_written: int
    rows_per_second: float | None
    eta: timedelta | None
    queue_position: int | None


@dataclass(frozen=True)
class TaskView:
    """A task as clients see it: the stored task, its progress and whether its estimate is known."""

    task: Task
    progress: TaskProgress
    estimate_status: EstimateStatus = "done"
    webhook: TaskWebhook | None = None


@dataclass(frozen=True)
class TaskWebhook:
    """The webhook of a task: the URL in force (the task's own or its project's default, None when
    neither) and the deliveries of its endings so far, oldest first."""

    url: str | None
    source: Literal["task", "project"] | None
    deliveries: tuple[WebhookDelivery, ...] = ()


def estimate_status(task: Task, now: datetime, budget: timedelta) -> EstimateStatus:
    """Return ``done`` once the task has an estimate of its rows; while none is stored, ``pending``
    until the estimate's time ``budget`` after the task's creation has passed, then ``unknown``."""
    if task.estimate_rows is not None:
        return "done"
    if now < task.created_at + budget + _ESTIMATE_STORE_SLACK:
        return "pending"
    return "unknown"


def progress_of(task: Task, now: datetime, queue_position: int | None) -> TaskProgress:
    """Return the progress of ``task`` at ``now``; ``queue_position`` is its place when QUEUED."""
    percent = _percent(task)
    elapsed = _elapsed(task, now)
    return TaskProgress(
        percent=percent,
        rows_written=task.rows_written,
        bytes_written=task.bytes_written,
        rows_per_second=_rate(task.rows_written, elapsed),
        eta=_eta(task, percent, elapsed),
        queue_position=queue_position if task.status == TaskStatus.QUEUED else None,
    )


def _percent(task: Task) -> float:
    if task.status in (TaskStatus.SUCCEEDED, TaskStatus.EXPIRED):
        return COMPLETE_PERCENT
    return round(max(0.0, min(task.progress, COMPLETE_PERCENT)), 1)


def _elapsed(task: Task, now: datetime) -> timedelta | None:
    if task.started_at is None:
        return None
    end = task.finished_at if task.finished_at is not None else now
    return max(end - task.started_at, timedelta(0))


def _rate(rows: int, elapsed: timedelta | None) -> float | None:
    if elapsed is None or elapsed <= timedelta(0) or rows <= 0:
        return None
    return round(rows / elapsed.total_seconds(), 1)


def _eta(task: Task, percent: float, elapsed: timedelta | None) -> timedelta | None:
    if task.status not in RUNNING_STATUSES or elapsed is None or percent <= 0:
        return None
    remaining_share = (COMPLETE_PERCENT - percent) / percent
    return timedelta(seconds=round(elapsed.total_seconds() * remaining_share))
