"""Guarded task updates and checkpoint writes of :class:`SqlTaskStore`, and the errors they raise.

Each status change is one ``UPDATE … WHERE status IN (allowed) RETURNING``; when it matches no row,
:func:`refusal` reads the task once more to say why (gone, lease lost, or a transition the rules
of :mod:`logsluice.domain.tasks` refuse).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, exists, or_, select, update
from sqlalchemy.sql.dml import ReturningUpdate

from logsluice.adapters.sql.metadata import task_slices, tasks
from logsluice.adapters.sql.task_rows import task_from_row
from logsluice.domain.errors import ConflictError, LeaseLostError, TaskNotFoundError
from logsluice.domain.tasks import (
    FINISHED_SLICE_STATUSES,
    RUNNING_STATUSES,
    SliceStatus,
    Task,
    TaskStatus,
    check_transition,
    entry_changes,
    finishes,
)

ATTEMPTS_EXHAUSTED = "attempts_exhausted"
RUNNING_VALUES = [status.value for status in RUNNING_STATUSES]
FINISHED_VALUES = [status.value for status in FINISHED_SLICE_STATUSES]


def guarded_update(
    target: TaskStatus,
    now: datetime,
    allowed: Collection[TaskStatus],
    values: Mapping[str, object],
) -> ReturningUpdate[Any]:
    """Return ``UPDATE tasks … WHERE status IN allowed RETURNING *`` entering ``target``."""
    changes: dict[str, object] = {**entry_changes(target), **values}
    changes.update(status=target.value, updated_at=now)
    if finishes(target):
        changes["finished_at"] = now
    return (
        update(tasks)
        .where(tasks.c.status.in_([status.value for status in allowed]))
        .values(changes)
        .returning(*tasks.c)
    )


def apply_transition(
    connection: Connection,
    task_id: str,
    target: TaskStatus,
    now: datetime,
    allowed: Collection[TaskStatus],
    values: Mapping[str, object],
    *,
    worker_id: str | None = None,
) -> Row[Any] | None:
    """Apply a guarded transition to one task (owned by ``worker_id`` if given); None if refused.

    A worker owns a task while it holds the task's lease or the lease of one of its running
    slices (so the worker whose slice failed for good may fail the task).
    """
    statement = guarded_update(target, now, allowed, values).where(tasks.c.id == task_id)
    if worker_id is not None:
        slice_held = exists().where(
            task_slices.c.task_id == task_id,
            task_slices.c.lease_owner == worker_id,
            task_slices.c.status == SliceStatus.RUNNING.value,
        )
        statement = statement.where(or_(tasks.c.lease_owner == worker_id, slice_held))
    row: Row[Any] | None = connection.execute(statement).first()
    return row


def owned_by(task_id: str, worker_id: str) -> list[Any]:
    """Return the conditions "this task is running under ``worker_id``'s lease"."""
    return [
        tasks.c.id == task_id,
        tasks.c.lease_owner == worker_id,
        tasks.c.status.in_(RUNNING_VALUES),
    ]


def refusal(
    connection: Connection, task_id: str, target: TaskStatus, worker_id: str | None
) -> Exception:
    """Return the error explaining why a guarded transition matched no row."""
    row = connection.execute(select(tasks).where(tasks.c.id == task_id)).first()
    if row is None:
        return not_found(task_id)
    current = task_from_row(row)
    if worker_id is not None and current.lease_owner != worker_id:
        return _lease_lost(task_id, worker_id)
    try:
        check_transition(current.status, target)
    except ConflictError as error:
        return error
    return ConflictError(
        f"a task in {current.status} cannot become {target} here",
        current_status=str(current.status),
        target_status=str(target),
    )


def lost_or_missing(connection: Connection, task_id: str, worker_id: str) -> Exception:
    """Return LeaseLostError for an existing task, TaskNotFoundError for a missing one."""
    exists = connection.execute(select(tasks.c.id).where(tasks.c.id == task_id)).first()
    return _lease_lost(task_id, worker_id) if exists else not_found(task_id)


def _lease_lost(task_id: str, worker_id: str) -> LeaseLostError:
    return LeaseLostError(
        f"worker {worker_id!r} no longer holds the lease of task {task_id!r}",
        task_id=task_id,
        worker_id=worker_id,
    )


def not_found(task_id: str) -> TaskNotFoundError:
    """Return the TaskNotFoundError for ``task_id``."""
    return TaskNotFoundError(f"download task {task_id!r} does not exist", task_id=task_id)


def changed_task(row: Row[Any] | None, task_id: str) -> Task:
    """Return the task of a RETURNING row that must exist (the row was locked before)."""
    if row is None:  # the row was locked and checked in this transaction; only a bug gets here
        raise ConflictError(f"task {task_id!r} changed concurrently", task_id=task_id)
    return task_from_row(row)


def exhausted_fields(max_attempts: int) -> dict[str, object]:
    """Return the error fields of a task that failed because its attempts ran out."""
    return {
        "error_code": ATTEMPTS_EXHAUSTED,
        "error_message": f"the worker's lease lapsed and all {max_attempts} attempts are used",
    }


def status_after_delete(status: TaskStatus) -> TaskStatus | None:
    """Return the status a deleted task moves to (None: it keeps its status)."""
    if status == TaskStatus.QUEUED:
        return TaskStatus.CANCELLED
    if status == TaskStatus.RUNNING:
        return TaskStatus.CANCELLING
    return None
