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

:class:`SqlSliceLeases` runs each call in its own transaction; the claim is in :mod:`.slice_claims`,
a slice's ending and what it does to the task in :mod:`.slice_endings`, the task's counters summed
from its slices in :mod:`.slice_progress`. Planning, the file-hash chain of finished slices
(:meth:`SqlSliceLeases.record_file_hash`) and requeueing are here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update

from logsluice.adapters.sql.engine import read_transaction, write_transaction
from logsluice.adapters.sql.metadata import task_slices, tasks
from logsluice.adapters.sql.slice_claims import claim_next, held_by, renewed_task_lease
from logsluice.adapters.sql.slice_endings import (
    AFTER_LAST_CANCEL,
    AFTER_LAST_RELEASE,
    lost_slice,
    record_finished_slice,
    running_task,
    settle_stopped_task,
)
from logsluice.adapters.sql.slice_progress import task_counters
from logsluice.adapters.sql.task_rows import slice_from_row, slice_to_row, task_from_row
from logsluice.adapters.sql.task_updates import FINISHED_VALUES, RUNNING_VALUES, lost_or_missing
from logsluice.domain.tasks import (
    FINISHED_SLICE_STATUSES,
    ClaimedWork,
    SliceOutcome,
    SliceStatus,
    Task,
    TaskSlice,
)
from logsluice.domain.timerange import TimeRange


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
            return claim_next(
                connection,
                worker_id,
                lease=lease,
                now=now,
                max_running_per_project=max_running_per_project,
                only_task_id=only_task_id,
            )

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
                .where(*held_by(task_id, slice_index, worker_id))
                .values(lease_expires_at=now + lease, rows=rows, size_bytes=size_bytes)
            )
            if renewed.rowcount == 0:
                raise lost_slice(task_id, slice_index, worker_id)
            task = running_task(connection, task_id, worker_id)
            values = task_counters(connection, task, progress)
            row = connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(lease_expires_at=renewed_task_lease(now, lease), updated_at=now, **values)
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
        with write_transaction(self._engine) as connection:
            row, last = record_finished_slice(
                connection, task_id, slice_index, worker_id, outcome, lease=lease, now=now
            )
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
        (``backend_unavailable``) while it runs. When a cancel or a delete came while it ran and
        no other slice of the task runs, the CANCELLING task ends CANCELLED in the same step: no
        worker claims a slice of a cancelled task, so it would otherwise never end. Raises
        LeaseLostError when it is not this worker's.
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
        with write_transaction(self._engine) as connection:
            settle_stopped_task(connection, task_id, now, AFTER_LAST_CANCEL)
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
            settle_stopped_task(connection, task_id, now, AFTER_LAST_RELEASE)
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

    def _requeue_slice(
        self, task_id: str, slice_index: int, worker_id: str, **values: Any
    ) -> TaskSlice:
        updated_at = values.pop("updated_at")
        with write_transaction(self._engine) as connection:
            row = connection.execute(
                update(task_slices)
                .where(*held_by(task_id, slice_index, worker_id))
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
            raise lost_slice(task_id, slice_index, worker_id)
        return slice_from_row(row)
