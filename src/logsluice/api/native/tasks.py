"""Native endpoints of download tasks: create (or estimate), list, read, cancel, retry, delete,
link and manifest, under ``/api/v1/projects/{project}/download-tasks``.

Every error goes through the native error mapper; another project's task is a 404 like a missing
one, so task ids never leak across projects.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from logsluice.api.context import Caller, Context
from logsluice.api.native.fields import (
    LinkTtl,
    NameFilter,
    PageNumber,
    PageSize,
    ProjectName,
    StatusFilter,
    TaskId,
)
from logsluice.api.native.task_models import (
    DryRunOut,
    EstimateOut,
    LinkOut,
    TaskCreate,
    TaskList,
    TaskOut,
)
from logsluice.api.responses import error_responses
from logsluice.domain.errors import InvalidInputError
from logsluice.domain.tasks import TaskDialect, TaskStatus

router = APIRouter(prefix="/api/v1/projects/{project}/download-tasks", tags=["download tasks"])


@router.post(
    "",
    status_code=201,
    response_model=TaskOut | DryRunOut,
    responses={
        200: {
            "model": TaskOut | DryRunOut,
            "description": "the earlier task of the same "
            "idempotency key, or the estimate of a dry run",
        },
        **error_responses(409, 504),
    },
)
def create_task(
    project: ProjectName,
    body: TaskCreate,
    context: Context,
    caller: Caller,
    dry_run: Annotated[bool, Query(description="only estimate rows and bytes")] = False,
) -> Response:
    """Queue a download task (201), or return the earlier task of the same idempotency key (200).

    With `dry_run` only the estimate comes back (200) and nothing is stored.
    """
    caller.require_project(project, write=True)
    creation = context.tasks.create(
        project,
        body.to_spec(),
        dialect=TaskDialect.NATIVE,
        dry_run=dry_run or body.dry_run,
        webhook=body.webhook_request(),
    )
    if creation.view is None:
        estimate = DryRunOut(
            estimate=EstimateOut.of(creation.estimate), warnings=list(creation.warnings)
        )
        return JSONResponse(estimate.model_dump(mode="json"), status_code=200)
    content = TaskOut.of(creation.view, creation.warnings, creation.webhook_secret).model_dump(
        mode="json"
    )
    return JSONResponse(content, status_code=201 if creation.created else 200)


@router.get("", response_model=TaskList)
def list_tasks(
    project: ProjectName,
    context: Context,
    caller: Caller,
    status: StatusFilter = None,
    logstore: NameFilter = None,
    name: NameFilter = None,
    order_by: Literal["created", "updated", "name"] = "created",
    order: Literal["asc", "desc"] = "desc",
    page: PageNumber = 1,
    size: PageSize = 20,
) -> TaskList:
    """List the project's tasks, newest first by default, one page at a time; `logstore` and
    `name` keep only the tasks of that logstore or name."""
    caller.require_project(project)
    views, total = context.tasks.list(
        project,
        status=_statuses(status),
        logstore=logstore,
        name=name,
        order_by=order_by,
        descending=order == "desc",
        page=page,
        size=size,
    )
    return TaskList(
        download_tasks=[TaskOut.of(view) for view in views], total=total, page=page, size=size
    )


@router.get("/{task_id}", response_model=TaskOut)
def get_task(project: ProjectName, task_id: TaskId, context: Context, caller: Caller) -> TaskOut:
    """Show a task with its progress, rate, ETA and queue position."""
    caller.require_project(project)
    return TaskOut.of(context.tasks.get(project, task_id))


@router.delete("/{task_id}", status_code=204)
def delete_task(
    project: ProjectName, task_id: TaskId, context: Context, caller: Caller
) -> Response:
    """Delete a task with its file (a running one is cancelled first)."""
    caller.require_project(project, write=True)
    context.tasks.delete(project, task_id)
    return Response(status_code=204)


@router.post("/{task_id}/cancel", response_model=TaskOut, responses=error_responses(409))
def cancel_task(project: ProjectName, task_id: TaskId, context: Context, caller: Caller) -> TaskOut:
    """Cancel a task: QUEUED at once, RUNNING within about a second (CANCELLING meanwhile)."""
    caller.require_project(project, write=True)
    return TaskOut.of(context.tasks.cancel(project, task_id))


@router.post("/{task_id}/retry", response_model=TaskOut, responses=error_responses(409))
def retry_task(project: ProjectName, task_id: TaskId, context: Context, caller: Caller) -> TaskOut:
    """Queue a FAILED or CANCELLED task again; it resumes after its last finished slice."""
    caller.require_project(project, write=True)
    return TaskOut.of(context.tasks.retry(project, task_id))


@router.get("/{task_id}/link", response_model=LinkOut, responses=error_responses(409, 410))
def link_task(
    project: ProjectName,
    task_id: TaskId,
    request: Request,
    context: Context,
    caller: Caller,
    ttl: LinkTtl = None,
) -> LinkOut:
    """Return a signed URL of the task's file and when it stops working."""
    caller.require_project(project)
    lifetime = timedelta(seconds=ttl) if ttl is not None else None
    link = context.tasks.link(project, task_id, lifetime)
    base_url = context.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return LinkOut(url=link.url(base_url), expires_at=link.expires_at)


@router.get("/{task_id}/manifest", responses=error_responses(409, 410))
def get_manifest(
    project: ProjectName, task_id: TaskId, context: Context, caller: Caller
) -> dict[str, Any]:
    """Return the manifest of the task's file: slices, rows, bytes, sha256, status."""
    caller.require_project(project)
    return context.tasks.manifest(project, task_id)


def _statuses(values: list[str] | None) -> list[TaskStatus] | None:
    if not values:
        return None
    names = [name.strip().upper() for value in values for name in value.split(",") if name.strip()]
    try:
        return [TaskStatus(name) for name in names]
    except ValueError as error:
        raise InvalidInputError(
            f"status: expected some of {', '.join(status.value for status in TaskStatus)}",
            field="status",
        ) from error
