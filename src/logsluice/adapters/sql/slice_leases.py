"""Stored slices with their own leases: planning them once, claiming, renewing, finishing.

Part of :class:`~logsluice.adapters.sql.task_store.SqlTaskStore` (a mixin over its engine). A
task's slices are inserted once by the worker that starts the task; from then on any worker claims
them one at a time. :meth:`SqlSliceLeases.claim_next_work` makes one choice between "a slice of a
RUNNING task" and "a QUEUED task to start", both in the fair claim order of ADR 0013 (the project
whose latest claim is oldest first), so a project's long task never starves another project: every
slice claim numbers the task with ``claim_sequence`` like a task claim does. The running-slot limit
per project still counts RUNNING tasks: a task holds its slot while its slices run.

A slice lease is renewed with :meth:`heartbeat_slice`, which also keeps the task's lease alive;
a lapsed slice is claimable again (only that slice). The worker that finishes the last slice takes
the task's lease to complete the artifact (``finish_slice`` says so), and any worker holding a
running slice of a task may end the task (fail or cancel it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    case,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)

from logsluice.adapters.sql.engine import read_transaction, write_transaction
from logsluice.adapters.sql.metadata import task_slices, tasks
from logsluice.adapters.sql.task_queue import (
    candidate_tasks,
    claim_statement,
    latest_claims,
    lock_claims,
    next_claim_number,
)
from logsluice.adapters.sql.task_rows import (
    encode_missing_ranges,
    slice_from_row,
    slice_to_row,
    task_from_row,
)
from logsluice.adapters.sql.task_updates import RUNNING_VALUES, lost_or_missing
from logsluice.adapters.sql.webhook_outbox import record_endings
from logsluice.domain.errors import ConflictError, LeaseLostError
from logsluice.domain.tasks import (
    FINISHED_SLICE_STATUSES,
    ClaimedWork,
    SliceOutcome,
    SliceStatus,
    Task,
    TaskSlice,
    TaskStatus,
)
from logsluice.domain.timerange import TimeRange

FINISHED_VALUES = [status.value for status in FINISHED_SLICE_STATUSES]
# what a task becomes when the last worker running one of its slices gives it back
_AFTER_LAST_RELEASE = {
    TaskStatus.CANCELLING: TaskStatus.CANCELLED,
    TaskStatus.RUNNING: TaskStatus.QUEUED,
}
_AFTER_LAST_CANCEL = {TaskStatus.CANCELLING: TaskStatus.CANCELLED}
RUNNING_PERCENT_CEILING = 99.9


def _slice_key(task_id: str, slice_index: int) -> list[Any]:
    return [task_slices.c.task_id == task_id, task_slices.c.slice_index == slice_index]


def _held_by(task_id: str, slice_index: int, worker_id: str) -> list[Any]:
    return [
        *_slice_key(task_id, slice_index),
        task_slices.c.lease_owner == worker_id,
        task_slices.c.status == SliceStatus.RUNNING.value,
    ]


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


def _renewed_task_lease(now: datetime, lease: timedelta) -> Any:
    """The task's lease renewed to at least ``now + lease`` (never shortened)."""
    until = now + lease
    return case(
        (tasks.c.lease_expires_at.is_(None), until),
        (tasks.c.lease_expires_at < until, until),
        else_=tasks.c.lease_expires_at,
    )


def _slice_sums(connection: Connection, task_id: str) -> Row[Any]:
    finished = task_slices.c.status.in_(FINISHED_VALUES)
    return connection.execute(
        select(
            func.coalesce(func.sum(task_slices.c.rows), 0).label("rows"),
            func.coalesce(func.sum(task_slices.c.size_bytes), 0).label("size_bytes"),
            func.count().label("total"),
            func.coalesce(func.sum(case((finished, 1), else_=0)), 0).label("finished"),
        ).where(task_slices.c.task_id == task_id)
    ).one()


