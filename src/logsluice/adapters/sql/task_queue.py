"""The claim order of queued tasks, and the one dialect-specific part of claiming.

Claim order is fair across projects: a project at its running limit is skipped, then the project
with the fewest RUNNING or CANCELLING tasks goes first, then the oldest queued task (then id).
Claims are exactly-once on both backends: SQLite runs the guarded ``UPDATE … WHERE id = (SELECT …)
AND status = 'QUEUED'`` inside ``BEGIN IMMEDIATE``; PostgreSQL serializes claims on a transaction
advisory lock (so the per-project limit holds exactly under concurrency) and picks the row with
``FOR UPDATE SKIP LOCKED`` (so a row another transaction holds, say a cancel, never blocks a claim).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Subquery,
    Update,
    and_,
    func,
    or_,
    select,
    text,
    update,
)

from logsluice.adapters.sql.metadata import tasks
from logsluice.domain.tasks import RUNNING_STATUSES, TaskStatus

# Arbitrary constant shared by every logsluice process: pg_advisory_xact_lock key for claims.
_CLAIM_LOCK_KEY = 7_310_452_002


def running_counts() -> Subquery:
    """Return a subquery of ``(project, running)``: tasks holding a worker, per project."""
    return (
        select(tasks.c.project, func.count().label("running"))
        .where(tasks.c.status.in_([status.value for status in RUNNING_STATUSES]))
        .group_by(tasks.c.project)
        .subquery("running_counts")
    )


def lock_claims(connection: Connection) -> None:
    """Serialize claims on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already did."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK_KEY})


def claim_statement(
    dialect_name: str,
    worker_id: str,
    *,
    lease: timedelta,
    now: datetime,
    max_running_per_project: int,
) -> Update:
    """Return the guarded ``UPDATE … RETURNING`` that claims the next task in claim order."""
    queued = tasks.alias("queued")
    running = running_counts()
    running_count = func.coalesce(running.c.running, 0)
    candidate = (
        select(queued.c.id)
        .select_from(queued.outerjoin(running, running.c.project == queued.c.project))
        .where(
            queued.c.status == TaskStatus.QUEUED.value,
            queued.c.deleted.is_(False),
            running_count < max_running_per_project,
        )
        .order_by(running_count, queued.c.created_at, queued.c.id)
        .limit(1)
    )
    if dialect_name == "postgresql":
        candidate = candidate.with_for_update(of=queued, skip_locked=True)
    return (
        update(tasks)
        .where(
            tasks.c.id == candidate.scalar_subquery(),
            tasks.c.status == TaskStatus.QUEUED.value,
        )
        .values(
            status=TaskStatus.RUNNING.value,
            lease_owner=worker_id,
            lease_expires_at=now + lease,
            attempts=tasks.c.attempts + 1,
            started_at=func.coalesce(tasks.c.started_at, now),
            updated_at=now,
        )
        .returning(*tasks.c)
    )


def ranked_queue() -> Subquery:
    """Return queued tasks with their claim ``level`` (running count + place in their project).

    Claiming repeatedly takes the lowest ``(level, created_at, id)`` first, as long as running
    counts do not change and no project reaches its limit.
    """
    running = running_counts()
    place_in_project = func.row_number().over(
        partition_by=tasks.c.project, order_by=(tasks.c.created_at, tasks.c.id)
    )
    level = func.coalesce(running.c.running, 0) + place_in_project - 1
    return (
        select(tasks.c.id, tasks.c.created_at, level.label("level"))
        .select_from(tasks.outerjoin(running, running.c.project == tasks.c.project))
        .where(tasks.c.status == TaskStatus.QUEUED.value, tasks.c.deleted.is_(False))
        .subquery("ranked_queue")
    )


def ahead_of(
    ranked: Subquery, level: int, created_at: datetime, task_id: str
) -> ColumnElement[Any]:
    """Return the condition "comes before ``(level, created_at, task_id)`` in claim order"."""
    same_level_earlier = and_(
        ranked.c.level == level,
        or_(
            ranked.c.created_at < created_at,
            and_(ranked.c.created_at == created_at, ranked.c.id < task_id),
        ),
    )
    return or_(ranked.c.level < level, same_level_earlier)
