"""The artifact's whole-file sha256 and md5, hashed part by part as the slices finish (ADR 0018).

sha256 cannot be combined from the parts' digests: the file's hash runs over the head and the parts
in slice order. So the running hash is kept as a chain in the task store: each finished slice may
carry the saved state through its part (``TaskSlice.file_hash_state``). A worker whose slice is
the first one not hashed yet when it starts (always so for a worker that has the task to itself)
feeds its part's bytes into the chain as it writes them and stores the state as it finishes the
slice, so nobody reads that part again. A worker that finishes a slice which is the first one
not hashed yet reads its part back (finished parts are never written again; on the process's
background thread, while the worker goes on with its next slice), continues the state of the
slice before (or starts with the head), stores the state, and
goes on with the next finished slices; it stops at the first unfinished one, whose worker takes
over when it finishes (it stores before it looks for more, and the finisher finishes before it
looks, so one of them always sees the other). Then it lets the artifact store put the hashed
parts together already (``ArtifactStore.assemble``: the local store appends them to the file it
will publish). The completer hashes whatever is left before it completes, then the tail: at the
end only the last parts are read and copied, not the whole file.

Each saved state begins with the sha256 of the head it started from; a completer whose head
differs, a chain with a hole (a part gone), or no libcrypto falls back to reading the published
file once, so the checksums are always those of the file.
"""

from __future__ import annotations

import functools
import hashlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from logsluice.domain.errors import ArtifactNotFoundError
from logsluice.domain.tasks import SliceStatus, Task, TaskSlice
from logsluice.pipeline.protocols import ArtifactStore
from logsluice.pipeline.resumable_hash import ResumableHashes, resumable_hashes_available
from logsluice.ports import SliceRecords
from logsluice.services.task_files import artifact_key

_HEAD_DIGEST_BYTES = 32


def head_digest(head: bytes) -> bytes:
    """Return the sha256 of the head, which every saved state of its chain begins with."""
    return hashlib.sha256(head).digest()


def saved_state(digest: bytes, hashes: ResumableHashes) -> bytes:
    """Return the stored form of ``hashes``: the head's sha256 ``digest``, then the state."""
    return digest + hashes.state()


def continued(
    slices: Sequence[TaskSlice], start: int, head: Callable[[], bytes], *, check_head: bool = True
) -> tuple[bytes, ResumableHashes] | None:
    """Return the head's digest and the running hash before slice ``start``: over the head, or
    the state slice ``start - 1`` carries; None when that state is unreadable or (with
    ``check_head``) was made from another head. ``head`` is called only when needed."""
    if start == 0:
        hashes = ResumableHashes()
        data = head()
        hashes.update(data)
        return head_digest(data), hashes
    state = slices[start - 1].file_hash_state
    if state is None:
        return None
    digest = state[:_HEAD_DIGEST_BYTES]
    if check_head and digest != head_digest(head()):
        return None
    try:
        return digest, ResumableHashes.from_state(state[_HEAD_DIGEST_BYTES:])
    except ValueError:
        return None


def first_unhashed(slices: Sequence[TaskSlice]) -> int | None:
    """Return the index of the first slice carrying no state (None: every slice does)."""
    return next((index for index, item in enumerate(slices) if item.file_hash_state is None), None)


def hash_part(store: ArtifactStore, task: Task, item: TaskSlice, hashes: ResumableHashes) -> None:
    """Feed the slice's committed part (none when it wrote no rows) into ``hashes``.

    Raises ArtifactNotFoundError when the part is gone, ValueError when its size is not the
    slice's."""
    if item.status is not SliceStatus.DONE or item.size_bytes == 0:
        return  # no part: a slice without rows, or one given up as missing
    before = hashes.size_bytes
    for chunk in store.read_part(artifact_key(task), item.part_number):
        hashes.update(chunk)
    if hashes.size_bytes - before != item.size_bytes:
        raise ValueError(f"part {item.part_number} does not hold the slice's {item.size_bytes} B")


class Background:
    """One thread per process that runs work handed to it in order, so a worker goes on with
    its next slice while finished parts are read back and hashed and the artifact store puts
    them together (a local store copies them into the file it will publish): work that would
    otherwise stand between two slices. Started on first use; a daemon: a hash or a copy cut
    short by the process's exit is redone (by the next finisher or the completer; from the
    store's journal)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, work: Callable[[], None]) -> None:
        """Run ``work`` (which must not raise) after the work handed over before it."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="logsluice-assemble", daemon=True
                )
                self._thread.start()
        self._queue.put(work)

    def wait(self) -> None:
        """Block until the work handed over so far has run (for tests and orderly stops)."""
        done = threading.Event()
        self.submit(done.set)
        done.wait()

    def _run(self) -> None:
        while True:
            self._queue.get()()


BACKGROUND = Background()


