"""How a stored slice ends, and what its ending does to the task (ADR 0018).

A finished slice (:func:`record_finished_slice`) stores its part and the task's counters; the
worker finishing the last unfinished slice of a RUNNING task takes the task's lease to complete
the artifact. When the last running slice of a task stops (given back, or finished as a cancel
came), :func:`settle_stopped_task` moves the task on: a CANCELLING task becomes CANCELLED, a
RUNNING one whose workers gave it back QUEUED. :func:`cancel_if_idle` ends a CANCELLING task
whose slices none runs at once. An ending queues its webhook in the same transaction (ADR 0020).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, select, update

from logsluice.adapters.sql.metadata import task_slices, tasks
from logsluice.adapters.sql.slice_claims import held_by
from logsluice.adapters.sql.slice_progress import task_counters
from logsluice.adapters.sql.task_rows import encode_missing_ranges, slice_from_row, task_from_row
from logsluice.adapters.sql.task_updates import FINISHED_VALUES, RUNNING_VALUES, lost_or_missing
from logsluice.adapters.sql.webhook_outbox import record_endings
from logsluice.domain.errors import LeaseLostError
from logsluice.domain.tasks import SliceOutcome, SliceStatus, Task, TaskStatus

AFTER_LAST_RELEASE = {
    TaskStatus.CANCELLING: TaskStatus.CANCELLED,
    TaskStatus.RUNNING: TaskStatus.QUEUED,
}
"""What a task becomes when the last worker running one of its slices gives it back."""
AFTER_LAST_CANCEL = {TaskStatus.CANCELLING: TaskStatus.CANCELLED}
"""What a cancelled task becomes when no slice of it runs any more (a running one keeps on)."""


def running_task(connection: Connection, task_id: str, worker_id: str) -> Task:
    """Return the task while it runs. Raises LeaseLostError or TaskNotFoundError otherwise."""
    row = connection.execute(
        select(tasks).where(tasks.c.id == task_id, tasks.c.status.in_(RUNNING_VALUES))
    ).first()
    if row is None:
        raise lost_or_missing(connection, task_id, worker_id)
    return task_from_row(row)


def lost_slice(task_id: str, slice_index: int, worker_id: str) -> LeaseLostError:
    """The error of a worker that no longer holds the slice."""
    return LeaseLostError(
        f"worker {worker_id!r} no longer holds slice {slice_index} of task {task_id!r}",
        task_id=task_id,
        slice_index=slice_index,
        worker_id=worker_id,
    )


def record_finished_slice(
    connection: Connection,
    task_id: str,
    slice_index: int,
    worker_id: str,
    outcome: SliceOutcome,
    *,
    lease: timedelta,
    now: datetime,
) -> tuple[Row[Any], bool]:
    """Record the slice as ``outcome`` says in ``connection``'s transaction; return the task's
    row and whether ``worker_id`` now holds the task's lease to complete the artifact (the
    last unfinished slice of a RUNNING task). Raises LeaseLostError."""
    task = running_task(connection, task_id, worker_id)
    done = connection.execute(
        update(task_slices)
        .where(*held_by(task_id, slice_index, worker_id))
        .values(_finished_values(outcome, now))
        .returning(*task_slices.c)
    ).first()
    if done is None:
        raise lost_slice(task_id, slice_index, worker_id)
    # Count the finished slices only while holding the task's row: two workers finishing the
    # last two slices at once would otherwise each see the other's still running (PostgreSQL
    # counts with the snapshot of its statement), neither would complete the task, and it would
    # wait for its lease to lapse and cost an attempt. The slice is updated first, as a
    # heartbeat does, so the two lock in the same order.
    connection.execute(select(tasks.c.id).where(tasks.c.id == task_id).with_for_update())
    changes = task_counters(connection, task, None)
    if task.error_code is not None:  # a slice got through: the outage it showed is over
        changes |= {"error_code": None, "error_message": None}
    if outcome.status is SliceStatus.FAILED_INCOMPLETE:
        missing = (*task.missing_ranges, slice_from_row(done).time_range)
        changes |= {"incomplete": True, "missing_ranges": encode_missing_ranges(missing)}
    last = task.status is TaskStatus.RUNNING and changes["slices_done"] == task.slices_total
    if last:
        changes |= {"lease_owner": worker_id, "lease_expires_at": now + lease}
    row = connection.execute(
        update(tasks)
        .where(tasks.c.id == task_id)
        .values(updated_at=now, **changes)
        .returning(*tasks.c)
    ).one()
    if task.status is TaskStatus.CANCELLING:  # finished just as a cancel came
        settle_stopped_task(connection, task_id, now, AFTER_LAST_CANCEL)
    return row, last


def _finished_values(outcome: SliceOutcome, now: datetime) -> dict[str, Any]:
    return {
        "status": outcome.status.value,
        "rows": outcome.rows,
        "size_bytes": outcome.size_bytes,
        "sha256": outcome.sha256,
        "md5": outcome.md5,
        "cut": outcome.cut,
        "part_footers": outcome.part_footers,
        "file_hash_state": outcome.file_hash_state,
        "lease_expires_at": None,
        "written_at": now,
    }


def settle_stopped_task(
    connection: Connection, task_id: str, now: datetime, outcomes: dict[TaskStatus, TaskStatus]
) -> list[Task]:
    """When no slice of the task runs any more, move it as ``outcomes`` say (status → status).

    Returns the task as it changed (empty when a slice still runs under a live lease, or the
    task's status is none of ``outcomes``)."""
    still_running = connection.execute(
        select(task_slices.c.slice_index).where(
            task_slices.c.task_id == task_id,
            task_slices.c.status == SliceStatus.RUNNING.value,
            task_slices.c.lease_expires_at >= now,
        )
    ).first()
    if still_running is not None:
        return []
    settled: list[Task] = []
    for source, target in outcomes.items():
        changed = connection.execute(
            update(tasks)
            .where(tasks.c.id == task_id, tasks.c.status == source.value)
            .values(
                status=target.value,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
                # the error shown while waiting for a store goes (entry_changes says the same)
                error_code=None,
                error_message=None,
                **({"finished_at": now} if target is TaskStatus.CANCELLED else {}),
            )
            .returning(*tasks.c)
        )
        ended = [task_from_row(row) for row in changed]
        # an ending queues its webhook in this same transaction (ADR 0020)
        record_endings(connection, ended)
        settled.extend(ended)
    return settled


def cancel_if_idle(
    connection: Connection, task: Task, now: datetime, *, while_completing: bool = True
) -> Task:
    """End a CANCELLING task CANCELLED at once when it has slices and none of them runs.

    Its slices are all queued, waiting for a retry or finished (also: all finished, with the
    completion not run yet): no worker would hear the cancel at a slice heartbeat, so waiting
    would only leave it CANCELLING until its lease lapsed. A worker completing it finds its own
    ending refused (ADR 0018). A task not planned yet stays CANCELLING: the worker planning it
    hears the cancel at its task heartbeat. With ``while_completing`` false (a delete, whose
    files go as soon as it is CANCELLED) a task whose slices are all finished stays CANCELLING
    too: a completer may still be publishing its file, and its lease lapsing ends it.
    """
    if task.status is not TaskStatus.CANCELLING:
        return task
    wanted = task_slices.c.task_id == task.id
    if not while_completing:
        wanted = and_(wanted, task_slices.c.status.not_in(FINISHED_VALUES))
    if connection.execute(select(task_slices.c.slice_index).where(wanted)).first() is None:
        return task
    settled = settle_stopped_task(connection, task.id, now, AFTER_LAST_CANCEL)
    return settled[0] if settled else task
