"""The task runner: one claimed download task from its last checkpoint to a published artifact.

It plans the slices (:mod:`logsluice.services.task_plan`), streams each slice from the record source
through the encoder and compressor into the artifact writer (``pipeline.export.export_slices``),
checkpoints every finished slice in the task store, and keeps the lease alive with a heartbeat that
also hears cancel requests. A resumed task cuts the staging file back to its last checkpoint and
continues with the next slice, so the file holds exactly the rows of an uninterrupted run. A slice
that fails is retried; one that keeps failing fails the task, or, with ``allow_incomplete``, is
recorded as missing and skipped. At the end it writes the manifest and marks the task SUCCEEDED.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

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
)
from logsluice.domain.export import Order
from logsluice.domain.query_progress import QueryProgress
from logsluice.domain.tasks import SliceCheckpoint, SliceStatus, Task
from logsluice.pipeline.artifact_writer import WriterCheckpoint
from logsluice.pipeline.compressors import build_compressor
from logsluice.pipeline.export import ExportOutcome, ExportResult, ResumePoint, export_slices
from logsluice.pipeline.protocols import ArtifactStore
from logsluice.pipeline.slices import Slice
from logsluice.pipeline.time_order import OutOfTimeOrderError, in_time_order
from logsluice.ports import Clock, RecordReader, RecordsQuery, TaskStore
from logsluice.services.heartbeat import ProgressSnapshot, TaskHeartbeat
from logsluice.services.task_estimates import EncoderFactory
from logsluice.services.task_files import artifact_key, outer_compression
from logsluice.services.task_finish import TaskFinisher
from logsluice.services.task_interrupt import InterruptibleSource
from logsluice.services.task_plan import TaskPlan, conformed, pinned_schema, plan_task
from logsluice.services.task_queries import records_query_for


def _may_skip_sort(request: RecordsQuery, schema: pa.Schema) -> bool:
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


_FOR_GOOD = (
    InvalidInputError,
    ExportSchemaChangedError,
    ArtifactStagingError,
    LeaseLostError,
    DiskFullError,  # waiting does not free space; the task fails at once (ADR 0015)
)
RUNNING_PERCENT_CEILING = 99.9


@dataclass(frozen=True)
class RunnerSettings:
    """How a runner works: lease and heartbeat, slice size, batch size, retries, retention."""

    lease: timedelta = timedelta(seconds=30)
    heartbeat_interval: timedelta = timedelta(milliseconds=500)
    rows_per_slice: int = 1_000_000
    batch_rows: int = 16_384
    slice_attempts: int = 3
    slice_retry_delay: timedelta = timedelta(seconds=1)
    artifact_retention: timedelta = timedelta(days=7)


@dataclass
class _Progress:
    """Counters shared by the runner thread, the writing thread and the heartbeat thread.

    Rows are counted as batches are read (capped at the limit, which cuts the last batch) and
    bytes as they are written, so both move between checkpoints. The percent is the larger of the
    rows' share of the expected rows, the finished slices' share (the same floor the task store
    keeps at each checkpoint) and, for a ``| SQL`` task, how far the engine says its query is;
    below 100 until the task is done, so the progress clients see never goes back.
    """

    expected_rows: int | None = None
    limit: int | None = None
    slices_total: int = 0
    slices_done: int = 0
    rows_done: int = 0
    rows_in_slice: int = 0
    bytes_done: int = 0
    bytes_so_far: int = 0
    # how far the engine is with a | SQL task's query (one slice, no rows until it is done)
    engine: QueryProgress = field(default_factory=QueryProgress, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> ProgressSnapshot:
        engine_percent = self.engine.percent()
        with self.lock:
            rows = self.rows_done + self.rows_in_slice
            if self.limit is not None:
                rows = min(rows, self.limit)
            percent = 100.0 * self.slices_done / max(self.slices_total, 1)
            if self.expected_rows:
                percent = max(percent, 100.0 * rows / self.expected_rows)
            if engine_percent is not None:
                percent = max(percent, engine_percent)
            return ProgressSnapshot(
                progress=round(min(percent, RUNNING_PERCENT_CEILING), 1),
                rows_written=rows,
                bytes_written=max(self.bytes_done, self.bytes_so_far),
                slices_total=self.slices_total,
            )

    def add_rows(self, rows: int) -> None:
        with self.lock:
            self.rows_in_slice += rows

    def set_bytes(self, offset_bytes: int) -> None:
        with self.lock:
            self.bytes_so_far = offset_bytes

    def checkpoint(self, checkpoints: list[SliceCheckpoint]) -> None:
        """Count what the checkpoints hold; what a stopped or failed slice read is dropped."""
        with self.lock:
            self.slices_done = len(checkpoints)
            self.rows_done = sum(item.rows for item in checkpoints)
            self.rows_in_slice = 0
            self.bytes_done = checkpoints[-1].offset_bytes if checkpoints else 0
            self.bytes_so_far = self.bytes_done


class TaskRunner:
    """Runs claimed tasks; one instance serves every worker thread of a process."""

    def __init__(
        self,
        *,
        task_store: TaskStore,
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

    def run(self, task: Task, worker_id: str, shutdown: threading.Event) -> None:
        """Run ``task`` (claimed RUNNING by ``worker_id``) until it ends or must stop.

        Never raises for the task's own failures: they end the task FAILED. ``shutdown`` set by
        the worker stops the run between batches and queues the task again for another worker.
        """
        runner = self
        if self.artifact_store_for is not None:  # the task's own store: its sink's bucket
            runner = copy.copy(self)
            try:
                runner.artifact_store = self.artifact_store_for(task)
            except LogsluiceError as error:  # its sink was removed since: fail now
                _TaskRun(self, task, worker_id, shutdown).fail(error)
                return
        _TaskRun(runner, task, worker_id, shutdown).execute()


class _TaskRun:
    """One run of one task by one worker."""

    def __init__(
        self, runner: TaskRunner, task: Task, worker_id: str, shutdown: threading.Event
    ) -> None:
        self.runner = runner
        self.task = task
        self.worker_id = worker_id
        self.shutdown = shutdown
        self.progress = _Progress()
        self.checkpoints: list[SliceCheckpoint] = []
        self.failures: dict[int, int] = {}
        self.sort_slices = False  # set once a slice read in storage order was not in time order
        self.cancellation = Cancellation()
        self.source = InterruptibleSource(runner.source, self.cancellation)
        self.logger = structlog.get_logger().bind(
            task_id=task.id, worker_id=worker_id, project=task.project
        )
        self.finisher = TaskFinisher(
            runner.task_store,
            runner.artifact_store,
            runner.clock,
            task=task,
            worker_id=worker_id,
            retention=runner.settings.artifact_retention,
            logger=self.logger,
            on_disk_full=runner.on_disk_full,
        )

    def execute(self) -> None:
        settings = self.runner.settings
        heartbeat = TaskHeartbeat(
            self.runner.task_store,
            self.runner.clock,
            task_id=self.task.id,
            worker_id=self.worker_id,
            lease=settings.lease,
            interval=settings.heartbeat_interval,
            snapshot=self.progress.snapshot,
            shutdown=self.shutdown,
            cancellation=self.cancellation,
        )
        self.logger.info(
            "task.started", attempt=self.task.attempts, queued_seconds=self._queued_seconds()
        )
        with heartbeat:
            self._execute(heartbeat)

    def _queued_seconds(self) -> float | None:
        """Seconds from creation to this first start (None on later attempts: metrics' wait)."""
        task = self.task
        if task.attempts != 1 or task.started_at is None:
            return None
        return max((task.started_at - task.created_at).total_seconds(), 0.0)

    def _execute(self, heartbeat: TaskHeartbeat) -> None:
        try:
            result = self._export(heartbeat)
        except LeaseLostError:
            self.logger.warning("task.lease_lost")
            return
        except Exception as error:  # noqa: BLE001 - failed (reported) or interrupted (stopped)
            if not self.cancellation.cancelled:
                self.fail(error)
                return
            # an interrupted query fails in its own way (engine, socket): the run was told to stop
            self.logger.info("task.interrupted", error=str(error))
            result = ExportResult(ExportOutcome.STOPPED, 0)
        self._conclude(result, heartbeat)

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

    def _conclude(self, result: ExportResult, heartbeat: TaskHeartbeat) -> None:
        if result.outcome is not ExportOutcome.STOPPED:
            checkpoints = self.runner.task_store.list_slices(self.task.id)
            self.finisher.succeed(result, checkpoints, self._compiled_query())
        elif heartbeat.lease_lost:
            self.logger.warning("task.lease_lost")
        elif heartbeat.cancel_requested:
            self.finisher.cancel()
        else:
            self.finisher.requeue()

    def _compiled_query(self) -> str:
        request = records_query_for(self.runner.source, self.task.project, self.task.spec)
        try:
            return self.source.compile_query(request)
        except LogsluiceError:
            return request.query.text  # the schema moved on since; the query text still says it

    def _export(self, heartbeat: TaskHeartbeat) -> ExportResult:
        runner = self.runner
        self.checkpoints = runner.task_store.list_slices(self.task.id)
        plan = plan_task(
            self.task,
            self.source,
            self.checkpoints,
            rows_per_slice=runner.settings.rows_per_slice,
        )
        with self.progress.lock:
            self.progress.expected_rows = plan.expected_rows
            self.progress.limit = self.task.spec.limit
            self.progress.slices_total = len(plan.slices)
        self.progress.checkpoint(self.checkpoints)
        heartbeat.beat()
        schema = pinned_schema(self.task, self.source, runner.artifact_store)
        published = self.finisher.already_published(plan, self.checkpoints)
        if published is not None:
            return self._settle_truncation(published)
        return self._settle_truncation(self._export_with_retries(plan, schema, heartbeat))

    def _settle_truncation(self, result: ExportResult) -> ExportResult:
        """Ask the source whether the limit cut rows off when this run cannot tell.

        A run that resumed after the limit was reached (its predecessor died after the last
        checkpoint) has not seen the rows past the limit, so "complete" is only a guess.
        """
        limit = self.task.spec.limit
        if result.outcome is not ExportOutcome.COMPLETE or limit is None or result.rows < limit:
            return result
        request = records_query_for(self.source, self.task.project, self.task.spec)
        if self.source.count(request) <= limit:
            return result
        return replace(result, outcome=ExportOutcome.TRUNCATED)

    def _export_with_retries(
        self, plan: TaskPlan, schema: pa.Schema, heartbeat: TaskHeartbeat
    ) -> ExportResult:
        while True:
            position = len(self.checkpoints)
            self.progress.checkpoint(self.checkpoints)  # a retried slice is counted afresh
            try:
                return self._export_from(plan.slices[position:], schema, heartbeat)
            except OutOfTimeOrderError as error:
                # the store's own order was not time order here: from now on every slice is sorted
                self.logger.info("task.sorting_slices", slice_index=position, reason=str(error))
                self.sort_slices = True
            except _FOR_GOOD:
                raise
            except Exception as error:
                if self.cancellation.cancelled or not self._recover(plan.slices[position], error):
                    raise

    def _recover(self, failed: Slice, error: Exception) -> bool:
        """Decide after a slice failed: True to go on (retry or skip it), False to fail the task."""
        attempts = self.failures.get(failed.index, 0) + 1
        self.failures[failed.index] = attempts
        self.logger.warning(
            "task.slice_failed", slice_index=failed.index, attempt=attempts, error=str(error)
        )
        if attempts < self.runner.settings.slice_attempts:
            delay = self.runner.settings.slice_retry_delay * attempts
            self.shutdown.wait(delay.total_seconds())
            return True  # the next run stops at once if a cancel or shutdown came meanwhile
        if not self.task.spec.allow_incomplete:
            return False
        self._record(failed, rows=0, status=SliceStatus.FAILED_INCOMPLETE)
        self.logger.warning("task.slice_skipped", slice_index=failed.index)
        return True

    def _export_from(
        self, slices: list[Slice], schema: pa.Schema, heartbeat: TaskHeartbeat
    ) -> ExportResult:
        runner, spec = self.runner, self.task.spec
        return export_slices(
            slices,
            lambda item: self._open_reader(item, schema),
            runner.encoder_factory(spec.format, time_zone=spec.timezone, csv_options=spec.csv),
            build_compressor(outer_compression(spec)),
            runner.artifact_store,
            artifact_key(self.task),
            on_slice_done=lambda result: self._record(
                result.slice, rows=result.rows, offset_bytes=result.end_offset_bytes
            ),
            on_bytes_written=self.progress.set_bytes,
            should_stop=heartbeat.should_stop,
            limit=spec.limit,
            resume_from=self._resume_point(),
        )

    def _resume_point(self) -> ResumePoint | None:
        if not self.checkpoints or self.checkpoints[-1].offset_bytes == 0:
            return None  # nothing kept yet: start the file afresh
        rows = sum(item.rows for item in self.checkpoints)
        offset_bytes = self.checkpoints[-1].offset_bytes
        return ResumePoint(next_position=0, checkpoint=WriterCheckpoint(offset_bytes, rows))

    def _open_reader(self, item: Slice, schema: pa.Schema) -> pa.RecordBatchReader:
        """Stream the slice; unsorted and checked (see ``_may_skip_sort``) until that fails once."""
        request = records_query_for(
            self.runner.source, self.task.project, self.task.spec, time_range=item.time_range
        )
        sort = self.sort_slices or not _may_skip_sort(request, schema)
        engine = self.progress.engine if request.query.has_sql else None
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
                self.progress.add_rows(batch.num_rows)
                yield batch

    def _record(
        self,
        item: Slice,
        *,
        rows: int,
        offset_bytes: int | None = None,
        status: SliceStatus = SliceStatus.DONE,
    ) -> None:
        previous_offset = self.checkpoints[-1].offset_bytes if self.checkpoints else 0
        checkpoint = SliceCheckpoint(
            task_id=self.task.id,
            slice_index=item.index,
            time_range=item.time_range,
            rows=rows,
            offset_bytes=previous_offset if offset_bytes is None else offset_bytes,
            status=status,
            written_at=self.runner.clock.now(),
        )
        self.runner.task_store.record_slice(checkpoint, worker_id=self.worker_id)
        self.checkpoints.append(checkpoint)
        self.progress.checkpoint(self.checkpoints)
        self.logger.info("task.slice_done", slice_index=item.index, rows=rows, status=str(status))
