"""The pre-flight estimate of a download task: how many rows and about how many bytes.

Rows come from the log store's ``count`` (capped by the task's ``limit``); bytes are rows times the
size per row of a small sample encoded and compressed exactly as the task will write it. Before
that, :meth:`TaskEstimator.check` runs the query with ``limit`` 0, which compiles it against the
logstore's schema at no cost, so an unknown field fails before the task is stored. An estimate
that runs past its time budget is unknown instead of failing. :class:`LateEstimates` runs
estimates on a small thread pool, so creating a task waits only a moment for its estimate (a
``| SQL`` count may run as long as the query itself) and the rest is stored when it is known.
Each estimate's queries carry a :class:`~logsluice.domain.cancellation.Cancellation` (through an
``InterruptibleSource``, as a task run's do), so cancelling or deleting the task interrupts its
count in the engine at once; an interrupted estimate is unknown. :class:`RunningEstimates` keeps
the cancellations of the estimates still running, by task.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

from logsluice.domain.cancellation import Cancellation
from logsluice.domain.errors import QueryCancelledError, QueryTimeoutError
from logsluice.domain.export import CsvOptions, ExportFormat
from logsluice.domain.tasks import TaskSpec
from logsluice.pipeline.compressors import build_compressor
from logsluice.pipeline.protocols import Encoder
from logsluice.ports import Clock, RecordReader, RecordsQuery
from logsluice.services.task_files import outer_compression
from logsluice.services.task_interrupt import InterruptibleSource
from logsluice.services.task_queries import records_query_for

if TYPE_CHECKING:
    import pyarrow as pa


class EncoderFactory(Protocol):
    """Builds a fresh encoder for one artifact (``logsluice.adapters.artifacts.build_encoder``)."""

    def __call__(
        self,
        export_format: ExportFormat,
        *,
        time_zone: str = "UTC",
        csv_options: CsvOptions | None = None,
    ) -> Encoder:
        """Return an encoder for ``export_format`` rendering times in ``time_zone``."""
        ...


@dataclass(frozen=True)
class TaskEstimate:
    """Expected rows and bytes of a task's file (None when they could not be estimated)."""

    rows: int | None
    bytes: int | None


class TaskEstimator:
    """Estimates tasks with one log store and the encoders tasks will use."""

    def __init__(
        self,
        log_store: RecordReader,
        encoder_factory: EncoderFactory,
        *,
        timeout: timedelta,
        sample_rows: int,
        clock: Clock | None = None,
    ) -> None:
        """``timeout`` bounds the whole estimate (count and sample), measured on ``clock``."""
        self._log_store = log_store
        self._encoder_factory = encoder_factory
        self._timeout = timeout
        self._sample_rows = sample_rows
        self._clock = clock

    @property
    def timeout(self) -> timedelta:
        """The time budget of one whole estimate (count and sample together)."""
        return self._timeout

    def check(self, project: str, spec: TaskSpec) -> None:
        """Compile and bind the query against the logstore without reading rows.

        Raises InvalidQueryError when the query does not fit the logstore's schema,
        LogstoreNotFoundError.
        """
        request = records_query_for(self._log_store, project, spec, timeout=self._timeout)
        self._log_store.fetch(replace(request, limit=0))

    def estimate(
        self, project: str, spec: TaskSpec, cancellation: Cancellation | None = None
    ) -> TaskEstimate:
        """Return the estimate of ``spec`` in ``project``, within the time budget.

        Cancelling ``cancellation`` interrupts the estimate's queries (the estimate is unknown).
        Raises InvalidQueryError when the query does not fit the logstore's schema,
        LogstoreNotFoundError.
        """
        source = InterruptibleSource(self._log_store, cancellation or Cancellation())
        started = self._clock.now() if self._clock else None
        request = records_query_for(source, project, spec, timeout=self._timeout)
        try:
            counted = source.count(request)
        except (QueryTimeoutError, QueryCancelledError):
            return TaskEstimate(rows=None, bytes=None)
        rows = counted if spec.limit is None else min(counted, spec.limit)
        if rows == 0:
            return TaskEstimate(rows=0, bytes=0)
        left = self._time_left(started)
        if left <= timedelta(0):
            return TaskEstimate(rows=rows, bytes=None)
        try:
            bytes_per_row = self._bytes_per_row(source, replace(request, timeout=left), spec)
        except (QueryTimeoutError, QueryCancelledError):
            return TaskEstimate(rows=rows, bytes=None)
        return TaskEstimate(rows=rows, bytes=round(rows * bytes_per_row))

    def _time_left(self, started: datetime | None) -> timedelta:
        """Return what is left of the estimate's timeout after the count."""
        if started is None or self._clock is None:
            return self._timeout
        return self._timeout - (self._clock.now() - started)

    def _bytes_per_row(self, source: RecordReader, request: RecordsQuery, spec: TaskSpec) -> float:
        # any rows of the range tell the bytes per row: in storage order the store reads only the
        # first ones, where the first in time order would have it read every time (on a lake in an
        # object store: each file's footer and time column)
        _, sample = source.fetch(replace(request, limit=self._sample_rows, sort=False))
        if sample.num_rows == 0:
            return 0.0
        rows: int = sample.num_rows
        return encoded_size(sample, spec, self._encoder_factory) / rows