class FileHasher:
    """Extends a task's chain of saved hashes after one of its slices finished."""

    def __init__(
        self,
        task_store: SliceRecords,
        artifact_store: ArtifactStore,
        task: Task,
        head: Callable[[], bytes],
        *,
        shutdown: threading.Event,
        budget: timedelta,
        logger: Any,
    ) -> None:
        """``head`` returns the artifact's head bytes (called only when hashing starts there).
        No part is started after ``budget`` (the worker holds no lease meanwhile; the rest is
        left to the next finisher or the completer)."""
        self.task_store = task_store
        self.artifact_store = artifact_store
        self.task = task
        self.head = head
        self.shutdown = shutdown
        self.budget_seconds = budget.total_seconds()
        self.logger = logger

    def after_finishing(self, slice_index: int, *, hashed: bool = False) -> None:
        """Hash the parts from slice ``slice_index`` on if it is the first one not hashed yet
        (``hashed``: its part was hashed as it was written, so from the next slice on).

        Never raises: the chain is only a head start for the completer, which hashes whatever it
        lacks."""
        if not resumable_hashes_available():
            return
        start = slice_index + 1 if hashed else slice_index
        try:
            count = self._extend(start)
        except Exception as error:  # noqa: BLE001 - only a head start: the completer goes on
            self.logger.info("task.file_hash_stopped", error=f"{type(error).__name__}: {error}")
            return
        if not count and not hashed:
            return
        self.logger.info("task.file_hashed", through_slice=start + count - 1)
        BACKGROUND.submit(functools.partial(self._assemble, start + count))

    def start_after_finishing(self, slice_index: int, *, hashed: bool = False) -> None:
        """Run :meth:`after_finishing` on the process's background thread, so the worker claims
        its next slice while the finished parts are read back and hashed. With several workers
        on one task a slice usually starts while the slice before it still runs, so its part
        cannot be hashed as it is written, and reading it back (~70 ms per 30 MB part) stood
        between two slices of every worker. Other processes' finishers may hash the same parts
        meanwhile: each stores a state only where none is (``record_file_hash``), and a hash cut
        short by the process's exit is redone by the next finisher or the completer."""
        BACKGROUND.submit(functools.partial(self.after_finishing, slice_index, hashed=hashed))

    def _assemble(self, end: int) -> None:
        """Let the store put the head and the parts of the first ``end`` slices (all hashed)
        together now, so completing has only the rest to copy (on the background thread; never
        raises: completing copies whatever is left)."""
        try:
            self._assemble_now(end)
        except Exception as error:  # noqa: BLE001 - only a head start: complete copies the rest
            self.logger.info("task.assembly_stopped", error=f"{type(error).__name__}: {error}")

    def _assemble_now(self, end: int) -> None:
        slices = self.task_store.list_task_slices(self.task.id)[:end]
        numbers = [
            item.part_number
            for item in slices
            if item.status is SliceStatus.DONE and item.size_bytes > 0
        ]
        self.artifact_store.assemble(artifact_key(self.task), numbers, self.head())

    def _extend(self, slice_index: int) -> int:
        """Hash from ``slice_index`` while the slices are finished; return how many were."""
        slices = self.task_store.list_task_slices(self.task.id)
        if slice_index >= len(slices) or first_unhashed(slices) != slice_index:
            return 0  # hashed already, or a slice before it waits (its finisher goes on from it)
        # the completer checks the chain's head; workers build it only to start the chain
        start = continued(slices, slice_index, self.head, check_head=False)
        if start is None:
            return 0
        digest, hashes = start
        index = slice_index
        started = time.monotonic()
        while index < len(slices) and not self._should_stop(started):
            if not slices[index].finished:
                slices = self.task_store.list_task_slices(self.task.id)  # finished since?
                if index >= len(slices) or not slices[index].finished:
                    break
            item = slices[index]
            if item.file_hash_state is not None:
                break  # another worker got here first
            hash_part(self.artifact_store, self.task, item, hashes)
            state = saved_state(digest, hashes)
            if not self.task_store.record_file_hash(
                self.task.id, index, written_at=item.written_at, state=state
            ):
                break  # another worker stored it first (it goes on), or the slice was replanned
            index += 1
        return index - slice_index

    def _should_stop(self, started: float) -> bool:
        return self.shutdown.is_set() or time.monotonic() - started > self.budget_seconds


def hashes_of_parts(
    task: Task, slices: Sequence[TaskSlice], store: ArtifactStore, head: bytes
) -> ResumableHashes | None:
    """Return the running hash over ``head`` and every slice's part in order, continuing the
    stored chain and reading only the parts after it; None when it cannot be had (no libcrypto,
    a state made from another head, a part gone), so the caller hashes the published file."""
    if not resumable_hashes_available():
        return None
    start = first_unhashed(slices)
    start = len(slices) if start is None else start
    started = continued(slices, start, lambda: head)
    if started is None:
        return None
    _, hashes = started
    try:
        for item in slices[start:]:
            hash_part(store, task, item, hashes)
    except (ArtifactNotFoundError, ValueError):
        return None
    return hashes
