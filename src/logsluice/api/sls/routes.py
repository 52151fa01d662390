"""The SLS download-job endpoints (OpenAPI 2020-12-30, ROA style), for ``alibabacloud-sls20201230``.

``POST /downloadjobs`` creates a job, ``GET /downloadjobs`` lists them (``logstore``, ``offset``,
``size``), ``GET /downloadjobs/{name}`` shows one and ``DELETE /downloadjobs/{name}`` deletes it.
The project comes from the Host (see :mod:`logsluice.api.sls.access`). Create and delete answer
``{}`` (the SDK ignores those bodies); get and list always answer a JSON object.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.exceptions import HTTPException

from logsluice.api.context import ApiContext, Context
from logsluice.api.sls.access import ReadingCall, WritingCall
from logsluice.api.sls.errors import SlsRoute
from logsluice.api.sls.jobs import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    create_job,
    find_job,
    job_file,
    job_out,
    list_jobs,
)
from logsluice.api.sls.models import parse_create_body
from logsluice.services.task_progress import TaskView

EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def sls_router() -> APIRouter:
    """Return the router of the SLS dialect; its errors answer in the SLS envelope."""
    router = APIRouter(route_class=SlsRoute, tags=["sls"])
    router.add_api_route("/downloadjobs", create_download_job, methods=["POST"])
    router.add_api_route("/downloadjobs", list_download_jobs, methods=["GET"])
    router.add_api_route("/downloadjobs/{name}", get_download_job, methods=["GET"])
    router.add_api_route("/downloadjobs/{name}", delete_download_job, methods=["DELETE"])
    for path in ("/downloadjobs", "/downloadjobs/{name}"):
        router.add_api_route(
            path, method_not_allowed, methods=EVERY_METHOD, include_in_schema=False
        )
    router.add_api_route(
        "/downloadjobs/{rest:path}", no_such_api, methods=EVERY_METHOD, include_in_schema=False
    )
    return router


def method_not_allowed(request: Request) -> None:
    """Refuse, in the SLS envelope, a method that an SLS path does not have."""
    raise HTTPException(405, f"{request.method} is not allowed on {request.url.path}")


def no_such_api(request: Request) -> None:
    """Refuse, in the SLS envelope, a path under /downloadjobs that SLS does not have."""
    raise HTTPException(404, f"no such API: {request.method} {request.url.path}")


def create_download_job(call: WritingCall, context: Context) -> dict[str, Any]:
    """CreateDownloadJob: queue an export of the configured query and time range."""
    job = parse_create_body(call.body)
    create_job(context.tasks, call.project, job.to_spec())
    return {}


def list_download_jobs(
    call: ReadingCall,
    context: Context,
    request: Request,
    logstore: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    """ListDownloadJobs: one page of the project's jobs, newest first."""
    views, total = list_jobs(context.tasks, call.project, logstore or None, offset, size)
    results = [_job(context, request, view) for view in views]
    return {"total": total, "count": len(results), "results": results}


def get_download_job(
    name: str, call: ReadingCall, context: Context, request: Request
) -> dict[str, Any]:
    """GetDownloadJob: the job with its status and execution details."""
    return _job(context, request, find_job(context.tasks, call.project, name))


def delete_download_job(name: str, call: WritingCall, context: Context) -> dict[str, Any]:
    """DeleteDownloadJob: delete the job and its file (a running job is cancelled first)."""
    view = find_job(context.tasks, call.project, name)
    context.tasks.delete(call.project, view.task.id)
    return {}


def _job(context: ApiContext, request: Request, view: TaskView) -> dict[str, Any]:
    base_url = context.public_url or str(request.base_url)
    return job_out(view, job_file(context.tasks, view.task, base_url), context.clock.now())