class LateEstimates:
    """Runs estimates on an executor; a caller waits a moment and takes the rest later."""

    def __init__(self, estimator: TaskEstimator, executor: Executor) -> None:
        self._estimator = estimator
        self._executor = executor

    def start(
        self, project: str, spec: TaskSpec, cancellation: Cancellation
    ) -> Future[TaskEstimate]:
        """Start estimating ``spec``; an estimate still waiting for a thread when its time budget
        has passed, or already cancelled, is not run (it is unknown). Cancelling
        ``cancellation`` interrupts it."""
        submitted = time.monotonic()
        budget = self._estimator.timeout.total_seconds()

        def run() -> TaskEstimate:
            if time.monotonic() - submitted >= budget or cancellation.cancelled:
                return TaskEstimate(rows=None, bytes=None)
            return self._estimator.estimate(project, spec, cancellation)

        return self._executor.submit(run)

    @staticmethod
    def result_within(future: Future[TaskEstimate], wait: timedelta) -> TaskEstimate | None:
        """Return the estimate if it is known within ``wait``, else None (it goes on).

        Raises what the estimate raised (InvalidQueryError …) when it ended within ``wait``.
        """
        try:
            return future.result(timeout=wait.total_seconds())
        except FutureTimeoutError:
            return None

    @staticmethod
    def when_known(future: Future[TaskEstimate], store: Callable[[TaskEstimate], None]) -> None:
        """Call ``store`` with the estimate once it is known (unknown if it failed)."""

        def done(finished: Future[TaskEstimate]) -> None:
            if finished.cancelled():  # the process is stopping
                return
            try:
                estimate = finished.result()
            except Exception as error:  # noqa: BLE001 - a late estimate that failed is unknown
                structlog.get_logger().info("task.estimate_failed", error=str(error))
                estimate = TaskEstimate(rows=None, bytes=None)
            try:
                store(estimate)
            except Exception:  # noqa: BLE001 - the task store may be gone at shutdown
                structlog.get_logger().exception("task.estimate_not_stored")

        future.add_done_callback(done)


class RunningEstimates:
    """The cancellations of the late estimates still running in this process, by task id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, Cancellation] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._running)

    def track(self, task_id: str, future: Future[TaskEstimate], cancellation: Cancellation) -> None:
        """Keep ``cancellation`` for ``task_id`` until ``future`` is done."""
        with self._lock:
            self._running[task_id] = cancellation

        def forget(_: Future[TaskEstimate]) -> None:
            with self._lock:
                if self._running.get(task_id) is cancellation:
                    del self._running[task_id]

        future.add_done_callback(forget)

    def cancel(self, task_id: str) -> None:
        """Interrupt the estimate of ``task_id`` if it is still running here."""
        with self._lock:
            cancellation = self._running.get(task_id)
        if cancellation is not None:
            cancellation.cancel()


def encoded_size(table: pa.Table, spec: TaskSpec, encoder_factory: EncoderFactory) -> int:
    """Return the bytes ``table`` takes when encoded and compressed as ``spec`` asks."""
    encoder = encoder_factory(spec.format, time_zone=spec.timezone, csv_options=spec.csv)
    compressor = build_compressor(outer_compression(spec))
    pieces = [encoder.begin(table.schema)]
    pieces.extend(encoder.encode(batch) for batch in table.to_batches())
    pieces.extend((encoder.end_slice(), encoder.end()))
    size = sum(len(compressor.compress(piece)) for piece in pieces if len(piece))
    return size + len(compressor.end_frame())
