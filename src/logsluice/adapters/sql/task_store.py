"""SqlTaskStore: download tasks, leases and slice checkpoints in SQLite or PostgreSQL.

Every status change is one guarded ``UPDATE … WHERE status IN (…) RETURNING``, built from the rules
of :mod:`logsluice.domain.tasks`; when the guard fails nothing changes and the caller gets a
ConflictError (or LeaseLostError when a worker's lease is gone). Write transactions take SQLite's
write lock up front; on PostgreSQL row locks and the guard keep concurrent writers apart.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Select,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from logsluice.adapters.sql.engine import read_transaction, write_transaction
from logsluice.adapters.sql.metadata import task_slices, tasks
from logsluice.adapters.sql.slice_endings import cancel_if_idle
from logsluice.adapters.sql.slice_leases import SqlSliceLeases
from logsluice.adapters.sql.task_queue import (
    ahead_of,
    claim_statement,
    lock_claims,
    rank_columns,
    ranked_queue,
)
from logsluice.adapters.sql.task_rows import (
    field_values,
    task_from_row,
    task_to_row,
)
from logsluice.adapters.sql.task_updates import (
    FINISHED_VALUES,
    RUNNING_VALUES,
    apply_transition,
    changed_task,
    exhausted_fields,
    guarded_update,
    lost_or_missing,
    not_found,
    owned_by,
    refusal,
    status_after_delete,
)
from logsluice.adapters.sql.webhook_outbox import forget_deliveries, record_endings
from logsluice.domain.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
)
from logsluice.domain.tasks import (
    Task,
    TaskStatus,
    check_transition,
    sources_of,
)
from logsluice.ports import TaskOrderBy

_ORDER_COLUMNS = {
    "created": tasks.c.created_at,
    "updated": tasks.c.updated_at,
    "name": tasks.c.name,
}


class SqlTaskStore(SqlSliceLeases):
    """Implements :class:`logsluice.ports.TaskStore` with SQLAlchemy Core.

    Safe to share between threads; several processes may use one database. The schema must be
    migrated first (:func:`logsluice.adapters.sql.migrate.migrate_engine`).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- creating and reading ---------------------------------------------------------------------

    def create_task(self, task: Task) -> Task:
        """Store a new QUEUED task; see :meth:`logsluice.ports.TaskStore.create_task`."""
        if task.status != TaskStatus.QUEUED:
            raise InvalidInputError("a new task must be QUEUED", status=str(task.status))
        try:
            with write_transaction(self._engine) as connection:
                existing = _find_by_key(connection, task)
                if existing is not None:
                    return _same_request(existing, task)
                row = connection.execute(
                    insert(tasks).values(task_to_row(task)).returning(*tasks.c)
                ).one()
                return task_from_row(row)
        except IntegrityError as error:
            return self._resolve_duplicate(task, error)

    def _resolve_duplicate(self, task: Task, error: IntegrityError) -> Task:
        # Another writer inserted the same key (PostgreSQL) or the id is taken.
        with read_transaction(self._engine) as connection:
            existing = _find_by_key(connection, task)
        if existing is not None:
            return _same_request(existing, task)
        raise AlreadyExistsError(f"task id {task.id!r} is taken", task_id=task.id) from error

    def get_task(self, project: str, task_id: str) -> Task:
        """Return the task. Raises TaskNotFoundError (also for another project's task)."""
        with read_transaction(self._engine) as connection:
            return task_from_row(_visible_row(connection, project, task_id))

    def list_tasks(
        self,
        project: str,
        *,
        status: TaskStatus | Collection[TaskStatus] | None = None,
        logstore: str | None = None,
        name: str | None = None,
        order_by: TaskOrderBy = "created",
        descending: bool = True,
        page: int = 1,
        size: int = 20,
        updated_since: datetime | None = None,
    ) -> tuple[list[Task], int]:
        """Return one page of the project's tasks and the total; see the TaskStore port."""
        if page < 1 or size < 1:
            raise InvalidInputError("page and size must be at least 1", page=page, size=size)
        order_column = _ORDER_COLUMNS.get(order_by)
        if order_column is None:
            raise InvalidInputError(f"cannot order tasks by {order_by!r}", order_by=order_by)
        ordering = [order_column, tasks.c.id]
        query = _filtered(project, status, logstore, name)
        if updated_since is not None:
            query = query.where(tasks.c.updated_at >= updated_since)
        with read_transaction(self._engine) as connection:
            total = connection.execute(
                select(func.count()).select_from(query.subquery())
            ).scalar_one()
            rows = connection.execute(
                query.order_by(*(column.desc() if descending else column for column in ordering))
                .offset((page - 1) * size)
                .limit(size)
            ).all()
        return [task_from_row(row) for row in rows], total

    def get_tasks(self, project: str, task_ids: Collection[str]) -> list[Task]:
        """Return the project's visible tasks among ``task_ids``; see the TaskStore port."""
        if not task_ids:
            return []
        query = select(tasks).where(
            tasks.c.project == project,
            tasks.c.deleted.is_(False),
            tasks.c.id.in_(list(task_ids)),
        )
        with read_transaction(self._engine) as connection:
            return [task_from_row(row) for row in connection.execute(query)]

    # --- lifecycle -------------------------------------------------------------------------------

    def transition(
        self,
        task_id: str,
        target: TaskStatus,
        *,
        now: datetime,
        worker_id: str | None = None,
        from_statuses: Collection[TaskStatus] | None = None,
        **fields: object,
    ) -> Task:
        """Move the task to ``target`` under a status guard; see the TaskStore port."""
        allowed = sources_of(target)
        if from_statuses is not None:
            allowed &= frozenset(from_statuses)
        values = field_values(fields)
        with write_transaction(self._engine) as connection:
            row = apply_transition(
                connection, task_id, target, now, allowed, values, worker_id=worker_id
            )
            if row is None:
                raise refusal(connection, task_id, target, worker_id)
            changed = task_from_row(row)
            record_endings(connection, [changed])
        return changed

    def claim_next_task(
        self, worker_id: str, *, lease: timedelta, now: datetime, max_running_per_project: int
    ) -> Task | None:
        """Claim the next QUEUED task in fair order, or return None; see the TaskStore port."""
        with write_transaction(self._engine) as connection:
            lock_claims(connection)
            statement = claim_statement(
                connection.dialect.name,
                worker_id,
                lease=lease,
                now=now,
                max_running_per_project=max_running_per_project,
            )
            row = connection.execute(statement).first()
        return None if row is None else task_from_row(row)

    def heartbeat(
        self,
        task_id: str,
        worker_id: str,
        *,
        lease: timedelta,
        now: datetime,
        progress: float | None = None,
        rows_written: int | None = None,
        bytes_written: int | None = None,
        slices_total: int | None = None,
    ) -> Task:
        """Renew the worker's lease and store progress; see the TaskStore port."""
        given = {
            "progress": progress,
            "rows_written": rows_written,
            "bytes_written": bytes_written,
            "slices_total": slices_total,
        }
        values = {name: value for name, value in given.items() if value is not None}
        statement = (
            update(tasks)
            .where(*owned_by(task_id, worker_id))
            .values(lease_expires_at=now + lease, updated_at=now, **values)
            .returning(*tasks.c)
        )
        with write_transaction(self._engine) as connection:
            row = connection.execute(statement).first()
            if row is None:
                raise lost_or_missing(connection, task_id, worker_id)
        return task_from_row(row)

    def record_estimate(
        self, task_id: str, *, estimate_rows: int | None, estimate_bytes: int | None, now: datetime
    ) -> None:
        """Store an estimate that came after the task; see the TaskStore port."""
        statement = (
            update(tasks)
            .where(tasks.c.id == task_id, tasks.c.deleted.is_(False))
            .values(estimate_rows=estimate_rows, estimate_bytes=estimate_bytes, updated_at=now)
        )
        with write_transaction(self._engine) as connection:
            connection.execute(statement)

    def request_cancel(self, project: str, task_id: str, *, now: datetime) -> Task:
        """Cancel a QUEUED task or ask a RUNNING one to stop; see the TaskStore port."""
        with write_transaction(self._engine) as connection:
            current = task_from_row(_visible_row(connection, project, task_id, lock=True))
            if current.status in (TaskStatus.CANCELLING, TaskStatus.CANCELLED):
                return cancel_if_idle(connection, current, now)
            target = (
                TaskStatus.CANCELLED
                if current.status == TaskStatus.QUEUED
                else TaskStatus.CANCELLING
            )
            check_transition(current.status, target)
            row = apply_transition(connection, task_id, target, now, {current.status}, {})
            changed = changed_task(row, task_id)
            record_endings(connection, [changed])
            return cancel_if_idle(connection, changed, now)

    def requeue_lapsed(self, *, now: datetime, max_attempts: int) -> list[Task]:
        """Requeue, fail or finish cancelling tasks whose lease lapsed; see the TaskStore port."""
        lapsed = tasks.c.lease_expires_at < now
        exhausted = tasks.c.attempts >= max_attempts
        # A planned task with slices still to finish lives by its slices' own leases: while they
        # wait (for a retry, an outage's end or a free worker) no one renews the task's lease,
        # and requeuing the task then would cost it an attempt for nothing (ADR 0024).
        slices_pending = (
            select(task_slices.c.task_id)
            .where(
                task_slices.c.task_id == tasks.c.id,
                task_slices.c.status.not_in(FINISHED_VALUES),
            )
            .exists()
        )
        held = lapsed & ~slices_pending
        outcomes = [
            (TaskStatus.CANCELLING, TaskStatus.CANCELLED, lapsed, {}),
            (
                TaskStatus.RUNNING,
                TaskStatus.FAILED,
                held & exhausted,
                exhausted_fields(max_attempts),
            ),
            (TaskStatus.RUNNING, TaskStatus.QUEUED, held & ~exhausted, {}),
        ]
        changed: list[Task] = []
        with write_transaction(self._engine) as connection:
            for source, target, condition, fields in outcomes:
                statement = guarded_update(target, now, {source}, fields).where(condition)
                changed.extend(task_from_row(row) for row in connection.execute(statement))
            record_endings(connection, changed)
        self.requeue_lapsed_slices(now=now)
        return changed

    def expire_tasks(self, *, now: datetime) -> list[Task]:
        """Move SUCCEEDED tasks past ``expires_at`` to EXPIRED; see the TaskStore port."""
        statement = guarded_update(TaskStatus.EXPIRED, now, {TaskStatus.SUCCEEDED}, {}).where(
            tasks.c.expires_at <= now
        )
        with write_transaction(self._engine) as connection:
            expired = [task_from_row(row) for row in connection.execute(statement)]
            record_endings(connection, expired)
        return expired

    # --- checkpoints -----------------------------------------------------------------------------

    def clear_slices(self, task_id: str, *, worker_id: str) -> None:
        """Delete the task's checkpoints under the worker's lease; see the TaskStore port."""
        failed = tasks.c.status == TaskStatus.FAILED.value
        with write_transaction(self._engine) as connection:
            owned = select(tasks.c.id).where(
                tasks.c.id == task_id, or_(and_(*owned_by(task_id, worker_id)), failed)
            )
            if connection.execute(owned.with_for_update()).first() is None:
                raise lost_or_missing(connection, task_id, worker_id)
            connection.execute(delete(task_slices).where(task_slices.c.task_id == task_id))

    # --- queue and janitor -----------------------------------------------------------------------

    def queue_position(self, task: Task) -> int | None:
        """Return the task's approximate 1-based place in claim order; see the TaskStore port."""
        ranked = ranked_queue()
        with read_transaction(self._engine) as connection:
            own = connection.execute(select(ranked).where(ranked.c.id == task.id)).first()
            if own is None:
                return None
            ahead = connection.execute(
                select(func.count()).select_from(ranked).where(ahead_of(ranked, own))
            ).scalar_one()
        return int(ahead) + 1

    def queue_positions(self, task_ids: Collection[str]) -> dict[str, int]:
        """Return the queue place of each queued task among ``task_ids``; see the port."""
        if not task_ids:
            return {}
        ranked = ranked_queue()
        position = func.row_number().over(order_by=rank_columns(ranked))
        positions = select(ranked.c.id, position.label("position")).subquery("positions")
        query = select(positions.c.id, positions.c.position).where(
            positions.c.id.in_(list(task_ids))
        )
        with read_transaction(self._engine) as connection:
            return {str(row.id): int(row.position) for row in connection.execute(query)}

    def count_tasks(self) -> dict[tuple[str, TaskStatus], int]:
        """Return the visible tasks per project and status; see the TaskStore port."""
        query = (
            select(tasks.c.project, tasks.c.status, func.count())
            .where(tasks.c.deleted.is_(False))
            .group_by(tasks.c.project, tasks.c.status)
        )
        with read_transaction(self._engine) as connection:
            rows = connection.execute(query).all()
        return {(project, TaskStatus(status)): count for project, status, count in rows}

    def delete_task(self, project: str, task_id: str, *, now: datetime) -> Task:
        """Hide the task and stop it if it runs; see the TaskStore port."""
        with write_transaction(self._engine) as connection:
            current = task_from_row(_visible_row(connection, project, task_id, lock=True))
            return _hide(connection, current, now)

    def delete_project_tasks(self, project: str, *, now: datetime) -> list[Task]:
        """Hide and stop every task of the project, in one transaction; see the TaskStore port."""
        visible = (
            select(tasks)
            .where(tasks.c.project == project, tasks.c.deleted.is_(False))
            .order_by(tasks.c.created_at, tasks.c.id)
            .with_for_update()
        )
        with write_transaction(self._engine) as connection:
            rows = connection.execute(visible).all()
            return [_hide(connection, task_from_row(row), now) for row in rows]

    def list_purgeable_tasks(self, *, limit: int = 100) -> list[Task]:
        """Return deleted tasks no worker runs any more, oldest update first."""
        query = (
            select(tasks)
            .where(tasks.c.deleted.is_(True), tasks.c.status.not_in(RUNNING_VALUES))
            .order_by(tasks.c.updated_at, tasks.c.id)
            .limit(limit)
        )
        with read_transaction(self._engine) as connection:
            return [task_from_row(row) for row in connection.execute(query)]

    def purge_task(self, task_id: str) -> None:
        """Remove a deleted task and its checkpoints; a no-op if it is gone already."""
        with write_transaction(self._engine) as connection:
            connection.execute(delete(task_slices).where(task_slices.c.task_id == task_id))
            deleted = connection.execute(
                delete(tasks).where(tasks.c.id == task_id, tasks.c.deleted.is_(True))
            )
            if deleted.rowcount:
                forget_deliveries(connection, task_id)

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()


