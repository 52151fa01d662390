"""The janitor: the periodic clean-up that keeps the task lifecycle moving when workers die.

Every few seconds it queues again the tasks whose lease lapsed (a killed worker; FAILED once the
attempts are used up), expires artifacts past their retention (file removed, task EXPIRED) and
purges deleted tasks once no worker runs them. Each step is a guarded update in the task store, so
any number of janitors (one per ``serve`` node) can run at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from logsluice.domain.tasks import Task
from logsluice.pipeline.protocols import ArtifactStore
from logsluice.ports import Clock, TaskStore
from logsluice.services.task_files import all_keys


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
        task_store: TaskStore,
        artifact_store: ArtifactStore,
        clock: Clock,
        *,
        max_attempts: int,
    ) -> None:
        self._task_store = task_store
        self._artifact_store = artifact_store
        self._clock = clock
        self._max_attempts = max_attempts
        self._logger = structlog.get_logger().bind(job="janitor")

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
        return JanitorReport(requeued=len(requeued), expired=len(expired), purged=len(purgeable))

    def _remove_files(self, task: Task) -> None:
        for key in all_keys(task):
            self._artifact_store.delete(key)
