"""``POST``/``GET /v1/cdn/statistics/export-tasks``: Huawei CDN statistics export tasks.

Create takes Huawei's ``ExportTaskVo`` and queues a download task computing the statistics (see
:mod:`logsluice.services.cdn_statistics`); the SDK ignores the create response, so the task is
found by listing (its ``task_name`` is ``<action>_<start_time>_<end_time>``). List pages the
project's export tasks newest update first, with ``download_link`` (a signed link) only once a task
is ``success``. Any other method or path under ``/v1/cdn`` is the gateway's ``APIGW.0101``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from logsluice.api.context import Context
from logsluice.api.huawei.access import ReadingCall, WritingCall
from logsluice.api.huawei.errors import UNKNOWN_API, HuaweiRoute, gateway_error
from logsluice.domain.errors import ArtifactGoneError, ConflictError, InvalidInputError
from logsluice.domain.tasks import TaskStatus
from logsluice.services.cdn_statistics import CdnStatisticsService, ExportTaskRequest
from logsluice.services.task_progress import TaskView

router = APIRouter(route_class=HuaweiRoute, tags=["huawei cdn"])
EXPORT_TASKS_PATH = "/v1/cdn/statistics/export-tasks"

STATUS_BY_TASK_STATUS = {
    TaskStatus.QUEUED: "processing",
    TaskStatus.RUNNING: "processing",
    TaskStatus.CANCELLING: "processing",
    TaskStatus.SUCCEEDED: "success",
    TaskStatus.EXPIRED: "success",
    TaskStatus.FAILED: "fail",
    TaskStatus.CANCELLED: "fail",
}


class ExportTaskVo(BaseModel):
    """Huawei's create body; every field optional, unknown fields ignored."""

    model_config = ConfigDict(extra="ignore")

    action: str | None = None
    domain_name: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    group_by: str | None = None
    interval: int | None = None
    service_area: str | None = None
    stat_type: str | None = None
    country: str | None = None
    province: str | None = None
    isp: str | None = None
    language: str | None = None


def _statistics(context: Context) -> CdnStatisticsService:
    if context.cdn_statistics is None:
        raise ConflictError("CDN statistics are not enabled on this server")
    return context.cdn_statistics


def read_export_task_request(body: bytes) -> ExportTaskRequest:
    """Return the create request in ``body`` (JSON object; empty means all defaults).

    Raises InvalidInputError (``CDN.0001``) for a body that is not such an object.
    """
    try:
        data = json.loads(body) if body.strip() else {}
        fields = ExportTaskVo.model_validate(data).model_dump()
    except (ValueError, ValidationError) as error:
        raise InvalidInputError(f"Invalid parameter: {error}", field="body") from error
    return ExportTaskRequest(**fields)


def _milliseconds(view: TaskView, field: str) -> int:
    moment = getattr(view.task, field)
    return int(moment.timestamp() * 1000)


def export_task_out(view: TaskView, download_link: str | None) -> dict[str, Any]:
    """Return Huawei's ``ExportTask`` object for a task (``download_link`` only when given)."""
    out: dict[str, Any] = {
        "task_id": view.task.id,
        "task_name": view.task.spec.name,
        "status": STATUS_BY_TASK_STATUS[view.task.status],
    }
    if download_link is not None:
        out["download_link"] = download_link
    out["create_time"] = _milliseconds(view, "created_at")
    out["update_time"] = _milliseconds(view, "updated_at")
    return out


def _download_link(statistics: CdnStatisticsService, view: TaskView, base_url: str) -> str | None:
    if view.task.status is not TaskStatus.SUCCEEDED:
        return None
    try:
        link = statistics.link(view.task.project, view.task.id)
    except (ArtifactGoneError, ConflictError):
        return None
    return link.url(base_url)


@router.post(EXPORT_TASKS_PATH)
def create_export_task(call: WritingCall, context: Context) -> JSONResponse:
    """Queue a statistics export task; answer 200 with the task (the SDK ignores the body)."""
    request = read_export_task_request(call.body)
    view = _statistics(context).create(call.project, request)
    return JSONResponse(export_task_out(view, None))


@router.get(EXPORT_TASKS_PATH)
def list_export_tasks(
    request: Request,
    call: ReadingCall,
    context: Context,
    limit: Annotated[int, Query()] = 10,
    offset: Annotated[int, Query()] = 0,
    task_id: str | None = None,
    task_name: str | None = None,
) -> JSONResponse:
    """List the key's project's export tasks, newest update first: ``{"total", "data"}``."""
    statistics = _statistics(context)
    views, total = statistics.list(
        call.project, limit=limit, offset=offset, task_id=task_id, task_name=task_name
    )
    base_url = context.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    data = [export_task_out(view, _download_link(statistics, view, base_url)) for view in views]
    return JSONResponse({"total": total, "data": data})


@router.api_route("/v1/cdn/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
def unknown_api(rest: str, request: Request) -> JSONResponse:
    """Answer any other Huawei CDN path or method like the API gateway: 404 ``APIGW.0101``."""
    status, code, message = UNKNOWN_API
    return gateway_error(status, code, message, request.state.request_id)
