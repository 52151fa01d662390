"""One claimed slice, run by one worker: its rows exported into its own artifact part.

The slice is read (in storage order and checked, or sorted: ``may_skip_sort``), encoded and
compressed into part ``slice_index + 1`` through ``pipeline.export_part``, under the slice's own
lease (:class:`~logsluice.services.heartbeat.SliceHeartbeat`, which also hears a cancel and
interrupts the engine's query). A finished slice is recorded with its rows, size and checksums;
the worker that finishes the last one completes the artifact. A failing slice is queued again
after a delay until its attempts are used up; then it fails the task or, with
``allow_incomplete``, is recorded as missing. A slice that fails because a store is down (an
outage: :func:`~logsluice.domain.outages.is_transient`) is queued again with a growing delay
without using up an attempt, until the outage has lasted the runner's outage window (ADR 0024).
A slice of a task with a row limit runs after the slices before it (the store sees to that) with
the rows still left, so the limit stays exact.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, cast

import pyarrow as pa
import structlog

from logsluice.domain.cancellation import Cancellation
from logsluice.domain.errors import (
    ArtifactStagingError,
    DiskFullError,
    ExportSchemaChangedError,
    InvalidInputError,
    LeaseLostError,
    LogsluiceError,
    StorageUnavailableError,
)
from logsluice.domain.export import ExportFormat, Order
from logsluice.domain.outages import is_transient, store_of
from logsluice.domain.query_progress import QueryProgress
from logsluice.domain.tasks import SliceOutcome, SliceStatus, Task, TaskSlice
from logsluice.pipeline.compressors import build_compressor
from logsluice.pipeline.encoders import ParquetEncoder
from logsluice.pipeline.export import ReadAhead
from logsluice.pipeline.export_part import PartResult, export_part
from logsluice.pipeline.parquet_footer import pack_footers
from logsluice.pipeline.protocols import Encoder
from logsluice.pipeline.resumable_hash import ResumableHashes, resumable_hashes_available
from logsluice.pipeline.slices import Slice
from logsluice.pipeline.time_order import OutOfTimeOrderError, in_time_order
from logsluice.ports import RecordsQuery
from logsluice.services.heartbeat import SliceHeartbeat, SliceProgress
from logsluice.services.outage_wait import OutageWait
from logsluice.services.task_complete import task_head
from logsluice.services.task_file_hash import FileHasher, continued, first_unhashed, saved_state
from logsluice.services.task_files import artifact_key, outer_compression
from logsluice.services.task_interrupt import InterruptibleSource
from logsluice.services.task_plan import conformed, pinned_schema
from logsluice.services.task_queries import records_query_for

if TYPE_CHECKING:
    from logsluice.services.runner import TaskRunner

FOR_GOOD = (
    InvalidInputError,
    ExportSchemaChangedError,
    ArtifactStagingError,
    LeaseLostError,
    DiskFullError,  # waiting does not free space; the task fails at once (ADR 0015)
)


def may_skip_sort(request: RecordsQuery, schema: pa.Schema) -> bool:
    """True when a slice may be read in storage order, checked, instead of sorted.

    Only a plain SEARCH in ascending time order qualifies: its time column comes first, and a store
    that keeps records sorted hands them over in that order. A SQL query keeps its own order.
    """
    return (
        request.order is Order.ASC
        and not request.query.has_sql
        and len(schema) > 0
        and pa.types.is_timestamp(schema.field(0).type)
    )


@dataclass
class _Counters:
    """Rows read and part bytes written so far, shared with the heartbeat thread."""

    rows: int = 0
    size_bytes: int = 0
    engine: QueryProgress = field(default_factory=QueryProgress, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_rows(self, rows: int) -> None:
        with self.lock:
            self.rows += rows

    def set_bytes(self, size_bytes: int) -> None:
        with self.lock:
            self.size_bytes = size_bytes

    def reset(self) -> None:
        with self.lock:
            self.rows = self.size_bytes = 0

    def snapshot(self, limit: int | None) -> SliceProgress:
        with self.lock:
            rows = self.rows if limit is None else min(self.rows, limit)
            return SliceProgress(rows, self.size_bytes, self.engine.percent())


@dataclass(frozen=True)
class _Exported:
    """A slice's part as written: its result, its Parquet footers, and the artifact's running
    hash through it when it was hashed into the chain as it was written."""

    part: PartResult
    footers: bytes | None = None
    file_hash_state: bytes | None = None


@dataclass(frozen=True)
class _Ahead:
    """A slice's read-ahead started before its export, with the schema and order it reads in."""

    reader: ReadAhead
    schema: pa.Schema
    sort: bool


