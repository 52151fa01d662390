"""Workers: threads that claim work (fairly, with a lease) and do it: start a queued download task
(plan its slices) or run one slice of a running task.

``serve`` runs a :class:`WorkerPool` of N threads; ``logsluice worker`` runs one in its own process
against the same task and artifact stores. Each claim takes a lease in the task store, so a slice
runs on exactly one worker at a time while the slices of one task run on many at once; a worker
that dies simply stops renewing its lease and its slice is claimed again. Stopping a pool stops
its runs between batches and gives their slices back at once, for another worker to resume.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta

import structlog

from logsluice.domain.errors import LogsluiceError
from logsluice.domain.tasks import ClaimedWork
from logsluice.ports import Clock, TaskStore
from logsluice.services.runner import TaskRunner


@dataclass(frozen=True)
class WorkerSettings:
    """How workers claim: how long to wait when the queue is empty, and the per-project limit."""

    poll_interval: timedelta = timedelta(milliseconds=500)
    max_running_per_project: int = 2


class QueueSignal:
    """Wakes this process's idle workers when a task is queued, so it starts at once.

    Without it a queued task waits for the next poll (up to ``poll_interval``). Workers in other
    processes still find it by polling.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        """Wake every idle worker waiting on this signal."""
        self._event.set()

    def wait(self, timeout_seconds: float) -> None:
        """Wait until notified or ``timeout_seconds`` pass."""
        self._event.wait(timeout_seconds)
        self._event.clear()


def new_worker_id(label: str = "worker") -> str:
    """Return a worker id unique across hosts and processes: ``host:pid:label:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{label}:{secrets.token_hex(3)}"


class Worker:
    """Claims and runs tasks one after the other until stopped."""

    def __init__(
        self,
        task_store: TaskStore,
        runner: TaskRunner,
        clock: Clock,
        settings: WorkerSettings,
        *,
        worker_id: str,
        shutdown: threading.Event,
        signal: QueueSignal | None = None,
    ) -> None:
        self._task_store = task_store
        self._runner = runner
        self._clock = clock
        self._settings = settings
        self.worker_id = worker_id
        self._shutdown = shutdown
        self._signal = signal or QueueSignal()
        self._logger = structlog.get_logger().bind(worker_id=worker_id)

    def run_once(self) -> ClaimedWork | None:
        """Claim one piece of work (a slice to run, or a queued task to start), do it and return
        it; None when there was none."""
        work = self._task_store.claim_next_work(
            self.worker_id,
            lease=self._runner.settings.lease,
            now=self._clock.now(),
            max_running_per_project=self._settings.max_running_per_project,
        )
        if work is not None:
            self._runner.run_work(work, self.worker_id, self._shutdown)
        return work

    def run_until_stopped(self) -> None:
        """Loop: run tasks while there are any; when there are none, wait a poll interval or until
        the signal says a task was queued."""
        self._logger.info("worker.started")
        while not self._shutdown.is_set():
            if not self._run_safely() and not self._shutdown.is_set():
                self._signal.wait(self._settings.poll_interval.total_seconds())
        self._logger.info("worker.stopped")

    def _run_safely(self) -> bool:
        try:
            return self.run_once() is not None
        except LogsluiceError as error:
            self._logger.warning("worker.claim_failed", code=error.code, error=error.message)
        except Exception:
            self._logger.exception("worker.claim_failed")
        return False


class WorkerPool:
    """N worker threads in one process; a background job of ``serve`` (start/stop)."""

    def __init__(
        self,
        task_store: TaskStore,
        runner: TaskRunner,
        clock: Clock,
        settings: WorkerSettings,
        *,
        size: int,
        label: str = "serve",
        signal: QueueSignal | None = None,
    ) -> None:
        self._shutdown = threading.Event()
        self._signal = signal or QueueSignal()
        self.workers = [
            Worker(
                task_store,
                runner,
                clock,
                settings,
                worker_id=new_worker_id(f"{label}-{number}"),
                shutdown=self._shutdown,
                signal=self._signal,
            )
            for number in range(size)
        ]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start one thread per worker; a no-op when already started."""
        if self._threads:
            return
        self._shutdown.clear()
        for worker in self.workers:
            thread = threading.Thread(
                target=worker.run_until_stopped, name=worker.worker_id, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop every worker: running tasks stop between batches and are queued again."""
        self._shutdown.set()
        self._signal.notify()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def wait(self) -> None:
        """Block until the pool is stopped (used by ``logsluice worker``)."""
        for thread in list(self._threads):
            while thread.is_alive():
                thread.join(timeout=0.5)
