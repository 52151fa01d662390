"""Live download-task events: one server-sent-events stream per page that shows tasks.

``GET /api/v1/projects/{project}/download-tasks/events?ids=a,b`` streams ``task`` events (the task
as ``GET …/download-tasks/{id}`` shows it) for the watched tasks and for any task of the project
that changes after the stream opened, and ``removed`` events for watched tasks that were deleted.
About every half second it reads the task store once, in a worker thread (no connection is held in
between), and sends only tasks whose view changed: a running task's counters, rate and ETA move
with every heartbeat, a queued task's queue position as others start. The stream ends when the
client goes away or the server shuts down; a comment line every few seconds keeps proxies from
closing an idle stream and lets the server notice a client that left.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from logsluice.api.context import ApiContext, Caller, Context
from logsluice.api.native.task_models import TaskOut
from logsluice.domain.errors import InvalidInputError
from logsluice.services.task_progress import TaskView

router = APIRouter(prefix="/api/v1/projects/{project}/download-tasks", tags=["download tasks"])

READ_INTERVAL_SECONDS = 0.5
KEEPALIVE_SECONDS = 10.0
MAX_WATCHED_TASKS = 1000
MAX_CHANGES_PER_READ = 200
RECONNECT_MILLISECONDS = 2000
# A task updated by a node whose clock runs a little behind is still seen.
_CLOCK_SLACK = timedelta(seconds=2)


class TaskWatch:
    """What one stream has sent: the rendered view of every task it watches, and a cursor."""

    def __init__(self, project: str, task_ids: list[str], started: datetime) -> None:
        self.project = project
        self._sent: dict[str, str | None] = dict.fromkeys(task_ids)
        self._cursor = started - _CLOCK_SLACK

    def read(self, context: ApiContext) -> list[str]:
        """Read the store once and return the SSE messages of what changed since the last read."""
        views = context.tasks.changes(
            self.project, list(self._sent), self._cursor, limit=MAX_CHANGES_PER_READ
        )
        messages = [message for view in views if (message := self._changed(view)) is not None]
        present = {view.task.id for view in views}
        for task_id in [task_id for task_id in self._sent if task_id not in present]:
            del self._sent[task_id]
            messages.append(_message("removed", json.dumps({"id": task_id})))
        if views:
            newest = max(view.task.updated_at for view in views)
            self._cursor = max(self._cursor, newest - _CLOCK_SLACK)
        return messages

    def _changed(self, view: TaskView) -> str | None:
        rendered = TaskOut.of(view).model_dump_json()
        if self._sent.get(view.task.id) == rendered:
            return None
        if view.task.id in self._sent or len(self._sent) < MAX_WATCHED_TASKS:
            self._sent[view.task.id] = rendered
        return _message("task", rendered)


def _message(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


def _watched_ids(ids: str | None) -> list[str]:
    task_ids = [task_id.strip() for task_id in (ids or "").split(",") if task_id.strip()]
    if len(task_ids) > MAX_WATCHED_TASKS:
        raise InvalidInputError(f"ids: at most {MAX_WATCHED_TASKS} tasks per stream", field="ids")
    return task_ids


async def _stream(request: Request, context: ApiContext, watch: TaskWatch) -> AsyncIterator[str]:
    yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
    last_write = time.monotonic()
    while not context.shutdown.is_set() and not await request.is_disconnected():
        messages = await run_in_threadpool(watch.read, context)
        if messages:
            yield "".join(messages)
            last_write = time.monotonic()
        elif time.monotonic() - last_write >= KEEPALIVE_SECONDS:
            yield ": keepalive\n\n"
            last_write = time.monotonic()
        await asyncio.sleep(READ_INTERVAL_SECONDS)


# Left out of the OpenAPI document: an endless text/event-stream that no generated request can
# read to its end (ADR 0021); docs/api.md describes it.
@router.get("/events", response_class=StreamingResponse, include_in_schema=False)
async def task_events(
    project: str,
    request: Request,
    context: Context,
    caller: Caller,
    ids: Annotated[
        str | None, Query(description="comma-separated ids of the tasks the page shows")
    ] = None,
) -> StreamingResponse:
    """Stream `task` and `removed` events (text/event-stream) for the project's tasks."""
    caller.require_project(project)
    task_ids = _watched_ids(ids)
    await run_in_threadpool(context.catalog.get_project, project)
    watch = TaskWatch(project, task_ids, context.clock.now())
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _stream(request, context, watch), media_type="text/event-stream", headers=headers
    )
