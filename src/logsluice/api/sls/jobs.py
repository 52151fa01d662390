"""SLS download jobs over the task service: find by name, page by offset, and render a job.

A download job is a logsluice download task addressed by its name (unique in the project: the SLS
create refuses a name in use, and keys its task by an idempotency key derived from the name, so
two racing creates cannot both win). ``executionDetails`` is filled from the task: ``progress``
0–100, ``logCount`` rows written, ``executeTime`` seconds run, and once SUCCEEDED ``filePath`` (a
signed download link), ``fileSize`` and ``checkSum`` (upper-case hex MD5 of the file, like an OSS
ETag) from the artifact's manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from logsluice.api.sls.models import STATUS_BY_TASK_STATUS, configuration_out
from logsluice.domain.errors import (
    AlreadyExistsError,
    ArtifactGoneError,
    ConflictError,
    TaskNotFoundError,
)
from logsluice.domain.names import NAME_PATTERN, check_name
from logsluice.domain.tasks import Task, TaskDialect, TaskSpec, TaskStatus
from logsluice.services.task_progress import TaskView
from logsluice.services.tasks import TaskService

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class JobFile:
    """The downloadable file of a SUCCEEDED job."""

    url: str
    size_bytes: int
    check_sum: str


def job_not_found(name: str) -> TaskNotFoundError:
    return TaskNotFoundError(f"Job {name} does not exist.", name=name)


def find_job(tasks: TaskService, project: str, name: str) -> TaskView:
    """Return the newest task of the project named ``name``. Raises TaskNotFoundError."""
    if NAME_PATTERN.fullmatch(name) is None:
        raise job_not_found(name)
    views, _ = tasks.list(project, name=name, size=1)
    if not views:
        raise job_not_found(name)
    return views[0]


def create_job(tasks: TaskService, project: str, spec: TaskSpec) -> None:
    """Queue the job. Raises AlreadyExistsError when a task of that name exists in the project,
    else what ``TaskService.create`` raises."""
    check_name("download job", spec.name)
    duplicate = AlreadyExistsError(f"Job {spec.name} already exists.", name=spec.name)
    if tasks.list(project, name=spec.name, size=1)[1]:
        raise duplicate
    try:
        creation = tasks.create(project, spec, dialect=TaskDialect.SLS)
    except ConflictError as error:
        if error.details.get("reason") == "idempotency_key_reused":
            raise duplicate from error
        raise
    if not creation.created:
        raise duplicate


def list_jobs(
    tasks: TaskService, project: str, logstore: str | None, offset: int, size: int
) -> tuple[list[TaskView], int]:
    """Return ``size`` jobs from ``offset`` (newest first) and how many match in all."""
    first_page, skipped = divmod(offset, size)
    views, total = tasks.list(project, logstore=logstore, page=first_page + 1, size=size)
    if skipped:
        following, total = tasks.list(project, logstore=logstore, page=first_page + 2, size=size)
        views = (views + following)[skipped : skipped + size]
    return views, total


def job_file(tasks: TaskService, task: Task, base_url: str) -> JobFile | None:
    """Return the file of a SUCCEEDED task with a fresh signed link; None when there is none."""
    if task.status != TaskStatus.SUCCEEDED:
        return None
    try:
        manifest = tasks.manifest(task.project, task.id)
        link = tasks.link(task.project, task.id)
    except (ArtifactGoneError, ConflictError):
        return None  # expired or removed between the read and now
    check_sum = str(manifest.get("md5") or manifest.get("sha256") or "").upper()
    return JobFile(
        url=link.url(base_url),
        size_bytes=int(manifest.get("bytes") or 0),
        check_sum=check_sum,
    )


def job_out(view: TaskView, file: JobFile | None, now: datetime) -> dict[str, Any]:
    """Return the ``DownloadJob`` object of a task."""
    task = view.task
    return {
        "name": task.spec.name,
        "displayName": task.spec.display_name,
        "description": task.spec.description,
        "status": STATUS_BY_TASK_STATUS[task.status],
        "createTime": str(int(task.created_at.timestamp())),
        "configuration": configuration_out(task.spec),
        "executionDetails": execution_details(view, file, now),
    }


def execution_details(view: TaskView, file: JobFile | None, now: datetime) -> dict[str, Any]:
    """Return ``executionDetails``: every key present, zeros and empty strings until known."""
    task = view.task
    return {
        "progress": int(view.progress.percent),
        "filePath": file.url if file else "",
        "fileSize": file.size_bytes if file else 0,
        "executeTime": execute_seconds(task, now),
        "logCount": task.rows_written,
        "errorMessage": error_message(task),
        "checkSum": file.check_sum if file else "",
        "notice": notice(task),
    }


def execute_seconds(task: Task, now: datetime) -> int:
    """Return how many whole seconds the task has run (0 before it started)."""
    if task.started_at is None:
        return 0
    end = task.finished_at or now
    return int(max(end - task.started_at, timedelta(0)).total_seconds())


def error_message(task: Task) -> str:
    """Return why the job ended in ERROR; empty otherwise."""
    if task.status == TaskStatus.CANCELLED:
        return "the download job was cancelled"
    if task.status == TaskStatus.FAILED:
        return task.error_message or task.error_code or "the download job failed"
    return ""


def notice(task: Task) -> str:
    """Return what a client should know about a finished file: missing ranges, a row limit that
    cut it, or that it expired."""
    notes = []
    if task.missing_ranges:
        ranges = ", ".join(
            f"[{int(item.start.timestamp())}, {int(item.end.timestamp())})"
            for item in task.missing_ranges
        )
        notes.append(f"incomplete: these time ranges could not be read and are missing: {ranges}")
    if task.truncated:
        notes.append(f"truncated: the file stops at the row limit of {task.spec.limit}")
    if task.status == TaskStatus.EXPIRED:
        notes.append("expired: the file was removed after its retention period")
    return "; ".join(notes)
