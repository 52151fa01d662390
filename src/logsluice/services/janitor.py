"""The janitor: the periodic clean-up that keeps the task lifecycle moving when workers die.

Every few seconds it queues again the tasks whose lease lapsed (a killed worker; FAILED once the
attempts are used up), expires artifacts past their retention (file removed, task EXPIRED) and
purges deleted tasks once no worker runs them. Now and then it also aborts the multipart uploads
an object store still holds for a key no running task owns (a worker died while publishing), in
the artifact store and every sink. Each step is a guarded update in the task store, so
any number of janitors (one per ``serve`` node) can run at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from logsluice.domain.errors import LogsluiceError, TaskNotFoundError
from logsluice.domain.tasks import RUNNING_STATUSES, Task
from logsluice.domain.uploads import UnfinishedUpload
from logsluice.pipeline.protocols import ArtifactStore
from logsluice.ports import Clock, TaskMaintenance, UploadSweeper
from logsluice.services.sinks import ArtifactStores, remove_task_files

# An upload younger than this may belong to a publish still under way on a live worker.
UPLOAD_GRACE = timedelta(hours=1)
# How often the unfinished uploads are listed (each listing is a request per bucket).
UPLOAD_SWEEP_INTERVAL = timedelta(minutes=10)


@dataclass(frozen=True)
class JanitorReport:
    """What one janitor round did."""

    requeued: int
    expired: int
    purged: int


class Janitor:
    """One round of clean-up per :meth:`run_once`."""

    def __init__(
        self,
        task_store: TaskMaintenance,
        artifact_store: ArtifactStore,
        clock: Clock,
        *,
        max_attempts: int,
        artifact_stores: ArtifactStores | None = None,
    ) -> None:
        """``artifact_stores`` finds each task's store (default: ``artifact_store`` for all)."""
        self._task_store = task_store
        self._artifact_stores = artifact_stores or ArtifactStores(artifact_store)
        self._clock = clock
        self._max_attempts = max_attempts
        self._logger = structlog.get_logger().bind(job="janitor")
        self._next_upload_sweep: datetime | None = None

    def run_once(self) -> JanitorReport:
        """Requeue lapsed leases, expire old artifacts, purge deleted tasks; return the counts."""
        now = self._clock.now()
        requeued = self._task_store.requeue_lapsed(now=now, max_attempts=self._max_attempts)
        for task in requeued:
            self._logger.info("task.lease_lapsed", task_id=task.id, status=str(task.status))
        expired = self._task_store.expire_tasks(now=now)
        for task in expired:
            self._remove_files(task)
            self._logger.info("task.expired", task_id=task.id)
        purgeable = self._task_store.list_purgeable_tasks()
        for task in purgeable:
            self._remove_files(task)
            self._task_store.purge_task(task.id)
            self._logger.info("task.purged", task_id=task.id)
        if self._next_upload_sweep is None or now >= self._next_upload_sweep:
            self._next_upload_sweep = now + UPLOAD_SWEEP_INTERVAL
            self.abort_abandoned_uploads(now - UPLOAD_GRACE)
        return JanitorReport(requeued=len(requeued), expired=len(expired), purged=len(purgeable))

    def abort_abandoned_uploads(self, older_than: datetime) -> int:
        """Abort the unfinished uploads started before ``older_than`` whose task is gone or not
        running, in every store that has such uploads; return how many were aborted."""
        aborted = 0
        for store in self._artifact_stores.sweepable_stores():
            if not isinstance(store, UploadSweeper):
                continue
            try:
                uploads = store.unfinished_uploads(older_than)
            except LogsluiceError as error:  # one unreachable bucket does not stop the rest
                self._logger.warning("uploads.sweep_failed", error=error.message)
                continue
            for upload in uploads:
                if not self._owned(upload):
                    store.abort_upload(upload)
                    self._logger.info("upload.aborted", key=upload.key)
                    aborted += 1
        return aborted

    def _owned(self, upload: UnfinishedUpload) -> bool:
        """Whether a running task may still complete this upload."""
        owner = upload.project_and_task
        if owner is None:
            return False
        try:
            task = self._task_store.get_task(*owner)
        except TaskNotFoundError:
            return False
        return task.status in RUNNING_STATUSES

    def _remove_files(self, task: Task) -> None:
        remove_task_files(self._artifact_stores, task)
