"""Download-task use cases: create (validate, estimate, queue), read, cancel, retry, delete, link.

Dialect routers (native, BLS, SLS, Huawei) all come here, so every task is checked and stored the
same way: a spec that fails a check raises before anything is stored, an idempotency key returns
the first task for the same spec, and nothing a client can see points at a missing file. Running
tasks is the job of the worker and runner; serving a link's bytes is ``services.downloads``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from logsluice.domain.cancellation import Cancellation
from logsluice.domain.errors import (
    ArtifactGoneError,
    ArtifactNotFoundError,
    ConflictError,
    InvalidInputError,
    ProjectNotFoundError,
    SinkNotFoundError,
    TaskNotFoundError,
)
from logsluice.domain.tasks import (
    RUNNING_STATUSES,
    Task,
    TaskDialect,
    TaskSpec,
    TaskStatus,
)
from logsluice.pipeline.protocols import ArtifactStore
from logsluice.ports import (
    CatalogStore,
    Clock,
    RecordReader,
    TaskOrderBy,
    TaskRecords,
    WebhookStore,
)
from logsluice.services.links import LinkSigner, SignedLink
from logsluice.services.sinks import ArtifactStores, SinkService, remove_task_files
from logsluice.services.task_checks import check_spec, spec_warnings
from logsluice.services.task_estimates import (
    EncoderFactory,
    LateEstimates,
    RunningEstimates,
    TaskEstimate,
    TaskEstimator,
)
from logsluice.services.task_files import manifest_key
from logsluice.services.task_progress import (
    EstimateStatus,
    TaskView,
    estimate_status,
    progress_of,
)
from logsluice.services.webhooks import (
    NewWebhook,
    WebhookRequest,
    WebhookTargets,
    views_with_webhooks,
)

MAX_PAGE_SIZE = 500
# The last page a list may ask for: beyond any real project, and small enough that the offset
# (page - 1) * size always fits the task store's 64-bit integers.
MAX_PAGE_NUMBER = 1_000_000_000
_RETRYABLE = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})


@dataclass(frozen=True)
class TaskLimits:
    """Limits of download tasks: the largest ``limit`` (None: no cap), per project if configured."""

    max_limit: int | None = None
    max_limit_by_project: Mapping[str, int] = field(default_factory=dict)
    estimate_timeout: timedelta = timedelta(seconds=30)
    estimate_wait: timedelta = timedelta(seconds=2)
    estimate_sample_rows: int = 1000

    def max_limit_for(self, project: str) -> int | None:
        """Return the largest ``limit`` a task of ``project`` may ask for (None: no cap)."""
        return self.max_limit_by_project.get(project, self.max_limit)


@dataclass(frozen=True)
class TaskCreation:
    """What a create returns: the task (None for a dry run), the estimate, and whether the task
    is new (False when an idempotency key returned an earlier one)."""

    view: TaskView | None
    estimate: TaskEstimate
    created: bool = False
    estimate_status: EstimateStatus = "done"
    warnings: tuple[str, ...] = ()
    webhook_secret: str | None = None


class TaskService:
    """Creates and manages download tasks of every project."""

    def __init__(
        self,
        *,
        task_store: TaskRecords,
        catalog_store: CatalogStore,
        log_store: RecordReader,
        artifact_store: ArtifactStore,
        link_signer: LinkSigner,
        clock: Clock,
        encoder_factory: EncoderFactory,
        limits: TaskLimits,
        estimate_executor: Executor,
        on_queued: Callable[[], None] = lambda: None,
        webhook_store: WebhookStore | None = None,
        webhook_targets: WebhookTargets | None = None,
        artifact_stores: ArtifactStores | None = None,
        sinks: SinkService | None = None,
    ) -> None:
        """``estimate_executor`` runs the estimates a create does not wait for (a small pool).

        ``webhook_targets`` checks the webhook a create names (without it, naming one is refused);
        ``webhook_store`` shows each task's deliveries; ``artifact_stores`` finds each task's
        store (default: ``artifact_store`` for all); ``sinks`` resolves the sink a spec names
        (default: no sinks, any is unknown).
        """
        self._webhook_store = webhook_store
        self._webhook_targets = webhook_targets
        self._task_store = task_store
        self._catalog_store = catalog_store
        self._log_store = log_store
        self._artifact_stores = artifact_stores or ArtifactStores(artifact_store)
        self._sinks = sinks
        self._link_signer = link_signer
        self._clock = clock
        self._limits = limits
        self._on_queued = on_queued
        self._estimator = TaskEstimator(
            log_store,
            encoder_factory,
            timeout=limits.estimate_timeout,
            sample_rows=limits.estimate_sample_rows,
            clock=clock,
        )
        self._late_estimates = LateEstimates(self._estimator, estimate_executor)
        self.running_estimates = RunningEstimates()

    def create(
        self,
        project: str,
        spec: TaskSpec,
        *,
        dialect: TaskDialect,
        dry_run: bool = False,
        webhook: WebhookRequest | None = None,
    ) -> TaskCreation:
        """Check ``spec``, estimate its rows and bytes and, unless ``dry_run``, queue the task.

        ``dialect`` is the API the request came through; the task keeps it to show it back.
        A dry run waits for the estimate (up to its timeout). A create stores and queues the task
        first, so a worker may start it at once, then waits for its estimate at most
        ``estimate_wait``; an estimate that comes later is recorded once known. With an idempotency
        key already used for the same spec, the first task is returned. Raises ProjectNotFoundError,
        LogstoreNotFoundError, InvalidInputError (and subclasses such as InvalidQueryError with its
        position), ConflictError for a key reused with another spec. ``webhook`` is checked too
        (WebhookTargetRefusedError for a refused address); a secret made for it comes back once,
        in ``webhook_secret``.
        """
        check_spec(spec, self._limits.max_limit_for(project), self._log_store)
        new_webhook = self._prepare_webhook(webhook)
        generation = self._catalog_store.get_project(project).generation
        self._catalog_store.get_logstore(project, spec.logstore)
        spec = self._with_resolved_sink(project, spec)
        if dry_run:
            estimate = self._estimator.estimate(project, spec)
            return TaskCreation(view=None, estimate=estimate, warnings=spec_warnings(spec))
        self._estimator.check(project, spec)
        queued = Task.queued(
            project=project,
            spec=spec,
            now=self._clock.now(),
            dialect=dialect,
            project_generation=generation,
            webhook=new_webhook.target if new_webhook else None,
        )
        stored = self._task_store.create_task(queued)
        self._undo_if_project_deleted(stored)
        created = stored.id == queued.id
        if created:  # else the first task of this idempotency key has its own estimate
            structlog.get_logger().info(
                "task.created",
                task_id=stored.id,
                project=project,
                dialect=str(stored.dialect),
                logstore=spec.logstore,
            )
            self._on_queued()
            stored = self._estimate_while_queued(stored)
        view = self._view(stored)
        return TaskCreation(
            view=view,
            estimate=TaskEstimate(rows=stored.estimate_rows, bytes=stored.estimate_bytes),
            created=created,
            estimate_status=view.estimate_status,
            warnings=spec_warnings(spec),
            webhook_secret=new_webhook.created_secret if new_webhook and created else None,
        )

    def _prepare_webhook(self, webhook: WebhookRequest | None) -> NewWebhook | None:
        if webhook is None:
            return None
        if self._webhook_targets is None:
            raise InvalidInputError("webhooks are not available on this server", field="webhook")
        return self._webhook_targets.prepare(webhook.url, webhook.secret)

    def _estimate_while_queued(self, task: Task) -> Task:
        """Estimate the stored, queued ``task`` while a worker may already run it: wait for the
        estimate at most ``estimate_wait`` and return the task with it when it came (stored
        too), else the task as it is, the estimate recorded once known. A worker does not wait
        for the estimate: a task starts as soon as it is stored."""
        cancellation = Cancellation()
        pending = self._late_estimates.start(task.project, task.spec, cancellation)
        self.running_estimates.track(task.id, pending, cancellation)
        LateEstimates.when_known(pending, lambda late: self._record_estimate(task, late))
        try:
            early = LateEstimates.result_within(pending, self._limits.estimate_wait)
        except Exception as error:  # noqa: BLE001 - the task is stored; its run reports errors
            structlog.get_logger().info("task.estimate_failed", error=str(error))
            return task
        if early is None:
            return task
        self._record_estimate(task, early)  # now, not only on the estimate's thread
        return replace(task, estimate_rows=early.rows, estimate_bytes=early.bytes)

    def _record_estimate(self, task: Task, estimate: TaskEstimate) -> None:
        self._task_store.record_estimate(
            task.id,
            estimate_rows=estimate.rows,
            estimate_bytes=estimate.bytes,
            now=self._clock.now(),
        )

    def get(self, project: str, task_id: str) -> TaskView:
        """Return the task with its progress. Raises TaskNotFoundError (also another project's)."""
        return self._view(self._get_task(project, task_id))

    def views_of(self, tasks: Sequence[Task]) -> list[TaskView]:
        """Return the tasks with their progress; queue places come from one read for all."""
        queued = [task.id for task in tasks if task.status == TaskStatus.QUEUED]
        positions = self._task_store.queue_positions(queued) if queued else {}
        now = self._clock.now()
        views = [
            TaskView(task=task, progress=progress_of(task, now, positions.get(task.id)))
            for task in tasks
        ]
        return [*self._with_webhooks(views)]

    def changes(
        self, project: str, task_ids: Collection[str], updated_since: datetime, *, limit: int
    ) -> list[TaskView]:
        """Return the views of the project's visible tasks among ``task_ids`` and of up to ``limit``
        tasks updated at or after ``updated_since`` (oldest update first), in one snapshot each.

        What a live view needs each time it looks: the tasks it shows, and what changed.
        """
        watched = self._task_store.get_tasks(project, task_ids)
        changed, _ = self._task_store.list_tasks(
            project, order_by="updated", descending=False, size=limit, updated_since=updated_since
        )
        merged = {task.id: task for task in [*changed, *watched]}
        return self.views_of(list(merged.values()))

    def list(
        self,
        project: str,
        *,
        status: Collection[TaskStatus] | None = None,
        logstore: str | None = None,
        name: str | None = None,
        order_by: TaskOrderBy = "created",
        descending: bool = True,
        page: int = 1,
        size: int = 20,
    ) -> tuple[list[TaskView], int]:
        """Return one page (1-based) of the project's tasks and how many match in all.

        Raises ProjectNotFoundError, InvalidInputError for a page or size out of bounds.
        """
        self._catalog_store.get_project(project)
        if not 1 <= page <= MAX_PAGE_NUMBER or not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInputError(
                f"page must be from 1 to {MAX_PAGE_NUMBER} and size from 1 to {MAX_PAGE_SIZE}",
                field="size" if 1 <= page <= MAX_PAGE_NUMBER else "page",
            )
        tasks, total = self._task_store.list_tasks(
            project,
            status=status or None,
            logstore=logstore,
            name=name,
            order_by=order_by,
            descending=descending,
            page=page,
            size=size,
        )
        return self.views_of(tasks), total

    def cancel(self, project: str, task_id: str) -> TaskView:
        """Cancel the task: a QUEUED one at once, a RUNNING one within about a second.

        Cancelling a task already CANCELLING or CANCELLED changes nothing. Raises
        TaskNotFoundError, ConflictError for a task that finished otherwise.
        """
        cancelled = self._task_store.request_cancel(project, task_id, now=self._clock.now())
        self.running_estimates.cancel(cancelled.id)
        return self._view(cancelled)

    def retry(self, project: str, task_id: str) -> TaskView:
        """Queue a FAILED or CANCELLED task again; it resumes after its last checkpoint.

        The attempt counter starts over. Raises TaskNotFoundError, ConflictError for any other
        status.
        """
        task = self._get_task(project, task_id)
        if task.status not in _RETRYABLE:
            raise ConflictError(
                f"only FAILED or CANCELLED tasks can be retried; this one is {task.status}",
                status=str(task.status),
            )
        retried = self._task_store.transition(
            task.id,
            TaskStatus.QUEUED,
            now=self._clock.now(),
            from_statuses=_RETRYABLE,
            attempts=0,
        )
        self._on_queued()
        return self._view(retried)

    def delete(self, project: str, task_id: str) -> None:
        """Delete the task, its artifact, manifest and staging file.

        A running task is cancelled first; its files go once its worker has stopped (the janitor
        finishes the job). Raises TaskNotFoundError.
        """
        deleted = self._task_store.delete_task(project, task_id, now=self._clock.now())
        self.running_estimates.cancel(deleted.id)
        if deleted.status not in RUNNING_STATUSES:
            self.purge(deleted)

    def purge(self, task: Task) -> None:
        """Remove every file of a deleted task, then the task itself."""
        remove_task_files(self._artifact_stores, task)
        self._task_store.purge_task(task.id)

    def _with_resolved_sink(self, project: str, spec: TaskSpec) -> TaskSpec:
        """Return ``spec`` naming its registered sink. Raises SinkNotFoundError."""
        if spec.sink is None:
            return spec
        if self._sinks is None:
            raise SinkNotFoundError(
                f"no sink {spec.sink.name!r} is registered for project {project!r}",
                project=project,
                sink=spec.sink.name,
            )
        return replace(spec, sink=self._sinks.resolve(project, spec.sink))

    def link(self, project: str, task_id: str, ttl: timedelta | None = None) -> SignedLink:
        """Return a signed token for the task's artifact, valid for ``ttl`` (default 1 hour).

        Raises TaskNotFoundError, ConflictError while the task has no artifact yet,
        ArtifactGoneError once it expired, InvalidInputError for a ttl out of bounds.
        """
        task = self._finished_task(project, task_id)
        assert task.artifact_key is not None
        signed = self._link_signer.sign(project, task.id, task.artifact_key, ttl)
        direct_url = self._artifact_stores.direct_link(task, signed.expires_at)
        return replace(signed, direct_url=direct_url) if direct_url else signed

    def manifest(self, project: str, task_id: str) -> dict[str, Any]:
        """Return the manifest of a SUCCEEDED task's artifact.

        Raises TaskNotFoundError, ConflictError while the task has no artifact yet,
        ArtifactGoneError once it expired or its files were removed.
        """
        task = self._finished_task(project, task_id)
        return read_manifest(self._artifact_stores.artifact_store_for(task), task)

    def _finished_task(self, project: str, task_id: str) -> Task:
        task = self._get_task(project, task_id)
        if task.status == TaskStatus.EXPIRED:
            raise ArtifactGoneError("the task's file has expired and was removed", task_id=task.id)
        if task.status != TaskStatus.SUCCEEDED or task.artifact_key is None:
            raise ConflictError(
                f"the task is {task.status}; its file exists once it has SUCCEEDED",
                status=str(task.status),
            )
        return task

    def _current_generation(self, project: str) -> str | None:
        try:
            return self._catalog_store.get_project(project).generation
        except ProjectNotFoundError:
            return None

    def _undo_if_project_deleted(self, task: Task) -> None:
        """Delete a task stored while its project was being deleted, and refuse the create.

        The project's delete hides the tasks it finds; one stored just after that is caught here,
        since the task is stored before the project is looked at again.
        """
        if self._current_generation(task.project) == task.project_generation:
            return
        self._task_store.delete_task(task.project, task.id, now=self._clock.now())
        raise ProjectNotFoundError(f"project {task.project!r} was deleted", project=task.project)

    def _get_task(self, project: str, task_id: str) -> Task:
        """Return the task if it belongs to the project's current generation.

        A task of a deleted project of the same name is not found, even before cleanup.
        """
        task = self._task_store.get_task(project, task_id)
        generation = task.project_generation
        if generation is not None and self._current_generation(project) != generation:
            raise TaskNotFoundError(f"download task {task_id!r} does not exist", task_id=task_id)
        return task

    def _view(self, task: Task) -> TaskView:
        position = (
            self._task_store.queue_position(task) if task.status == TaskStatus.QUEUED else None
        )
        now = self._clock.now()
        view = TaskView(
            task=task,
            progress=progress_of(task, now, position),
            estimate_status=estimate_status(task, now, self._estimator.timeout),
        )
        [shown] = self._with_webhooks((view,))
        return shown

    def _with_webhooks(self, views: Sequence[TaskView]) -> Sequence[TaskView]:
        """Add to each view its webhook in force and its deliveries (one read for all)."""
        if self._webhook_store is None:
            return views
        return views_with_webhooks(views, self._webhook_store, self._catalog_store)


def read_manifest(artifact_store: ArtifactStore, task: Task) -> dict[str, Any]:
    """Return the task's manifest as a dict. Raises ArtifactGoneError when it is missing."""
    try:
        content = b"".join(artifact_store.read(manifest_key(task)))
    except ArtifactNotFoundError as error:
        raise ArtifactGoneError("the task's files are gone", task_id=task.id) from error
    manifest: dict[str, Any] = json.loads(content)
    return manifest