# --- helpers: reads ------------------------------------------------------------------------------


def _hide(connection: Connection, current: Task, now: datetime) -> Task:
    """Mark ``current`` deleted and move it to the status a delete leaves it in."""
    hidden = {"deleted": True, "idempotency_key": None}
    target = status_after_delete(current.status)
    if target is None:
        statement = update(tasks).where(tasks.c.id == current.id).values(updated_at=now, **hidden)
        row = connection.execute(statement.returning(*tasks.c)).first()
    else:
        row = apply_transition(connection, current.id, target, now, {current.status}, hidden)
    return cancel_if_idle(connection, changed_task(row, current.id), now, while_completing=False)


def _visible_row(
    connection: Connection, project: str, task_id: str, *, lock: bool = False
) -> Row[Any]:
    query = select(tasks).where(
        tasks.c.id == task_id, tasks.c.project == project, tasks.c.deleted.is_(False)
    )
    row = connection.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise not_found(task_id)
    return row


def _find_by_key(connection: Connection, task: Task) -> Task | None:
    key = task.spec.idempotency_key
    if key is None:
        return None
    row = connection.execute(
        select(tasks).where(tasks.c.project == task.project, tasks.c.idempotency_key == key)
    ).first()
    return None if row is None else task_from_row(row)


def _same_request(existing: Task, task: Task) -> Task:
    if existing.spec.fingerprint() != task.spec.fingerprint():
        raise ConflictError(
            f"idempotency key {task.spec.idempotency_key!r} was used for another task spec",
            reason="idempotency_key_reused",
            idempotency_key=task.spec.idempotency_key,
            task_id=existing.id,
        )
    return existing


def _filtered(
    project: str,
    status: TaskStatus | Collection[TaskStatus] | None,
    logstore: str | None,
    name: str | None,
) -> Select[Any]:
    query = select(tasks).where(tasks.c.project == project, tasks.c.deleted.is_(False))
    if status is not None:
        statuses = [status] if isinstance(status, TaskStatus) else list(status)
        query = query.where(tasks.c.status.in_([item.value for item in statuses]))
    if logstore is not None:
        query = query.where(tasks.c.logstore == logstore)
    if name is not None:
        query = query.where(tasks.c.name == name)
    return query
