"""Translation between the task records of ``logsluice.domain.tasks`` and rows of the task tables.

The spec is kept as JSON text (with ``name``, ``logstore`` and the idempotency key copied into
columns for filtering); ``missing_ranges`` is a JSON list of ``{"start", "end"}`` objects.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row

from logsluice.domain.errors import InvalidInputError
from logsluice.domain.tasks import (
    SliceStatus,
    Task,
    TaskDialect,
    TaskSlice,
    TaskSpec,
    TaskStatus,
    WebhookTarget,
    time_range_from_dict,
    time_range_to_dict,
)
from logsluice.domain.timerange import TimeRange

# Task fields a transition may set; the rest are fixed at creation or owned by the store.
UPDATABLE_FIELDS = frozenset(field.name for field in dataclasses.fields(Task)) - {
    "id",
    "project",
    "project_generation",
    "spec",
    "status",
    "created_at",
    "updated_at",
    "dialect",
    "webhook",
}


def encode_missing_ranges(ranges: tuple[TimeRange, ...] | list[TimeRange]) -> str:
    """Return the JSON text stored in the ``missing_ranges`` column."""
    return json.dumps([time_range_to_dict(time_range) for time_range in ranges])


def decode_missing_ranges(text: str) -> tuple[TimeRange, ...]:
    """Read the ``missing_ranges`` column."""
    return tuple(time_range_from_dict(item) for item in json.loads(text))


def task_to_row(task: Task) -> dict[str, Any]:
    """Return the column values of a new task row."""
    values = {name: getattr(task, name) for name in UPDATABLE_FIELDS}
    values.update(
        id=task.id,
        project=task.project,
        project_generation=task.project_generation,
        name=task.spec.name,
        logstore=task.spec.logstore,
        idempotency_key=task.spec.idempotency_key,
        spec_fingerprint=task.spec.fingerprint(),
        spec=json.dumps(task.spec.to_dict(), sort_keys=True),
        status=task.status.value,
        dialect=task.dialect.value,
        created_at=task.created_at,
        updated_at=task.updated_at,
        missing_ranges=encode_missing_ranges(task.missing_ranges),
        webhook_url=task.webhook.url if task.webhook else None,
        webhook_secret_ciphertext=task.webhook.secret_ciphertext if task.webhook else None,
    )
    return values


def field_values(fields: Mapping[str, object]) -> dict[str, object]:
    """Return column values for Task ``fields`` given to a transition.

    Raises InvalidInputError for a name that is not an updatable Task field.
    """
    unknown = sorted(set(fields) - UPDATABLE_FIELDS)
    if unknown:
        raise InvalidInputError(f"not updatable task fields: {', '.join(unknown)}", fields=unknown)
    values = dict(fields)
    if "missing_ranges" in values:
        ranges = values["missing_ranges"]
        if not isinstance(ranges, tuple | list):
            raise InvalidInputError("missing_ranges must be a sequence of time ranges")
        values["missing_ranges"] = encode_missing_ranges(ranges)
    return values


def task_from_row(row: Row[Any]) -> Task:
    """Return the Task stored in ``row`` (a full row of the ``tasks`` table)."""
    values = row._mapping
    fixed = {"spec", "missing_ranges", "status"}
    return Task(
        id=values["id"],
        project=values["project"],
        project_generation=values["project_generation"],
        spec=TaskSpec.from_dict(json.loads(values["spec"])),
        status=TaskStatus(values["status"]),
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        missing_ranges=decode_missing_ranges(values["missing_ranges"]),
        dialect=TaskDialect(values["dialect"]),
        webhook=webhook_target(values["webhook_url"], values["webhook_secret_ciphertext"]),
        **{name: values[name] for name in UPDATABLE_FIELDS - fixed},
    )


def webhook_target(url: str | None, secret_ciphertext: str | None) -> WebhookTarget | None:
    """Return the webhook target stored in a pair of ``webhook_*`` columns (None: no webhook)."""
    if url is None:
        return None
    return WebhookTarget(url=url, secret_ciphertext=secret_ciphertext or "")


_SLICE_FIELDS = (
    "task_id",
    "slice_index",
    "attempts",
    "lease_owner",
    "lease_expires_at",
    "not_before",
    "waits_for_previous",
    "rows",
    "size_bytes",
    "offset_bytes",
    "sha256",
    "md5",
    "cut",
    "part_footers",
    "error_message",
    "file_hash_state",
    "written_at",
    "outage_since",
)


def slice_to_row(item: TaskSlice) -> dict[str, Any]:
    """Return the column values of a stored slice."""
    values = {name: getattr(item, name) for name in _SLICE_FIELDS}
    return values | {
        "start_at": item.time_range.start,
        "end_at": item.time_range.end,
        "status": item.status.value,
    }


def slice_from_row(row: Row[Any]) -> TaskSlice:
    """Return the TaskSlice stored in ``row``."""
    values = row._mapping
    return TaskSlice(
        time_range=TimeRange(values["start_at"], values["end_at"]),
        status=SliceStatus(values["status"]),
        **{name: values[name] for name in _SLICE_FIELDS},
    )
