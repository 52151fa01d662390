"""The claim order of queued tasks (the fairness rule) and the dialect-specific part of claiming.

**The rule.** Projects take turns: a project at its running limit is skipped; of the others, the
project whose latest claim is the oldest goes first (a project never claimed before goes before
every other), and within it the oldest queued task (then the smallest id). So with equal limits
every project with queued tasks gets every n-th start, whatever it queued first and however long
its tasks run. Each claim numbers the task with ``claim_sequence`` (one more than the largest so
far), and a project's turn is the largest number among its tasks; numbers, not times, so claims
in the same instant still take turns. ``docs/adr/0013-fair-claims.md`` explains the choice.

**Queue position** follows the same rule as if no task finished and no limit were reached: round
``k`` gives every project its ``k``-th queued task, projects in turn order, so a task's place is
``(its place in its project, the project's turn, the project's oldest queued task)``.

Claims are exactly-once on both backends: SQLite runs the guarded ``UPDATE … WHERE id = (SELECT …)
AND status = 'QUEUED'`` inside ``BEGIN IMMEDIATE``; PostgreSQL serializes claims on a transaction
advisory lock (so the per-project limit and the numbering hold exactly under concurrency) and picks
the row with ``FOR UPDATE SKIP LOCKED`` (so a row another transaction holds, say a cancel, never
blocks a claim).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    ScalarSelect,
    Select,
    Subquery,
    Update,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.sql.elements import Over
from sqlalchemy.sql.functions import FunctionElement

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


def latest_claims() -> Subquery:
    """Return a subquery of ``(project, turn)``: the number of each project's latest claim."""
    return (
        select(tasks.c.project, func.max(tasks.c.claim_sequence).label("turn"))
        .group_by(tasks.c.project)
        .subquery("latest_claims")
    )


def _next_claim_number() -> ScalarSelect[Any]:
    numbered = tasks.alias("numbered")
    return select(func.coalesce(func.max(numbered.c.claim_sequence), 0) + 1).scalar_subquery()


def candidate_tasks(max_running_per_project: int) -> Select[Any]:
    """Return ``(id, turn)`` of the next QUEUED task in claim order (at most one row)."""
    queued = tasks.alias("queued")
    running, turns = running_counts(), latest_claims()
    return (
        select(queued.c.id, func.coalesce(turns.c.turn, 0).label("turn"))
        .select_from(
            queued.outerjoin(running, running.c.project == queued.c.project).outerjoin(
                turns, turns.c.project == queued.c.project
            )
        )
        .where(
            queued.c.status == TaskStatus.QUEUED.value,
            queued.c.deleted.is_(False),
            func.coalesce(running.c.running, 0) < max_running_per_project,
        )
        .order_by(func.coalesce(turns.c.turn, 0), queued.c.created_at, queued.c.id)
        .limit(1)
    )


def next_claim_number() -> ScalarSelect[Any]:
    """Return the scalar subquery numbering a claim: one more than the largest number so far."""
    return _next_claim_number()


def claim_statement(
    dialect_name: str,
    worker_id: str,
    *,
    lease: timedelta,
    now: datetime,
    max_running_per_project: int,
) -> Update:
    """Return the guarded ``UPDATE … RETURNING`` that claims the next task in claim order."""
    ranked = candidate_tasks(max_running_per_project)
    queued_id = ranked.selected_columns.id
    candidate = ranked.with_only_columns(queued_id)
    if dialect_name == "postgresql":
        candidate = candidate.with_for_update(of=queued_id, skip_locked=True)
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
            claim_sequence=_next_claim_number(),
            started_at=func.coalesce(tasks.c.started_at, now),
            updated_at=now,
        )
        .returning(*tasks.c)
    )


def ranked_queue() -> Subquery:
    """Return queued tasks with their ``rank``: the tuple that orders them as claims would."""
    turns = latest_claims()
    return (
        select(
            tasks.c.id,
            (_in_project(func.row_number()) - 1).label("place"),
            func.coalesce(turns.c.turn, 0).label("turn"),
            _in_project(func.first_value(tasks.c.created_at)).label("first_created_at"),
            _in_project(func.first_value(tasks.c.id)).label("first_id"),
        )
        .select_from(tasks.outerjoin(turns, turns.c.project == tasks.c.project))
        .where(tasks.c.status == TaskStatus.QUEUED.value, tasks.c.deleted.is_(False))
        .subquery("ranked_queue")
    )


def _in_project(function: FunctionElement[Any]) -> Over[Any]:
    """Return ``function`` over the queued tasks of each project, oldest first."""
    return function.over(partition_by=tasks.c.project, order_by=(tasks.c.created_at, tasks.c.id))


def _rank(ranked: Subquery | Row[Any]) -> tuple[Any, ...]:
    columns = ranked.c if isinstance(ranked, Subquery) else ranked
    return (columns.place, columns.turn, columns.first_created_at, columns.first_id)


def rank_columns(ranked: Subquery) -> tuple[Any, ...]:
    """Return the columns of ``ranked`` that order queued tasks as claims would."""
    return _rank(ranked)


def ahead_of(ranked: Subquery, own: Row[Any]) -> ColumnElement[bool]:
    """Return the condition "comes before ``own`` (a row of ``ranked``) in claim order"."""
    columns = _rank(ranked)
    pairs = zip(columns, _rank(own), strict=True)
    values = (literal(value, column.type) for column, value in pairs)
    return tuple_(*columns) < tuple_(*values)