def _rows_percent(task: Task, rows: int) -> float:
    """The rows written by every slice (running ones too) as a share of the rows the task will
    write (its estimate, capped by its limit); 0 while no estimate is known."""
    expected = task.estimate_rows
    if task.spec.limit is not None and expected is not None:
        expected = min(expected, task.spec.limit)
    if not expected:
        return 0.0
    return 100.0 * rows / expected


def _running_task(connection: Connection, task_id: str, worker_id: str) -> Task:
    row = connection.execute(
        select(tasks).where(tasks.c.id == task_id, tasks.c.status.in_(RUNNING_VALUES))
    ).first()
    if row is None:
        raise lost_or_missing(connection, task_id, worker_id)
    return task_from_row(row)


def _lost_slice(task_id: str, slice_index: int, worker_id: str) -> LeaseLostError:
    return LeaseLostError(
        f"worker {worker_id!r} no longer holds slice {slice_index} of task {task_id!r}",
        task_id=task_id,
        slice_index=slice_index,
        worker_id=worker_id,
    )


def _settle_stopped_task(
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
    settled = _settle_stopped_task(connection, task.id, now, _AFTER_LAST_CANCEL)
    return settled[0] if settled else task


class SqlSliceLeases:
    """The slice half of :class:`~logsluice.adapters.sql.task_store.SqlTaskStore`."""

    _engine: Engine

    def plan_slices(
        self,
        task_id: str,
        ranges: Sequence[TimeRange],
        *,
        worker_id: str,
        now: datetime,
        waits_for_previous: bool = False,
    ) -> list[TaskSlice]:
        """Store the task's slices (in output order) unless it has some already; return them.

        Only the worker holding the task's lease plans (LeaseLostError otherwise); a task is
        planned once, so a later call keeps the slices of the first, and queues its unfinished
        ones afresh (no attempts, no lease: the task was claimed again, nobody runs them).
        """
        with write_transaction(self._engine) as connection:
            owner = select(tasks.c.id).where(
                tasks.c.id == task_id,
                tasks.c.lease_owner == worker_id,
                tasks.c.status.in_(RUNNING_VALUES),
            )
            if connection.execute(owner.with_for_update()).first() is None:
                raise lost_or_missing(connection, task_id, worker_id)
            if self._slice_rows(connection, task_id):
                connection.execute(
                    update(task_slices)
                    .where(
                        task_slices.c.task_id == task_id,
                        task_slices.c.status.not_in(FINISHED_VALUES),
                    )
                    .values(
                        status=SliceStatus.QUEUED.value,
                        attempts=0,
                        lease_owner=None,
                        lease_expires_at=None,
                        not_before=None,
                        rows=0,
                        size_bytes=0,
                        outage_since=None,
                    )
                )
            else:
                planned = [
                    TaskSlice(
                        task_id=task_id,
                        slice_index=index,
                        time_range=time_range,
                        status=SliceStatus.QUEUED,
                        waits_for_previous=waits_for_previous and index > 0,
                        written_at=now,
                    )
                    for index, time_range in enumerate(ranges)
                ]
                if planned:
                    connection.execute(insert(task_slices), [slice_to_row(s) for s in planned])
                connection.execute(
                    update(tasks)
                    .where(tasks.c.id == task_id)
                    .values(slices_total=len(planned), updated_at=now)
                )
            return [slice_from_row(row) for row in self._slice_rows(connection, task_id)]

    def list_task_slices(self, task_id: str) -> list[TaskSlice]:
        """Return the task's stored slices by index (none before it was planned)."""
        with read_transaction(self._engine) as connection:
            return [slice_from_row(row) for row in self._slice_rows(connection, task_id)]

    def record_file_hash(
        self, task_id: str, slice_index: int, *, written_at: datetime, state: bytes
    ) -> bool:
        """Store the running hash through a finished slice's part; see the TaskStore port."""
        with write_transaction(self._engine) as connection:
            stored = connection.execute(
                update(task_slices)
                .where(
                    task_slices.c.task_id == task_id,
                    task_slices.c.slice_index == slice_index,
                    task_slices.c.status.in_([status.value for status in FINISHED_SLICE_STATUSES]),
                    task_slices.c.written_at == written_at,
                    task_slices.c.file_hash_state.is_(None),
                )
                .values(file_hash_state=state)
            )
            return stored.rowcount == 1

    def claim_next_work(
        self,
        worker_id: str,
        *,
        lease: timedelta,
        now: datetime,
        max_running_per_project: int,
        only_task_id: str | None = None,
    ) -> ClaimedWork | None:
        """Claim the next slice of a running task, or the next queued task, in fair order.

        Returns None when there is nothing to do. A claimed slice is RUNNING under
        ``worker_id``'s lease with one more attempt; a claimed task is RUNNING as with
        ``claim_next_task`` (its slices are planned, or its artifact completed, by the caller).
        ``only_task_id`` claims only slices of that task.
        """
        with write_transaction(self._engine) as connection:
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
                return self._claim_slice(connection, candidate, worker_id, lease, now)
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

    def heartbeat_slice(
        self,
        task_id: str,
        slice_index: int,
        worker_id: str,
        *,
        lease: timedelta,
        now: datetime,
        rows: int,
        size_bytes: int,
        progress: float | None = None,
    ) -> Task:
        """Renew the slice's lease (and the task's), store the rows and bytes written so far.

        Returns the task, whose status or ``cancel_requested`` tells the worker to stop.
        Raises LeaseLostError when the slice is no longer this worker's or the task stopped.
        """
        with write_transaction(self._engine) as connection:
            renewed = connection.execute(
                update(task_slices)
                .where(*_held_by(task_id, slice_index, worker_id))
                .values(lease_expires_at=now + lease, rows=rows, size_bytes=size_bytes)
            )
            if renewed.rowcount == 0:
                raise _lost_slice(task_id, slice_index, worker_id)
            task = _running_task(connection, task_id, worker_id)
            values = self._counters(connection, task, progress)
            row = connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(lease_expires_at=_renewed_task_lease(now, lease), updated_at=now, **values)
                .returning(*tasks.c)
            ).one()
        return task_from_row(row)

    def finish_slice(
        self,
        task_id: str,
        slice_index: int,
        worker_id: str,
        outcome: SliceOutcome,
        *,
        lease: timedelta,
        now: datetime,
    ) -> tuple[Task, bool]:
        """Record the slice as finished (DONE, or FAILED_INCOMPLETE: missing) with its part.

        Returns the task and whether this was the last unfinished slice of a RUNNING task: then
        ``worker_id`` now holds the task's lease and completes the artifact. Raises
        LeaseLostError when the slice is not this worker's any more or the task stopped.
        """
        values = {
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
        with write_transaction(self._engine) as connection:
            task = _running_task(connection, task_id, worker_id)
            done = connection.execute(
                update(task_slices)
                .where(*_held_by(task_id, slice_index, worker_id))
                .values(values)
                .returning(*task_slices.c)
            ).first()
            if done is None:
                raise _lost_slice(task_id, slice_index, worker_id)
            changes = self._counters(connection, task, None)
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
                _settle_stopped_task(connection, task_id, now, _AFTER_LAST_CANCEL)
        return task_from_row(row), last

    def fail_slice(
        self,
        task_id: str,
        slice_index: int,
        worker_id: str,
        *,
        now: datetime,
        retry_at: datetime,
        error_message: str,
        outage_since: datetime | None = None,
    ) -> TaskSlice:
        """Queue a failed slice again, claimable from ``retry_at``; return it.

        Its attempts stay counted, unless ``outage_since`` says the slice waits for a store that
        is down since then (ADR 0024): that attempt is not counted, and the task shows the error
        (``backend_unavailable``) while it runs. Raises LeaseLostError when it is not this
        worker's.
        """
        uncounted = {} if outage_since is None else {"attempts": task_slices.c.attempts - 1}
        requeued = self._requeue_slice(
            task_id,
            slice_index,
            worker_id,
            not_before=retry_at,
            error_message=error_message,
            outage_since=outage_since,
            updated_at=now,
            **uncounted,
        )
        if outage_since is not None:
            self.record_outage(task_id, now=now, message=error_message)
        return requeued

    def record_outage(self, task_id: str, *, now: datetime, message: str | None) -> None:
        """Show on a running task that its work waits for a store (``message``; None: no more).

        The task keeps running; its error is ``backend_unavailable`` with ``message`` until the
        outage ends or the task ends. A task that is not running is left alone.
        """
        values = (
            {"error_code": None, "error_message": None}
            if message is None
            else {"error_code": "backend_unavailable", "error_message": message}
        )
        with write_transaction(self._engine) as connection:
            connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.status.in_(RUNNING_VALUES))
                .values(updated_at=now, **values)
            )

    def release_slice(
        self, task_id: str, slice_index: int, worker_id: str, *, now: datetime
    ) -> TaskSlice:
        """Give a slice back unfinished (the worker stops, or a cancel came); return it.

        The attempt is not counted. When this was the task's last running slice, a CANCELLING
        task becomes CANCELLED and a RUNNING one QUEUED (its workers are stopping: whoever claims
        it next continues its slices), in the same transaction. Raises LeaseLostError when the
        slice is not this worker's.
        """
        released = self._requeue_slice(
            task_id, slice_index, worker_id, attempts=task_slices.c.attempts - 1, updated_at=now
        )
        with write_transaction(self._engine) as connection:
            _settle_stopped_task(connection, task_id, now, _AFTER_LAST_RELEASE)
        return released

    def requeue_lapsed_slices(self, *, now: datetime) -> int:
        """Queue again every RUNNING slice whose lease lapsed; return how many."""
        statement = (
            update(task_slices)
            .where(
                task_slices.c.status == SliceStatus.RUNNING.value,
                task_slices.c.lease_expires_at < now,
            )
            .values(status=SliceStatus.QUEUED.value, lease_owner=None, lease_expires_at=None)
        )
        with write_transaction(self._engine) as connection:
            return int(connection.execute(statement).rowcount)

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _slice_rows(connection: Connection, task_id: str) -> list[Row[Any]]:
        query = (
            select(task_slices)
            .where(task_slices.c.task_id == task_id)
            .order_by(task_slices.c.slice_index)
        )
        return list(connection.execute(query))

    @staticmethod
    def _claim_slice(
        connection: Connection, candidate: Row[Any], worker_id: str, lease: timedelta, now: datetime
    ) -> ClaimedWork:
        claimed = connection.execute(
            update(task_slices)
            .where(*_slice_key(candidate.task_id, candidate.slice_index), _claimable(now))
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
                lease_expires_at=_renewed_task_lease(now, lease),
                updated_at=now,
            )
            .returning(*tasks.c)
        ).one()
        return ClaimedWork(task_from_row(row), slice_from_row(claimed))

    @staticmethod
    def _counters(connection: Connection, task: Task, progress: float | None) -> dict[str, Any]:
        sums = _slice_sums(connection, task.id)
        share = 100.0 * int(sums.finished) / max(int(sums.total), 1)
        percent = min(
            max(share, progress or 0.0, _rows_percent(task, int(sums.rows))),
            RUNNING_PERCENT_CEILING,
        )
        return {
            "rows_written": int(sums.rows),
            "bytes_written": int(sums.size_bytes),
            "slices_done": int(sums.finished),
            "progress": max(task.progress, round(percent, 1)),
        }

    def _requeue_slice(
        self, task_id: str, slice_index: int, worker_id: str, **values: Any
    ) -> TaskSlice:
        updated_at = values.pop("updated_at")
        with write_transaction(self._engine) as connection:
            row = connection.execute(
                update(task_slices)
                .where(*_held_by(task_id, slice_index, worker_id))
                .values(
                    status=SliceStatus.QUEUED.value,
                    lease_owner=None,
                    lease_expires_at=None,
                    rows=0,
                    size_bytes=0,
                    written_at=updated_at,
                    **values,
                )
                .returning(*task_slices.c)
            ).first()
        if row is None:
            raise _lost_slice(task_id, slice_index, worker_id)
        return slice_from_row(row)
