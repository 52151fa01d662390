"""Which stored slice a worker claims next, and the claim itself (ADR 0013, ADR 0018).

:func:`claim_next` makes one choice between "a slice of a RUNNING task" and "a QUEUED task to
start", both in the fair claim order of :mod:`.task_queue`. A slice is claimable when it is queued
(and due) or running under a lapsed lease, and, if it waits for the previous slices, when they
are all finished. Claiming it makes it RUNNING under the worker's lease with one more attempt,
numbers its task with ``claim_sequence`` like a task claim does, and renews the task's lease.
:func:`held_by` selects a slice a worker holds; :func:`renewed_task_lease` never shortens a lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, case, exists, func, not_, or_, select, update

from logsluice.adapters.sql.metadata import task_slices, tasks
from logsluice.adapters.sql.task_queue import (
    candidate_tasks,
    claim_statement,
    latest_claims,
    lock_claims,
    next_claim_number,
)
from logsluice.adapters.sql.task_rows import slice_from_row, task_from_row
from logsluice.adapters.sql.task_updates import FINISHED_VALUES
from logsluice.domain.errors import ConflictError
from logsluice.domain.tasks import ClaimedWork, SliceStatus, TaskStatus


def slice_key(task_id: str, slice_index: int) -> list[Any]:
    """The conditions selecting one slice of a task."""
    return [task_slices.c.task_id == task_id, task_slices.c.slice_index == slice_index]


def held_by(task_id: str, slice_index: int, worker_id: str) -> list[Any]:
    """The conditions selecting the slice while it runs under ``worker_id``'s lease."""
    return [
        *slice_key(task_id, slice_index),
        task_slices.c.lease_owner == worker_id,
        task_slices.c.status == SliceStatus.RUNNING.value,
    ]


def renewed_task_lease(now: datetime, lease: timedelta) -> Any:
    """The task's lease renewed to at least ``now + lease`` (never shortened)."""
    until = now + lease
    return case(
        (tasks.c.lease_expires_at.is_(None), until),
        (tasks.c.lease_expires_at < until, until),
        else_=tasks.c.lease_expires_at,
    )


def claim_next(
    connection: Connection,
    worker_id: str,
    *,
    lease: timedelta,
    now: datetime,
    max_running_per_project: int,
    only_task_id: str | None,
) -> ClaimedWork | None:
    """Claim, in ``connection``'s transaction, the next slice of a running task or the next
    queued task, whichever comes first in fair order (only slices of ``only_task_id`` if given);
    return None when there is nothing to do."""
    lock_claims(connection)
    dialect = connection.dialect.name
    slices = _candidate_slice(dialect, now)
    if only_task_id is not None:
        slices = slices.where(task_slices.c.task_id == only_task_id)
    candidate = connection.execute(slices).first()
    queued = (
        None
        if only_task_id is not None
        else connection.execute(candidate_tasks(max_running_per_project)).first()
    )
    if candidate is not None and (queued is None or candidate.turn <= queued.turn):
        return _claim_slice(connection, candidate, worker_id, lease, now)
    if queued is None:
        return None
    statement = claim_statement(
        dialect,
        worker_id,
        lease=lease,
        now=now,
        max_running_per_project=max_running_per_project,
    )
    row = connection.execute(statement).first()
    return None if row is None else ClaimedWork(task_from_row(row))


def _claimable(now: datetime) -> Any:
    """The slice waits for a worker: queued (and due), or running under a lapsed lease."""
    return and_(
        or_(
            task_slices.c.status == SliceStatus.QUEUED.value,
            and_(
                task_slices.c.status == SliceStatus.RUNNING.value,
                task_slices.c.lease_expires_at < now,
            ),
        ),
        or_(task_slices.c.not_before.is_(None), task_slices.c.not_before <= now),
    )


def _candidate_slice(dialect_name: str, now: datetime) -> Any:
    """``(task_id, slice_index, turn)`` of the next claimable slice of a RUNNING task."""
    previous = task_slices.alias("previous")
    turns = latest_claims()
    blocked = exists().where(
        previous.c.task_id == task_slices.c.task_id,
        previous.c.slice_index < task_slices.c.slice_index,
        previous.c.status.not_in(FINISHED_VALUES),
    )
    turn = func.coalesce(turns.c.turn, 0)
    query = (
        select(task_slices.c.task_id, task_slices.c.slice_index, turn.label("turn"))
        .select_from(
            task_slices.join(tasks, tasks.c.id == task_slices.c.task_id).outerjoin(
                turns, turns.c.project == tasks.c.project
            )
        )
        .where(
            tasks.c.status == TaskStatus.RUNNING.value,
            tasks.c.deleted.is_(False),
            _claimable(now),
            or_(not_(task_slices.c.waits_for_previous), not_(blocked)),
        )
        .order_by(turn, tasks.c.created_at, tasks.c.id, task_slices.c.slice_index)
        .limit(1)
    )
    if dialect_name == "postgresql":
        query = query.with_for_update(of=task_slices, skip_locked=True)
    return query


def _claim_slice(
    connection: Connection, candidate: Row[Any], worker_id: str, lease: timedelta, now: datetime
) -> ClaimedWork:
    claimed = connection.execute(
        update(task_slices)
        .where(*slice_key(candidate.task_id, candidate.slice_index), _claimable(now))
        .values(
            status=SliceStatus.RUNNING.value,
            lease_owner=worker_id,
            lease_expires_at=now + lease,
            attempts=task_slices.c.attempts + 1,
            not_before=None,
        )
        .returning(*task_slices.c)
    ).first()
    if claimed is None:  # claims are serialized, so only a bug gets here
        raise ConflictError("the slice changed while it was claimed", task_id=candidate.task_id)
    row = connection.execute(
        update(tasks)
        .where(tasks.c.id == candidate.task_id)
        .values(
            claim_sequence=next_claim_number(),
            lease_expires_at=renewed_task_lease(now, lease),
            updated_at=now,
        )
        .returning(*tasks.c)
    ).one()
    return ClaimedWork(task_from_row(row), slice_from_row(claimed))
