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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from logsluice.domain.errors import LogsluiceError
from logsluice.domain.tasks import ClaimedWork
from logsluice.ports import Clock, TaskClaims
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
        task_store: TaskClaims,
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
        self.logger = structlog.get_logger().bind(worker_id=worker_id)

    def run_once(self) -> ClaimedWork | None:
        """Claim one piece of work (a slice to run, or a queued task to start), do it and return
        it; None when there was none."""
        work = self.claim()
        if work is not None:
            self._runner.run_work(work, self.worker_id, self._shutdown)
        return work

    def claim(self) -> ClaimedWork | None:
        """Claim the next piece of work in fair order; None when there is none."""
        return self._task_store.claim_next_work(
            self.worker_id,
            lease=self._runner.settings.lease,
            now=self._clock.now(),
            max_running_per_project=self._settings.max_running_per_project,
        )

    def run_until_stopped(self) -> None:
        """Loop: run tasks while there are any; when there are none, wait a poll interval or until
        the signal says a task was queued."""
        self.logger.info("worker.started")
        while not self._shutdown.is_set():
            if not self._run_safely() and not self._shutdown.is_set():
                self._signal.wait(self._settings.poll_interval.total_seconds())
        self.logger.info("worker.stopped")

    def run_chain(self) -> bool:
        """Claim work and do it, and then the work claimed ahead while it ended (see
        :class:`ClaimAhead`), until no work was claimed ahead; False when there was none."""
        ahead = ClaimAhead(self)
        run = self.start_ahead(ahead)
        if run is None:
            return False
        while True:
            ahead.arm()
            try:
                run()
            except Exception:  # the work claimed ahead still runs: only it can end its slice
                self.logger.exception("worker.run_failed")
            taken = ahead.take()
            if taken is None:
                return True
            ahead, run = taken

    def start_ahead(self, ahead: ClaimAhead) -> Callable[[], None] | None:
        """Claim the next work and take it up, ``ahead`` hearing when its rows are all read;
        return what does it, or None when there is none (or the worker stops)."""
        if self._shutdown.is_set():
            return None
        work = self.claim()
        if work is None:
            return None
        return self._runner.start_work(work, self.worker_id, self._shutdown, on_read=ahead.on_read)

    def _run_safely(self) -> bool:
        try:
            return self.run_chain()
        except Exception as error:  # noqa: BLE001 - logged; the loop claims again
            self.log_failed_claim(error)
        return False

    def log_failed_claim(self, error: Exception) -> None:
        """Log a claim that failed: a store's known error briefly, anything else with its trace."""
        if isinstance(error, LogsluiceError):
            self.logger.warning("worker.claim_failed", code=error.code, error=error.message)
        else:
            self.logger.exception("worker.claim_failed", exc_info=error)


class ClaimAhead:
    """A worker's next work, claimed and taken up while its current slice ends.

    When the current slice's rows are all read (``on_read``, from its read-ahead thread), a
    thread claims the worker's next work and takes it up: a slice's heartbeat and read-ahead
    start, so the log store reads it while the current slice's last batches are encoded and its
    part is committed, and the worker goes on without waiting for the first batches of the next
    (ADR 0018). At most one piece of work is claimed ahead: a slice claimed ahead hears its own
    read end only once it is the current one (``arm``). ``take`` hands the claimed work over, which
    the worker must then do (it alone ends the slice, so its lease never lingers).
    """

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._lock = threading.Lock()
        self._armed = self._read = self._taken = False
        self._thread: threading.Thread | None = None
        self._next: tuple[ClaimAhead, Callable[[], None]] | None = None

    def on_read(self) -> None:
        """The slice's rows are all read: claim ahead once this is the current work."""
        with self._lock:
            self._read = True
            self._start_if_due()

    def arm(self) -> None:
        """The work this claims ahead for is now the worker's current work."""
        with self._lock:
            self._armed = True
            self._start_if_due()

    def take(self) -> tuple[ClaimAhead, Callable[[], None]] | None:
        """Wait for the claim ahead, if one was made; return the work it took up (with the
        ``ClaimAhead`` of that work), or None."""
        with self._lock:
            self._taken = True
            thread = self._thread
        if thread is not None:
            thread.join()
        return self._next

    def _start_if_due(self) -> None:
        if self._armed and self._read and not self._taken and self._thread is None:
            self._thread = threading.Thread(
                target=self._claim, name=f"{self._worker.worker_id}-ahead", daemon=True
            )
            self._thread.start()

    def _claim(self) -> None:
        following = ClaimAhead(self._worker)
        try:
            run = self._worker.start_ahead(following)
        except Exception as error:  # noqa: BLE001 - logged; the worker claims again later
            self._worker.log_failed_claim(error)
            return
        if run is not None:
            self._next = (following, run)


class WorkerPool:
    """N worker threads in one process; a background job of ``serve`` (start/stop)."""

    def __init__(
        self,
        task_store: TaskClaims,
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
