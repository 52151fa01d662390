"""The BLS request and response bodies, field for field as the Go SDK's structs declare them.

The Go structs (``CreateDownloadTaskRequest``, ``ListDownloadTaskRequest``, ``DownloadTask``) have
no ``omitempty``: every key arrives, ``""`` and ``0`` for unset fields, and both mean "use the
default" here. Types are checked as Go would decode them (a string where an int64 belongs is an
``InvalidParameter``); responses carry exactly the Go types (``limit``/``writtenRows`` int64,
``retry`` int, every other field a string, times as ``2006-01-02T15:04:05Z``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from logsluice.api.bls.errors import MALFORMED_JSON_FIELD
from logsluice.domain.errors import InvalidInputError
from logsluice.domain.export import ExportFormat, Order
from logsluice.domain.names import NAME_PATTERN
from logsluice.domain.sinks import SinkTarget
from logsluice.domain.tasks import TaskSpec, TaskStatus
from logsluice.domain.timerange import TimeRange, parse_time
from logsluice.ports import TaskOrderBy
from logsluice.services.task_files import artifact_file_name
from logsluice.services.task_progress import TaskView

MAX_LIMIT = 1_000_000
DEFAULT_QUERY = "match *"
DEFAULT_PAGE_SIZE = 10
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FALLBACK_TASK_NAME = "bls-download"
DIALECT_KEY = "bls"
FORMATS = {"json": ExportFormat.JSONL, "csv": ExportFormat.CSV}
FORMAT_NAMES = {ExportFormat.JSONL: "json", ExportFormat.CSV: "csv"}
ORDER_BY: dict[str, TaskOrderBy] = {
    "createdTime": "created",
    "updatedTime": "updated",
    "name": "name",
}
STATES = {
    TaskStatus.QUEUED: "WAITING",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.CANCELLING: "RUNNING",
    TaskStatus.SUCCEEDED: "SUCCESS",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "FAILED",
    TaskStatus.EXPIRED: "EXPIRED",
}


def parse_object(body: bytes) -> Mapping[str, Any]:
    """Return the JSON object of a request body. Raises InvalidInputError (MalformedJSON)."""
    try:
        data = json.loads(body or b"{}")
    except ValueError as error:
        raise InvalidInputError(
            "the request body is not valid JSON", field=MALFORMED_JSON_FIELD
        ) from error
    if not isinstance(data, dict):
        raise InvalidInputError(
            "the request body must be a JSON object", field=MALFORMED_JSON_FIELD
        )
    return data


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{field}: {message}", field=field)


def read_text(data: Mapping[str, Any], field: str) -> str:
    """Return a string field trimmed; ``""`` when absent or null. Raises InvalidInputError."""
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(field, "must be a string")
    return value.strip()


def read_integer(data: Mapping[str, Any], field: str) -> int:
    """Return an integer field; 0 when absent or null. Raises InvalidInputError."""
    value = data.get(field)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(field, "must be an integer")
    if value < 0:
        raise _invalid(field, "must not be negative")
    return value


def _choice(data: Mapping[str, Any], field: str, choices: Mapping[str, Any], default: str) -> Any:
    text = read_text(data, field) or default
    if text not in choices:
        raise _invalid(field, f"must be one of {', '.join(sorted(choices))} (or empty)")
    return choices[text]


@dataclass(frozen=True)
class CreateRequest:
    """A CreateDownloadTaskRequest with its defaults applied."""

    project: str
    spec: TaskSpec


def parse_create(body: bytes) -> CreateRequest:
    """Read a CreateDownloadTaskRequest. Raises InvalidInputError naming the field."""
    data = parse_object(body)
    logstore = read_text(data, "logStoreName")
    if not logstore:
        raise _invalid("logStoreName", "is required")
    spec = TaskSpec(
        name=task_name(read_text(data, "name")),
        display_name=read_text(data, "name"),
        logstore=logstore,
        logstream=read_text(data, "logStreamName") or None,
        query=read_text(data, "query") or DEFAULT_QUERY,
        time_range=TimeRange(
            _query_time(data, "queryStartTime"), _query_time(data, "queryEndTime")
        ),
        format=_choice(data, "format", FORMATS, "json"),
        limit=_limit(data),
        order=_choice(data, "order", {"asc": Order.ASC, "desc": Order.DESC}, "desc"),
        dialect_options=_dialect_options(read_text(data, "fileDir")),
        sink=sink_of_file_dir(read_text(data, "fileDir")),
    )
    return CreateRequest(project=read_text(data, "project"), spec=spec)


def _dialect_options(file_dir: str) -> dict[str, Any]:
    # fileDir is kept as given, to be shown back
    return {DIALECT_KEY: {"fileDir": file_dir}} if file_dir else {}


def sink_of_file_dir(file_dir: str) -> SinkTarget | None:
    """Return the sink a ``fileDir`` (``bucket/dir…``, optionally ``bos://``) names: its first
    segment is a registered sink's name or bucket, the rest a directory inside it."""
    path = file_dir.strip().removeprefix("bos://").strip("/")
    if not path:
        return None
    bucket, _, directory = path.partition("/")
    return SinkTarget(bucket, directory)


def file_dir(spec: TaskSpec) -> str:
    """Return the ``fileDir`` the task was created with (``""`` when none)."""
    return str(spec.dialect_options.get(DIALECT_KEY, {}).get("fileDir", ""))


def task_name(name: str) -> str:
    """Return a task name following logsluice's naming rule, derived from BLS's free ``name``
    (kept as the display name)."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower())[:64].strip("-_")
    return slug if NAME_PATTERN.fullmatch(slug) else FALLBACK_TASK_NAME


def _query_time(data: Mapping[str, Any], field: str) -> datetime:
    text = read_text(data, field)
    if not text:
        raise _invalid(field, "is required (UTC ISO 8601, e.g. 2006-01-02T15:04:05Z)")
    return parse_time(text, field_name=field)


def _limit(data: Mapping[str, Any]) -> int:
    limit = read_integer(data, "limit") or MAX_LIMIT
    if limit > MAX_LIMIT:
        raise _invalid("limit", f"must be at most {MAX_LIMIT} rows (0 means {MAX_LIMIT})")
    return limit


@dataclass(frozen=True)
class ListRequest:
    """A ListDownloadTaskRequest with its defaults applied (``order_by`` is BLS's name)."""

    project: str
    logstore_filter: str
    descending: bool
    order_by: str
    page_number: int
    page_size: int

    @property
    def task_order_by(self) -> TaskOrderBy:
        return ORDER_BY[self.order_by]

    def echo(self) -> dict[str, Any]:
        """Return the effective paging fields as ListDownloadTaskResult carries them."""
        return {
            "order": "desc" if self.descending else "asc",
            "orderBy": self.order_by,
            "pageNo": self.page_number,
            "pageSize": self.page_size,
        }


def parse_list(body: bytes) -> ListRequest:
    """Read a ListDownloadTaskRequest. Raises InvalidInputError naming the field."""
    data = parse_object(body)
    order_by = read_text(data, "orderBy") or "createdTime"
    if order_by not in ORDER_BY:
        raise _invalid("orderBy", f"must be one of {', '.join(ORDER_BY)} (or empty)")
    return ListRequest(
        project=read_text(data, "project"),
        logstore_filter=read_text(data, "logStoreName"),
        descending=_choice(data, "order", {"asc": False, "desc": True}, "desc"),
        order_by=order_by,
        page_number=read_integer(data, "pageNo") or 1,
        page_size=read_integer(data, "pageSize") or DEFAULT_PAGE_SIZE,
    )


def bls_uuid(task_id: str) -> str:
    """Return a task id as BLS shows it: a dashed UUID (ids that are no UUID stay as they are)."""
    try:
        return str(uuid.UUID(hex=task_id))
    except ValueError:
        return task_id


def task_id_of(bls_id: str) -> str:
    """Return the task id behind a BLS uuid (dashed or not)."""
    try:
        return uuid.UUID(bls_id).hex
    except ValueError:
        return bls_id


def _time_text(value: datetime | None) -> str:
    return value.strftime(TIME_FORMAT) if value is not None else ""


def file_name(view: TaskView) -> str:
    """Return the artifact's file name once the task has one, else ``""``."""
    finished = view.task.status in (TaskStatus.SUCCEEDED, TaskStatus.EXPIRED)
    return artifact_file_name(view.task.spec) if finished else ""


def task_out(view: TaskView) -> dict[str, Any]:
    """Return the Go ``api.DownloadTask`` of a task, every key present with its Go type."""
    task, spec = view.task, view.task.spec
    failed = task.status is TaskStatus.FAILED
    return {
        "uuid": bls_uuid(task.id),
        "name": spec.display_name or spec.name,
        "project": task.project,
        "logStoreName": spec.logstore,
        "logStreamName": spec.logstream or "",
        "query": spec.query,
        "queryStartTime": _time_text(spec.time_range.start),
        "queryEndTime": _time_text(spec.time_range.end),
        "format": FORMAT_NAMES.get(spec.format, spec.format.value),
        "limit": spec.limit or 0,
        "orderBy": "timestamp",
        "order": spec.order.value,
        "state": STATES[task.status],
        # only a FAILED task has failed: a running one may show what it waits for (ADR 0024)
        "failedCode": (task.error_code or "") if failed else "",
        "failedMessage": (task.error_message or "") if failed else "",
        "retry": max(task.attempts - 1, 0),
        "writtenRows": task.rows_written,
        "fileDir": file_dir(spec),
        "fileName": file_name(view),
        "execStartTime": _time_text(task.started_at),
        "execEndTime": _time_text(task.finished_at),
        "createdTime": _time_text(task.created_at),
        "updatedTime": _time_text(task.updated_at),
    }