def _part_footers(encoder: Encoder) -> list[tuple[int, bytes]]:
    """The Parquet encoder's footers (the encoder may be wrapped, e.g. to count its calls)."""
    return cast("ParquetEncoder", encoder).part_footers()


class SliceRun:
    """One run of one claimed slice by one worker."""

    def __init__(
        self,
        runner: TaskRunner,
        task: Task,
        item: TaskSlice,
        worker_id: str,
        shutdown: threading.Event,
        on_last: Callable[[Task], None],
        on_read: Callable[[], None] | None = None,
    ) -> None:
        self.runner = runner
        self.on_read = on_read
        self._heartbeat: SliceHeartbeat | None = None
        self._ahead: _Ahead | None = None
        self.head: bytes | None = None
        self.task = task
        self.item = item
        self.worker_id = worker_id
        self.shutdown = shutdown
        self.on_last = on_last
        self.counters = _Counters()
        self.limit: int | None = None
        self.cancellation = Cancellation()
        self.source = InterruptibleSource(runner.source, self.cancellation)
        self.logger = structlog.get_logger().bind(
            task_id=task.id, worker_id=worker_id, project=task.project, slice_index=item.slice_index
        )

    def start(self) -> None:
        """Take up the slice: its heartbeat keeps the lease from now on and, for a slice read
        whole (no row limit), its read-ahead starts. A worker starts its next slice while its
        current one's last batches are encoded, so the two overlap (ADR 0018). ``execute`` must
        follow: it alone ends the slice, its heartbeat and its read-ahead."""
        if self._heartbeat is not None:
            return
        settings = self.runner.settings
        heartbeat = SliceHeartbeat(
            self.runner.task_store,
            self.runner.clock,
            task_id=self.task.id,
            slice_index=self.item.slice_index,
            worker_id=self.worker_id,
            lease=settings.lease,
            interval=settings.heartbeat_interval,
            slice_progress=lambda: self.counters.snapshot(self.limit),
            shutdown=self.shutdown,
            cancellation=self.cancellation,
        )
        heartbeat.__enter__()
        self._heartbeat = heartbeat
        self.logger.info("task.slice_started", attempt=self.item.attempts)
        if self.task.spec.limit is None and self.item.attempts <= settings.slice_attempts:
            try:
                self._ahead = self._read_ahead()
            except Exception as error:  # noqa: BLE001 - met again, and handled, by execute
                self.logger.info("task.slice_read_ahead_failed", error=str(error))

    def execute(self) -> None:
        """Export the slice and record how it ended; never raises for the slice's own failures."""
        self.start()
        heartbeat = cast("SliceHeartbeat", self._heartbeat)
        try:
            ending = self._execute(heartbeat)
        finally:
            self._close_ahead()
            heartbeat.__exit__(None, None, None)
        # recorded once the heartbeat stopped, so no beat races the slice's end
        last = ending() if ending is not None else None
        if last is not None:
            self.on_last(last)

    def _read_ahead(self) -> _Ahead:
        schema = pinned_schema(self.task, self.source, self.runner.artifact_store)
        sort = self.task.id in self.runner.unsorted_tasks
        reader = ReadAhead(
            functools.partial(self._open_reader, schema=schema, sort=sort),
            Slice(self.item.slice_index, self.item.time_range),
            on_read=self.on_read,
        )
        return _Ahead(reader, schema, sort)

    def _take_ahead(self) -> ReadAhead | None:
        """Hand the read-ahead started by ``start`` to the export (which closes it), once."""
        ahead, self._ahead = self._ahead, None
        return None if ahead is None else ahead.reader

    def _close_ahead(self) -> None:
        """Close the read-ahead started by ``start`` if no export took it over."""
        reader = self._take_ahead()
        if reader is not None:
            reader.close()

    def _execute(self, heartbeat: SliceHeartbeat) -> Callable[[], Task | None] | None:
        """Run the slice; return how it ends (None: it ended already), which returns the task
        when this worker must then complete the artifact."""
        if self.item.attempts > self.runner.settings.slice_attempts:
            message = self.item.error_message or "the workers running it kept stopping"
            return functools.partial(self._give_up, message)
        try:
            result = self._export(heartbeat)
        except LeaseLostError:
            self.logger.warning("task.slice_lease_lost")
            return None
        except FOR_GOOD as error:
            self._fail_task(error)
            return None
        except Exception as error:  # noqa: BLE001 - retried, given up, or the run was stopped
            if self.cancellation.cancelled or heartbeat.should_stop():
                self.logger.info("task.slice_interrupted", error=str(error))
                self._release(heartbeat)
                return None
            if is_transient(error):
                return functools.partial(self._wait_for_store, error)
            return functools.partial(self._retry_or_give_up, error)
        if result is None:
            self._release(heartbeat)
            return None
        outcome = self._outcome(result)
        return functools.partial(self._finish, outcome)

    # --- exporting -------------------------------------------------------------------------------

    def _export(self, heartbeat: SliceHeartbeat) -> _Exported | None:
        self.limit = self._rows_left()
        if self.limit is not None and self.limit <= 0:
            return _Exported(PartResult(0, cut=False, part=None))  # the slices before took all
        if self._ahead is None:
            schema = pinned_schema(self.task, self.source, self.runner.artifact_store)
            sort = self.task.id in self.runner.unsorted_tasks
        else:
            schema, sort = self._ahead.schema, self._ahead.sort
        while True:
            try:
                return self._export_once(schema, sort, heartbeat)
            except OutOfTimeOrderError as error:
                if sort:
                    raise
                # the store's own order was not time order here: read this slice sorted, and
                # the task's later slices in this process too
                self.logger.info("task.sorting_slice", reason=str(error))
                self.runner.unsorted_tasks.add(self.task.id)
                self.counters.reset()
                sort = True

    def _export_once(
        self, schema: pa.Schema, sort: bool, heartbeat: SliceHeartbeat
    ) -> _Exported | None:
        """Export the slice once, with the read-ahead ``start`` began if no export took it yet
        (a sorted retry reads afresh)."""
        runner, spec = self.runner, self.task.spec
        encoder = runner.encoder_factory(spec.format, time_zone=spec.timezone, csv_options=spec.csv)
        chain = self._file_hash_before()
        key = artifact_key(self.task)
        number = self.item.part_number
        try:
            result = export_part(
                Slice(self.item.slice_index, self.item.time_range),
                lambda item: self._open_reader(item, schema, sort),
                encoder,
                build_compressor(outer_compression(spec)),
                lambda hashes: runner.artifact_store.open_part(
                    key, number, self._first_part_head(), hashes
                ),
                on_bytes_written=self.counters.set_bytes,
                should_stop=heartbeat.should_stop,
                limit=self.limit,
                file_hash=None if chain is None else chain[1],
                ahead=self._take_ahead(),
                on_read=self.on_read,
            )
            footers = _part_footers(encoder) if spec.format is ExportFormat.PARQUET else []
        finally:
            close = getattr(encoder, "close", None)
            if close is not None:
                close()
        if result is None:
            return None
        state = None if chain is None else saved_state(*chain)
        return _Exported(result, pack_footers(footers) if footers else None, state)

    def _file_hash_before(self) -> tuple[bytes, ResumableHashes] | None:
        """The artifact's running hash through the parts before this slice's, to continue as the
        part is written, when every slice before it is hashed already (always so for a worker
        that has a task to itself and runs its slices in order); else None, and the part is
        read back once the slices before it are hashed (ADR 0018)."""
        if not resumable_hashes_available():
            return None
        slices = self.runner.task_store.list_task_slices(self.task.id)
        if first_unhashed(slices) != self.item.slice_index:
            return None
        return continued(slices, self.item.slice_index, self._head, check_head=False)

    def _head(self) -> bytes:
        if self.head is None:
            runner = self.runner
            self.head = task_head(
                self.task, self.source, runner.artifact_store, runner.encoder_factory
            )
        return self.head

    def _first_part_head(self) -> bytes | None:
        """The artifact's head for the part of the first slice (which is the file's first part
        whenever that slice has rows), so the store can keep it in front of the part and put
        the file together without copying the part; None for any other slice."""
        return self._head() if self.item.slice_index == 0 else None

    def _rows_left(self) -> int | None:
        """The task's row limit minus the rows of the slices before this one (all finished)."""
        limit = self.task.spec.limit
        if limit is None:
            return None
        slices = self.runner.task_store.list_task_slices(self.task.id)
        return limit - sum(item.rows for item in slices if item.slice_index < self.item.slice_index)

    def _open_reader(self, item: Slice, schema: pa.Schema, sort: bool) -> pa.RecordBatchReader:
        request = records_query_for(
            self.runner.source, self.task.project, self.task.spec, time_range=item.time_range
        )
        sort = sort or not may_skip_sort(request, schema)
        engine = self.counters.engine if request.query.has_sql else None
        reader = conformed(
            self.source.stream(
                replace(request, sort=sort, progress=engine), self.runner.settings.batch_rows
            ),
            schema,
        )
        batches = self._counted(reader)
        return pa.RecordBatchReader.from_batches(
            schema, batches if sort else in_time_order(batches)
        )

    def _counted(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        with reader:
            for batch in reader:
                self.counters.add_rows(batch.num_rows)
                yield batch

    @staticmethod
    def _outcome(result: _Exported) -> SliceOutcome:
        part = result.part.part
        return SliceOutcome(
            rows=result.part.rows,
            size_bytes=0 if part is None else part.size_bytes,
            sha256=None if part is None else part.sha256,
            md5=None if part is None else part.md5,
            cut=result.part.cut,
            part_footers=result.footers,
            file_hash_state=result.file_hash_state,
        )

    # --- endings ---------------------------------------------------------------------------------

    def _finish(self, outcome: SliceOutcome) -> Task | None:
        try:
            task, last = self._record_finish(outcome)
        except LeaseLostError:
            self.logger.warning("task.slice_lease_lost")
            return None
        self.logger.info(
            "task.slice_done",
            rows=outcome.rows,
            bytes=outcome.size_bytes,
            status=str(outcome.status),
        )
        if not last:  # hash the finished parts in order now, so the completer has little left
            self._file_hasher().start_after_finishing(
                self.item.slice_index, hashed=outcome.file_hash_state is not None
            )
        return task if last else None

    def _record_finish(self, outcome: SliceOutcome) -> tuple[Task, bool]:
        """Record the finished slice; while the task store is down, wait for it in place (the
        part is written: only its record is missing)."""
        store, settings = self.runner.task_store, self.runner.settings
        outage = OutageWait(
            settings.outage,
            self.runner.clock,
            should_stop=self.shutdown.is_set,
            stopping=self.shutdown,
            logger=self.logger,
        )
        while True:
            try:
                return store.finish_slice(
                    self.task.id,
                    self.item.slice_index,
                    self.worker_id,
                    outcome,
                    lease=settings.lease,
                    now=self.runner.clock.now(),
                )
            except StorageUnavailableError as error:
                if self.shutdown.is_set():
                    raise
                outage.wait_after(error)

    def _file_hasher(self) -> FileHasher:
        runner = self.runner
        return FileHasher(
            runner.task_store,
            runner.artifact_store,
            self.task,
            self._head,
            shutdown=self.shutdown,
            budget=runner.settings.lease / 4,
            logger=self.logger,
        )

    def _release(self, heartbeat: SliceHeartbeat) -> None:
        if heartbeat.lease_lost:
            self.logger.warning("task.slice_lease_lost")
            return
        try:
            self.runner.task_store.release_slice(
                self.task.id, self.item.slice_index, self.worker_id, now=self.runner.clock.now()
            )
        except LeaseLostError:
            self.logger.warning("task.slice_lease_lost")
            return
        self.logger.info("task.slice_released", cancel=heartbeat.cancel_requested)

    def _retry_or_give_up(self, error: Exception) -> Task | None:
        settings = self.runner.settings
        self.logger.warning("task.slice_failed", attempt=self.item.attempts, error=str(error))
        if self.item.attempts >= settings.slice_attempts:
            return self._give_up(f"{type(error).__name__}: {error}", error)
        now = self.runner.clock.now()
        try:
            self.runner.task_store.fail_slice(
                self.task.id,
                self.item.slice_index,
                self.worker_id,
                now=now,
                retry_at=now + settings.slice_retry_delay * self.item.attempts,
                error_message=str(error),
            )
        except LeaseLostError:
            self.logger.warning("task.slice_lease_lost")
        return None

    def _wait_for_store(self, error: Exception) -> Task | None:
        """A store is down: queue the slice again after a delay that grows with the outage,
        without counting the attempt; fail the task once the outage lasted the window."""
        policy, now = self.runner.settings.outage, self.runner.clock.now()
        since = self.item.outage_since or now
        store = store_of(error)
        if policy.is_over(since, now):
            message = policy.give_up_message(error, since, now)
            self._fail_task(StorageUnavailableError(message, store=store))
            return None
        delay = policy.delay(since, now)
        self.logger.warning(
            "task.slice_waits_for_store",
            store=store,
            outage_seconds=round((now - since).total_seconds(), 1),
            retry_in_seconds=delay.total_seconds(),
            error=str(error),
        )
        try:
            self.runner.task_store.fail_slice(
                self.task.id,
                self.item.slice_index,
                self.worker_id,
                now=now,
                retry_at=now + delay,
                error_message=f"waiting for {store} (since {since:%H:%M:%S} UTC): {error}",
                outage_since=since,
            )
        except LeaseLostError:
            self.logger.warning("task.slice_lease_lost")
        except LogsluiceError as problem:  # the task store too: the slice's lease lapses
            self.logger.warning("task.slice_release_failed", error=problem.message)
        return None

    def _give_up(self, message: str, error: Exception | None = None) -> Task | None:
        """The slice's attempts are used up: fail the task, or record the slice as missing."""
        if not self.task.spec.allow_incomplete:
            self._fail_task(error or RuntimeError(message))
            return None
        self.logger.warning("task.slice_skipped", error=message)
        missing = SliceOutcome(
            rows=0, size_bytes=0, sha256=None, md5=None, status=SliceStatus.FAILED_INCOMPLETE
        )
        return self._finish(missing)

    def _fail_task(self, error: Exception) -> None:
        finisher = self.runner.finisher_for(self.task, self.worker_id, self.logger)
        if isinstance(error, DiskFullError):
            finisher.fail_for_want_of_space(error)
        elif isinstance(error, LogsluiceError):
            finisher.fail(error.code, error.message)
        else:
            self.logger.error("task.slice_crashed", error=f"{type(error).__name__}: {error}")
            finisher.fail("internal_error", f"{type(error).__name__}: {error}")
