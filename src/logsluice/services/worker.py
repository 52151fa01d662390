"""Workers: threads that claim work (fairly, with a lease) and do it: start a queued download task
(plan its slices) or run one slice of a running task.

``serve`` runs a :class:`WorkerPool` of N workers; ``logsluice worker`` runs one in its own
process against the same task and artifact stores. Each claim takes a lease in the task store, so
a slice runs on exactly one worker at a time while the slices of one task run on many at once; a
worker that dies simply stops renewing its lease and its slice is claimed again. Stopping a pool
stops its runs between batches and gives their slices back at once, for another worker to resume.

A pool of N workers runs 2N threads that take N *reading turns* (:class:`ReadingTurns`): a
thread claims work only while it holds a turn, and gives the turn back as soon as its slice's
records are all read, so another thread claims the next slice and the log store reads it while
the first thread encodes, compresses and commits the tail of its part (ADR 0018). Without it
every slice started from an idle pipeline and ended with the log store idle: the single-file
export of old overlapped those by reading the next slice ahead, which a claimed slice cannot do.
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


class ReadingTurns:
    """The reading turns of a pool: at most ``count`` of its threads claim or read at once."""

    def __init__(self, count: int) -> None:
        self._semaphore = threading.BoundedSemaphore(count)

    def take(self, shutdown: threading.Event) -> ReadingTurn | None:
        """Wait for a turn; None once ``shutdown`` is set."""
        while not shutdown.is_set():
            if self._semaphore.acquire(timeout=_TURN_WAIT_SECONDS):
                return ReadingTurn(self._semaphore)
        return None


_TURN_WAIT_SECONDS = 0.2


class ReadingTurn:
    """One turn taken; :meth:`give_back` may be called any number of times, from any thread."""

    def __init__(self, semaphore: threading.BoundedSemaphore) -> None:
        self._semaphore = semaphore
        self._lock = threading.Lock()
        self._held = True

    def give_back(self) -> None:
        """Let another thread of the pool claim (the first call only)."""
        with self._lock:
            if not self._held:
                return
            self._held = False
        self._semaphore.release()


class Worker:
    """Claims and runs tasks one after the other until stopped (with ``turns``, only while it
    holds a reading turn)."""

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
        turns: ReadingTurns | None = None,
    ) -> None:
        self._turns = turns
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
        it; None when there was none (or the worker was stopped while waiting for a turn)."""
        turn = None if self._turns is None else self._turns.take(self._shutdown)
        if self._turns is not None and turn is None:
            return None
        try:
            work = self._task_store.claim_next_work(
                self.worker_id,
                lease=self._runner.settings.lease,
                now=self._clock.now(),
                max_running_per_project=self._settings.max_running_per_project,
            )
            if work is not None:
                on_read = None if turn is None else turn.give_back
                self._runner.run_work(work, self.worker_id, self._shutdown, on_read)
            return work
        finally:
            if turn is not None:
                turn.give_back()

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


THREADS_PER_WORKER = 2


class WorkerPool:
    """N workers in one process, as 2N threads taking N reading turns (see the module's
    docstring); a background job of ``serve`` (start/stop)."""

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
        turns = ReadingTurns(size) if size else None
        self.workers = [
            Worker(
                task_store,
                runner,
                clock,
                settings,
                worker_id=new_worker_id(f"{label}-{number}"),
                shutdown=self._shutdown,
                signal=self._signal,
                turns=turns,
            )
            for number in range(THREADS_PER_WORKER * size)
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
