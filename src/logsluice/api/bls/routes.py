"""The BLS download-task endpoints under ``/v2/logstore/download``, as the Go SDK calls them.

``POST ""`` creates (``{"uuid"}``), ``GET /{uuid}`` describes (``{"task"}``), ``GET /link/{uuid}``
links (``{"fileDir", "fileName", "link"}``), ``POST /list`` lists and ``DELETE /{uuid}`` deletes.
Every success is the envelope ``{"success": true, "code": "OK", "message": "", "result": …}``
(delete answers the documented ``{"success": true, "code": "success", "message": ""}``); the Go SDK
reads every body but delete's, and an empty body would make it fail with ``EOF``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.exceptions import HTTPException

from logsluice.api.bls.access import ReadingCall, WritingCall, reachable_projects
from logsluice.api.bls.errors import BlsRoute
from logsluice.api.bls.models import (
    ListRequest,
    bls_uuid,
    file_dir,
    file_name,
    parse_create,
    parse_list,
    task_id_of,
    task_out,
)
from logsluice.api.context import ApiContext, Context
from logsluice.domain.errors import ProjectNotFoundError, TaskNotFoundError
from logsluice.domain.tasks import TaskDialect
from logsluice.services.task_progress import TaskView
from logsluice.services.tasks import MAX_PAGE_SIZE

PREFIX = "/v2/logstore/download"
EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def bls_router() -> APIRouter:
    """Return the router of the BLS dialect; its errors answer in the BLS envelope."""
    router = APIRouter(prefix=PREFIX, route_class=BlsRoute, tags=["bls"])
    router.add_api_route("", create_download_task, methods=["POST"])
    router.add_api_route("/list", list_download_tasks, methods=["POST"])
    router.add_api_route("/link/{uuid}", get_download_task_link, methods=["GET"])
    router.add_api_route("/{uuid}", describe_download_task, methods=["GET"])
    router.add_api_route("/{uuid}", delete_download_task, methods=["DELETE"])
    for path in ("", "/list", "/link/{uuid}", "/{uuid}"):
        router.add_api_route(
            path, method_not_allowed, methods=EVERY_METHOD, include_in_schema=False
        )
    router.add_api_route("/{rest:path}", no_such_api, methods=EVERY_METHOD, include_in_schema=False)
    return router


def method_not_allowed(request: Request) -> None:
    """Refuse, in the BLS envelope, a method that a BLS path does not have."""
    raise HTTPException(405, f"{request.method} is not allowed on {request.url.path}")


def no_such_api(request: Request) -> None:
    """Refuse, in the BLS envelope, a path under the prefix that BLS does not have."""
    raise HTTPException(404, f"no such API: {request.method} {request.url.path}")


def success(result: dict[str, Any]) -> dict[str, Any]:
    """Return BLS's success envelope around ``result``."""
    return {"success": True, "code": "OK", "message": "", "result": result}


def create_download_task(call: WritingCall, context: Context) -> dict[str, Any]:
    """CreateDownloadTask: queue an export of the query over the time range."""
    request = parse_create(call.body)
    project = call.project_for(request.project)
    creation = context.tasks.create(project, request.spec, dialect=TaskDialect.BLS)
    assert creation.view is not None  # not a dry run
    return success({"uuid": bls_uuid(creation.view.task.id)})


def describe_download_task(uuid: str, call: ReadingCall, context: Context) -> dict[str, Any]:
    """DescribeDownloadTask: the task with its state and counters."""
    return success({"task": task_out(find_task(context, call, uuid))})


def get_download_task_link(
    uuid: str, call: ReadingCall, context: Context, request: Request
) -> dict[str, Any]:
    """GetDownloadTaskLink: a signed, expiring URL of the finished task's file."""
    view = find_task(context, call, uuid)
    link = context.tasks.link(view.task.project, view.task.id)
    base_url = context.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return success(
        {
            "fileDir": file_dir(view.task.spec),
            "fileName": file_name(view),
            "link": link.url(base_url),
        }
    )


def delete_download_task(uuid: str, call: WritingCall, context: Context) -> dict[str, Any]:
    """DeleteDownloadTask: delete the task and its file (a running task is cancelled first)."""
    view = find_task(context, call, uuid)
    context.tasks.delete(view.task.project, view.task.id)
    return {"success": True, "code": "success", "message": ""}


def list_download_tasks(call: ReadingCall, context: Context) -> dict[str, Any]:
    """ListDownloadTask: one page of a project's tasks, ``logStoreName`` matched as a substring."""
    request = parse_list(call.body)
    project = request.project or call.access_key.project or "default"
    views: list[TaskView] = []
    total = 0
    if call.access_key.can_reach(project) and _project_exists(context, project):
        views, total = _page(context, project, request)
    return success({**request.echo(), "total": total, "tasks": [task_out(v) for v in views]})


def find_task(context: ApiContext, call: ReadingCall | WritingCall, bls_id: str) -> TaskView:
    """Return the task behind a BLS uuid among the projects the key reaches.

    Raises TaskNotFoundError (DownloadTaskNotFound) for an unknown, deleted or unreachable task.
    """
    task_id = task_id_of(bls_id)
    for project in reachable_projects(context, call.access_key):
        try:
            return context.tasks.get(project, task_id)
        except TaskNotFoundError:
            continue
    raise TaskNotFoundError("Download task not found", task_id=bls_id)


def _project_exists(context: ApiContext, project: str) -> bool:
    try:
        context.catalog.get_project(project)
    except ProjectNotFoundError:
        return False
    return True


def _page(context: ApiContext, project: str, request: ListRequest) -> tuple[list[TaskView], int]:
    if not request.logstore_filter and request.page_size <= MAX_PAGE_SIZE:
        return context.tasks.list(
            project,
            order_by=request.task_order_by,
            descending=request.descending,
            page=request.page_number,
            size=request.page_size,
        )
    matching = [
        view
        for view in _every_task(context, project, request)
        if request.logstore_filter in view.task.spec.logstore
    ]
    start = (request.page_number - 1) * request.page_size
    return matching[start : start + request.page_size], len(matching)


def _every_task(context: ApiContext, project: str, request: ListRequest) -> list[TaskView]:
    views: list[TaskView] = []
    page = 1
    while True:
        batch, total = context.tasks.list(
            project,
            order_by=request.task_order_by,
            descending=request.descending,
            page=page,
            size=MAX_PAGE_SIZE,
        )
        views.extend(batch)
        if not batch or len(views) >= total:
            return views
        page += 1
