"""The heartbeat of a running task: renews its lease, stores its progress, hears a cancel.

One daemon thread per running task calls ``TaskLeases.heartbeat`` every interval (well under the
lease) with the progress the runner reports. The store's answer says whether a cancel was asked
for; a ``LeaseLostError`` says another worker owns the task now. Either makes :meth:`should_stop`
true, which the export driver checks between batches; and it cancels the run's
:class:`~logsluice.domain.cancellation.Cancellation`, which interrupts a query blocked in the
engine. So a RUNNING task stops within about one interval of a cancel, whatever it is doing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import structlog

from logsluice.domain.cancellation import Cancellation
from logsluice.domain.errors import LeaseLostError, LogsluiceError
from logsluice.domain.tasks import Task, TaskStatus
from logsluice.ports import Clock, TaskLeases


@dataclass(frozen=True)
class ProgressSnapshot:
    """What the heartbeat stores: percent done, rows and bytes so far, slices planned."""

    progress: float
    rows_written: int
    bytes_written: int
    slices_total: int


class TaskHeartbeat:
    """Keeps one task's lease alive while its runner works; a context manager."""

    def __init__(
        self,
        task_store: TaskLeases,
        clock: Clock,
        *,
        task_id: str,
        worker_id: str,
        lease: timedelta,
        interval: timedelta,
        snapshot: Callable[[], ProgressSnapshot | None],
        shutdown: threading.Event,
        cancellation: Cancellation | None = None,
    ) -> None:
        self._task_store = task_store
        self._clock = clock
        self._task_id = task_id
        self._worker_id = worker_id
        self._lease = lease
        self._interval = interval
        self._snapshot = snapshot
        self._shutdown = shutdown
        self._cancellation = cancellation
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{task_id}", daemon=True)
        self.cancel_requested = False
        self.lease_lost = False
        self._logger = structlog.get_logger().bind(task_id=task_id, worker_id=worker_id)

    def __enter__(self) -> TaskHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._finished.set()
        self._thread.join()

    def should_stop(self) -> bool:
        """Return whether the runner must stop: cancel asked, lease lost, or the worker stopping."""
        return self.cancel_requested or self.lease_lost or self._shutdown.is_set()

    def beat(self) -> None:
        """Renew the lease now and store the latest progress."""
        try:
            task = self._renew()
        except LeaseLostError:
            self.lease_lost = True
            self._logger.warning("task.lease_lost")
            return
        if task.cancel_requested and not self.cancel_requested:
            self.cancel_requested = True
            self._logger.info("task.cancel_heard")

    def _renew(self) -> Task:
        snapshot = self._snapshot()
        fields = {} if snapshot is None else vars(snapshot)
        return self._task_store.heartbeat(
            self._task_id, self._worker_id, lease=self._lease, now=self._clock.now(), **fields
        )

    def interrupt_if_stopping(self) -> None:
        """Interrupt the run's queries when it must stop; again at every beat until it ends."""
        if self._cancellation is not None and self.should_stop():
            if not self._cancellation.cancelled:
                self._logger.info("task.interrupting")
            self._cancellation.cancel()

    def _run(self) -> None:
        while not self._finished.wait(self._interval.total_seconds()):
            self.interrupt_if_stopping()  # a worker shutdown is heard here, between beats
            try:
                self.beat()
                self.interrupt_if_stopping()
            except LogsluiceError as error:
                # A busy or briefly unreachable task store: the lease outlasts a few missed beats.
                self._logger.warning("task.heartbeat_failed", code=error.code, error=error.message)
            except Exception:
                self._logger.exception("task.heartbeat_failed")


@dataclass(frozen=True)
class SliceProgress:
    """What a slice's heartbeat stores: the slice's rows and part bytes so far, and for a
    ``| SQL`` task how far the engine says its query is."""

    rows: int
    size_bytes: int
    progress: float | None = None


class SliceHeartbeat(TaskHeartbeat):
    """Keeps one claimed slice's lease (and its task's) alive while a worker exports it."""

    def __init__(
        self,
        task_store: TaskLeases,
        clock: Clock,
        *,
        task_id: str,
        slice_index: int,
        worker_id: str,
        lease: timedelta,
        interval: timedelta,
        slice_progress: Callable[[], SliceProgress],
        shutdown: threading.Event,
        cancellation: Cancellation | None = None,
    ) -> None:
        super().__init__(
            task_store,
            clock,
            task_id=task_id,
            worker_id=worker_id,
            lease=lease,
            interval=interval,
            snapshot=lambda: None,
            shutdown=shutdown,
            cancellation=cancellation,
        )
        self._slice_index = slice_index
        self._slice_progress = slice_progress

    def _renew(self) -> Task:
        progress = self._slice_progress()
        task = self._task_store.heartbeat_slice(
            self._task_id,
            self._slice_index,
            self._worker_id,
            lease=self._lease,
            now=self._clock.now(),
            rows=progress.rows,
            size_bytes=progress.size_bytes,
            progress=progress.progress,
        )
        if task.status is TaskStatus.CANCELLING:
            return replace(task, cancel_requested=True)
        return task
