"""The task runner: what a worker does with the work it claimed, a task to start or a slice to run.

A task is exported as slices, each a leasable unit of work (ADR 0018). The worker that claims a
QUEUED task starts it: plans its slices once (:mod:`logsluice.services.task_plan`) and stores them,
and pins its columns; or, when every slice is finished already (the completer died), completes the
artifact. Slices are then claimed one at a time by any worker of any process
(:mod:`logsluice.services.slice_run`), each writing its own artifact part; the worker that finishes
the last slice completes the artifact from the parts (:mod:`logsluice.services.task_complete`),
writes the manifest and marks the task SUCCEEDED. Planning and completing wait out an outage of
a store in place, holding the task's lease (:mod:`logsluice.services.outage_wait`, ADR 0024).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog

from logsluice.domain.cancellation import Cancellation
from logsluice.domain.errors import (
    DiskFullError,
    LeaseLostError,
    LogsluiceError,
    TaskNotFoundError,
)
from logsluice.domain.outages import OutagePolicy, is_transient
from logsluice.domain.tasks import ClaimedWork, Task, TaskStatus
from logsluice.pipeline.protocols import ArtifactStore
from logsluice.ports import Clock, RecordReader, TaskRunnerStore
from logsluice.services.heartbeat import TaskHeartbeat
from logsluice.services.outage_wait import OutageWait
from logsluice.services.slice_run import SliceRun
from logsluice.services.task_complete import (
    complete_artifact,
    export_result,
    settled_outcome,
)
from logsluice.services.task_estimates import EncoderFactory
from logsluice.services.task_finish import TaskFinisher
from logsluice.services.task_interrupt import InterruptibleSource
from logsluice.services.task_plan import pinned_schema, plan_task
from logsluice.services.task_queries import records_query_for

_WAIT_FOR_SLICES_SECONDS = 0.05

OnRead = Callable[[], None] | None  # hears that a claimed slice's rows are all read


@dataclass(frozen=True)
class RunnerSettings:
    """How a runner works: lease and heartbeat, slice size, batch size, retries, retention, and
    how long an outage of a store is waited out (``outage``)."""

    lease: timedelta = timedelta(seconds=30)
    heartbeat_interval: timedelta = timedelta(milliseconds=500)
    rows_per_slice: int = 1_000_000
    batch_rows: int = 16_384
    slice_attempts: int = 3
    slice_retry_delay: timedelta = timedelta(seconds=1)
    artifact_retention: timedelta = timedelta(days=7)
    outage: OutagePolicy = field(default_factory=OutagePolicy)


class TaskRunner:
    """Runs claimed work; one instance serves every worker thread of a process."""

    def __init__(
        self,
        *,
        task_store: TaskRunnerStore,
        source: RecordReader,
        artifact_store: ArtifactStore,
        encoder_factory: EncoderFactory,
        clock: Clock,
        settings: RunnerSettings,
        on_disk_full: Callable[[], object] = lambda: None,
        artifact_store_for: Callable[[Task], ArtifactStore] | None = None,
    ) -> None:
        """``on_disk_full`` frees space for the task store (the data directory's reserve) when
        it refuses to record an ending for want of space; ``artifact_store_for`` picks the store
        of a task that names a sink (default: ``artifact_store`` for every task)."""
        self.artifact_store_for = artifact_store_for
        self.on_disk_full = on_disk_full
        self.task_store = task_store
        self.source = source
        self.artifact_store = artifact_store
        self.encoder_factory = encoder_factory
        self.clock = clock
        self.settings = settings
        # tasks a slice of which was not in time order in storage: their slices are read sorted
        self.unsorted_tasks: set[str] = set()

    def run_work(self, work: ClaimedWork, worker_id: str, shutdown: threading.Event) -> None:
        """Start the claimed task, or run the claimed slice (completing the task if it was the
        last). Never raises for the task's own failures: they end the task FAILED. ``shutdown``
        stops the work between batches and gives it back for another worker."""
        self.start_work(work, worker_id, shutdown)()

    def start_work(
        self,
        work: ClaimedWork,
        worker_id: str,
        shutdown: threading.Event,
        *,
        on_read: OnRead = None,
    ) -> Callable[[], None]:
        """Take up the claimed work and return what does it (see :meth:`run_work`).

        A claimed slice's heartbeat and read-ahead start now (:meth:`SliceRun.start`), so a worker
        that claims its next slice while its current one ends has that slice read meanwhile; the
        returned call must then be made, as it alone ends the slice. ``on_read`` hears, once, that
        the slice's rows are all read.
        """
        runner = self
        if self.artifact_store_for is not None:  # the task's own store: its sink's bucket
            runner = copy.copy(self)
            try:
                runner.artifact_store = self.artifact_store_for(work.task)
            except LogsluiceError as error:  # its sink was removed since: fail now
                _TaskStart(self, work.task, worker_id, shutdown).fail(error)
                return _nothing
        return runner._take_up(work, worker_id, shutdown, on_read)

    def _take_up(
        self, work: ClaimedWork, worker_id: str, shutdown: threading.Event, on_read: OnRead
    ) -> Callable[[], None]:
        """Take up the claimed work with this runner's artifact store (see :meth:`start_work`)."""
        if work.slice is None:
            return _TaskStart(self, work.task, worker_id, shutdown).execute
        run = SliceRun(
            self,
            work.task,
            work.slice,
            worker_id,
            shutdown,
            on_last=lambda task: _TaskStart(self, task, worker_id, shutdown).complete(),
            on_read=on_read,
        )
        run.start()
        return run.execute

    def run(self, task: Task, worker_id: str, shutdown: threading.Event) -> None:
        """Run ``task`` (claimed RUNNING by ``worker_id``) to its end on this thread alone:
        start it, then run its slices one after the other until it ends or must stop."""
        self.run_work(ClaimedWork(task), worker_id, shutdown)
        while not shutdown.is_set():
            work = self.task_store.claim_next_work(
                worker_id,
                lease=self.settings.lease,
                now=self.clock.now(),
                max_running_per_project=1 << 30,
                only_task_id=task.id,
            )
            if work is not None:
                self.run_work(work, worker_id, shutdown)
                continue
            try:
                current = self.task_store.get_task(task.project, task.id)
            except TaskNotFoundError:  # deleted meanwhile
                return
            if current.status is not TaskStatus.RUNNING:
                return
            time.sleep(_WAIT_FOR_SLICES_SECONDS)  # a slice waits for its retry, or another runs

    def finisher_for(self, task: Task, worker_id: str, logger: Any) -> TaskFinisher:
        """Return the finisher ending ``task`` on behalf of ``worker_id``."""
        return TaskFinisher(
            self.task_store,
            self.artifact_store,
            self.clock,
            task=task,
            worker_id=worker_id,
            retention=self.settings.artifact_retention,
            logger=logger,
            on_disk_full=self.on_disk_full,
        )


def _nothing() -> None:
    """Nothing left to do (the work ended when it was taken up)."""


class _TaskStart:
    """A worker holding a task's lease: planning its slices, or completing its artifact."""

    def __init__(
        self, runner: TaskRunner, task: Task, worker_id: str, shutdown: threading.Event
    ) -> None:
        self.runner = runner
        self.task = task
        self.worker_id = worker_id
        self.shutdown = shutdown
        self.cancellation = Cancellation()
        self.source = InterruptibleSource(runner.source, self.cancellation)
        self.logger = structlog.get_logger().bind(
            task_id=task.id, worker_id=worker_id, project=task.project
        )
        self.finisher = runner.finisher_for(task, worker_id, self.logger)

    def _heartbeat(self) -> TaskHeartbeat:
        settings = self.runner.settings
        return TaskHeartbeat(
            self.runner.task_store,
            self.runner.clock,
            task_id=self.task.id,
            worker_id=self.worker_id,
            lease=settings.lease,
            interval=settings.heartbeat_interval,
            snapshot=lambda: None,
            shutdown=self.shutdown,
            cancellation=self.cancellation,
        )

    def execute(self) -> None:
        """Plan the claimed task's slices (once); complete it if they are all finished."""
        self.logger.info(
            "task.started", attempt=self.task.attempts, queued_seconds=self._queued_seconds()
        )
        with self._heartbeat() as heartbeat:
            finished = self._guarded(heartbeat, self._plan)
        if finished:
            self.complete()

    def _queued_seconds(self) -> float | None:
        """Seconds from creation to this first start (None on later attempts: metrics' wait)."""
        task = self.task
        if task.attempts != 1 or task.started_at is None:
            return None
        return max((task.started_at - task.created_at).total_seconds(), 0.0)

    def complete(self) -> None:
        """Publish the artifact from its parts, write the manifest, mark the task SUCCEEDED."""
        with self._heartbeat() as heartbeat:
            self._guarded(heartbeat, self._complete)

    def _guarded(self, heartbeat: TaskHeartbeat, work: Callable[[], bool]) -> bool:
        """Run ``work``; end the task as its errors or a stop request say. Return its answer."""
        try:
            answer = self._attempt(heartbeat, work)
        except LeaseLostError:
            self.logger.warning("task.lease_lost")
            return False
        except Exception as error:  # noqa: BLE001 - failed (reported) or interrupted (stopped)
            if not self.cancellation.cancelled:
                self.fail(error)
                return False
            self.logger.info("task.interrupted", error=str(error))
            answer = False
        if heartbeat.lease_lost:
            self.logger.warning("task.lease_lost")
        elif heartbeat.cancel_requested:
            self.finisher.cancel()
        elif self.shutdown.is_set() and not answer:
            self.finisher.requeue()
        return answer

    def _attempt(self, heartbeat: TaskHeartbeat, work: Callable[[], bool]) -> bool:
        """Run ``work``, again after each outage of a store (waited out holding the lease);
        return its answer (False when it had to stop while waiting)."""
        outage = OutageWait(
            self.runner.settings.outage,
            self.runner.clock,
            should_stop=heartbeat.should_stop,
            stopping=self.shutdown,
            logger=self.logger,
            on_wait=self._show_outage,
        )
        while True:
            try:
                answer = work()
            except Exception as error:
                if not is_transient(error):
                    raise
                if not heartbeat.should_stop():  # stopping: given back or cancelled, not failed
                    outage.wait_after(error)  # raises once the outage lasted the window
                if heartbeat.should_stop():
                    return False
                continue
            if outage.since is not None and not answer:
                self._show_outage(None)  # planned after an outage: it is over
            if not answer:
                heartbeat.beat()  # hear a cancel that came while it planned
            return answer

    def _show_outage(self, message: str | None) -> None:
        """Show on the task what it waits for (None: nothing); skipped if the store is down."""
        with suppress(LogsluiceError):
            self.runner.task_store.record_outage(
                self.task.id, now=self.runner.clock.now(), message=message
            )

    def _plan(self) -> bool:
        """Store the slices unless stored; return True when every slice is finished already."""
        runner = self.runner
        pinned_schema(self.task, self.source, runner.artifact_store)
        ranges = []
        if not runner.task_store.list_task_slices(self.task.id):
            rows_per_slice = runner.settings.rows_per_slice
            plan = plan_task(self.task, self.source, [], rows_per_slice=rows_per_slice)
            ranges = [item.time_range for item in plan.slices]
        # planned before: the stored slices stay, the unfinished ones start their attempts afresh
        slices = runner.task_store.plan_slices(
            self.task.id,
            ranges,
            worker_id=self.worker_id,
            now=runner.clock.now(),
            waits_for_previous=self.task.spec.limit is not None,
        )
        self.logger.info("task.planned", slices=len(slices))
        return all(item.finished for item in slices)

    def _complete(self) -> bool:
        runner, spec = self.runner, self.task.spec
        slices = runner.task_store.list_task_slices(self.task.id)
        schema = pinned_schema(self.task, self.source, runner.artifact_store)
        encoder = runner.encoder_factory(spec.format, time_zone=spec.timezone, csv_options=spec.csv)
        try:
            summary, head_bytes = complete_artifact(
                self.task, slices, runner.artifact_store, encoder, schema
            )
        finally:
            close = getattr(encoder, "close", None)
            if close is not None:
                close()
        outcome = settled_outcome(self.task, slices, self.source)
        self.finisher.succeed(
            export_result(outcome, summary), slices, self._compiled_query(), head_bytes=head_bytes
        )
        return True

    def _compiled_query(self) -> str:
        request = records_query_for(self.runner.source, self.task.project, self.task.spec)
        try:
            return self.source.compile_query(request)
        except LogsluiceError:
            return request.query.text  # the schema moved on since; the query text still says it

    def fail(self, error: Exception) -> None:
        """End the task FAILED with ``error``."""
        if isinstance(error, DiskFullError):
            self.finisher.fail_for_want_of_space(error)
            return
        if isinstance(error, LogsluiceError):
            self.finisher.fail(error.code, error.message)
            return
        self.logger.exception("task.crashed")
        self.finisher.fail("internal_error", f"{type(error).__name__}: {error}")
