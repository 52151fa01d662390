"""How a run of a task ends: SUCCEEDED with its manifest, FAILED, CANCELLED, or queued again.

Every ending is one guarded transition in the task store, made by a worker that holds the task's
lease or one of its slices' leases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import timedelta
from typing import Any

from logsluice.domain.errors import (
    ConflictError,
    DiskFullError,
    LeaseLostError,
    LogsluiceError,
)
from logsluice.domain.tasks import SliceStatus, Task, TaskSlice, TaskStatus
from logsluice.pipeline.artifact_writer import ArtifactSummary
from logsluice.pipeline.export import ExportOutcome, ExportResult
from logsluice.pipeline.manifest import ManifestInput, ManifestSlice, manifest_bytes
from logsluice.pipeline.protocols import PublishedArtifacts
from logsluice.ports import Clock, TaskEndings
from logsluice.services.task_files import (
    all_keys,
    manifest_key,
    outer_compression,
)

COMPLETE_PERCENT = 100.0


class TaskFinisher:
    """Ends one run of one task on behalf of the worker holding its lease."""

    def __init__(
        self,
        task_store: TaskEndings,
        artifact_store: PublishedArtifacts,
        clock: Clock,
        *,
        task: Task,
        worker_id: str,
        retention: timedelta,
        logger: Any,
        on_disk_full: Callable[[], object] = lambda: None,
    ) -> None:
        self._task_store = task_store
        self._artifact_store = artifact_store
        self._clock = clock
        self._task = task
        self._worker_id = worker_id
        self._retention = retention
        self._logger = logger
        self._on_disk_full = on_disk_full

    def succeed(
        self,
        result: ExportResult,
        slices: Sequence[TaskSlice],
        compiled_query: str,
        *,
        head_bytes: int = 0,
    ) -> None:
        """Write the manifest and mark the task SUCCEEDED (CANCELLED if a cancel came first).

        ``slices`` are the task's finished slices; their parts follow ``head_bytes`` of head.
        """
        artifact = result.artifact
        assert artifact is not None, "a finished export has a published artifact"
        now = self._clock.now()
        truncated = result.outcome is ExportOutcome.TRUNCATED
        manifest = self._manifest(artifact, slices, compiled_query, truncated, head_bytes)
        self._artifact_store.put(manifest_key(self._task), manifest)
        self._end(
            TaskStatus.SUCCEEDED,
            artifact_key=artifact.key,
            expires_at=now + self._retention,
            rows_written=artifact.rows,
            bytes_written=artifact.size_bytes,
            truncated=truncated,
            progress=COMPLETE_PERCENT,
        )
        started = self._task.started_at
        self._logger.info(
            "task.succeeded",
            rows=artifact.rows,
            bytes=artifact.size_bytes,
            truncated=truncated,
            running_seconds=(now - started).total_seconds() if started else None,
        )

    def fail(self, code: str, message: str) -> None:
        """Mark the task FAILED with ``code`` and ``message``."""
        self._end(TaskStatus.FAILED, error_code=code, error_message=message)
        self._logger.warning("task.failed", code=code, error=message)

    def fail_for_want_of_space(self, error: DiskFullError) -> None:
        """Fail with ``disk_full`` after removing the task's file and checkpoints.

        The partial file would only hold space on a full disk, and a retry then starts afresh
        (a resume would need the file). The failure is recorded even when the task store shares
        the full disk: ``on_disk_full`` frees the reserve first if the store refuses.
        """
        with suppress(OSError, LogsluiceError):  # removing is best effort; failing is not
            for key in all_keys(self._task):
                self._artifact_store.delete(key)
        self.fail(error.code, error.message)
        with suppress(OSError, LogsluiceError):
            self._task_store.clear_slices(self._task.id, worker_id=self._worker_id)
        self._logger.warning("task.disk_full", path=error.details.get("path"))

    def cancel(self) -> None:
        """Mark a CANCELLING task CANCELLED (its staging file stays for a retry)."""
        self._end(TaskStatus.CANCELLED)
        self._logger.info("task.cancelled")

    def requeue(self) -> None:
        """Queue the task again (the worker is stopping); another worker resumes it."""
        self._end(TaskStatus.QUEUED)
        self._logger.info("task.requeued")

    def _end(self, target: TaskStatus, **fields: Any) -> None:
        try:
            self._transition(target, **fields)
        except DiskFullError:
            # the task store shares a full disk: give it the reserve, then record the ending
            self._on_disk_full()
            self._transition(target, **fields)

    def _transition(self, target: TaskStatus, **fields: Any) -> None:
        now = self._clock.now()
        try:
            self._task_store.transition(
                self._task.id, target, now=now, worker_id=self._worker_id, **fields
            )
        except LeaseLostError:
            self._logger.warning("task.lease_lost", target=str(target))
        except ConflictError as error:
            if target in (TaskStatus.CANCELLED, TaskStatus.FAILED):
                self._logger.warning("task.end_refused", target=str(target), error=error.message)
                return
            # A cancel arrived while the run ended: the task is CANCELLING, so honour it.
            self._logger.info("task.cancel_won", target=str(target))
            self.cancel()

    def _manifest(
        self,
        artifact: ArtifactSummary,
        slices: Sequence[TaskSlice],
        compiled_query: str,
        truncated: bool,
        head_bytes: int,
    ) -> bytes:
        spec = self._task.spec
        return manifest_bytes(
            ManifestInput(
                task_id=self._task.id,
                project=self._task.project,
                spec=spec.to_dict(),
                compiled_query=compiled_query,
                time_range=spec.time_range,
                export_format=spec.format.value,
                compression=outer_compression(spec).value,
                artifact=artifact,
                slices=_manifest_slices(slices, head_bytes),
                truncated=truncated,
                missing_ranges=[
                    item.time_range
                    for item in slices
                    if item.status == SliceStatus.FAILED_INCOMPLETE
                ],
                created_at=self._task.created_at,
                finished_at=self._clock.now(),
            )
        )


def _manifest_slices(slices: Sequence[TaskSlice], head_bytes: int) -> list[ManifestSlice]:
    """Each slice with the byte range its part landed on (empty for a slice without a part)."""
    listed: list[ManifestSlice] = []
    start_offset_bytes = head_bytes
    for item in sorted(slices, key=lambda stored: stored.slice_index):
        size_bytes = item.size_bytes if item.status is SliceStatus.DONE else 0
        listed.append(
            ManifestSlice(
                index=item.slice_index,
                time_range=item.time_range,
                rows=item.rows,
                start_offset_bytes=start_offset_bytes,
                end_offset_bytes=start_offset_bytes + size_bytes,
            )
        )
        start_offset_bytes += size_bytes
    return listed
