"""Download-task states and the transitions allowed between them: the one place that knows them.

Stores apply a transition with a status guard (``UPDATE … WHERE status IN allowed_sources``) so two
workers can never both win.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from logsluice.domain.errors import ConflictError, InvalidInputError
from logsluice.domain.export import Compression, CsvOptions, ExportFormat, Order
from logsluice.domain.sinks import SinkTarget
from logsluice.domain.timerange import TimeRange


class TaskStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class TaskDialect(enum.StrEnum):
    """The API surface a task was created through (shown back; it changes nothing in the run)."""

    NATIVE = "native"
    BLS = "bls"
    SLS = "sls"
    HUAWEI = "huawei"


TERMINAL_STATUSES = frozenset(
    {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.EXPIRED}
)

ALLOWED_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED}),
    TaskStatus.RUNNING: frozenset(
        {
            TaskStatus.QUEUED,  # lease lapsed: requeued to resume after the last checkpoint
            TaskStatus.SUCCEEDED,
            TaskStatus.FAILED,
            TaskStatus.CANCELLING,
        }
    ),
    TaskStatus.CANCELLING: frozenset({TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.SUCCEEDED: frozenset({TaskStatus.EXPIRED}),
    TaskStatus.FAILED: frozenset({TaskStatus.QUEUED}),  # retry resumes
    TaskStatus.CANCELLED: frozenset({TaskStatus.QUEUED}),  # retry resumes
    TaskStatus.EXPIRED: frozenset(),
}


def sources_of(target: TaskStatus) -> frozenset[TaskStatus]:
    """Return the statuses from which ``target`` may be entered (the store's status guard)."""
    return frozenset(source for source, targets in ALLOWED_TRANSITIONS.items() if target in targets)


def check_transition(current: TaskStatus, target: TaskStatus) -> None:
    """Raise ConflictError unless ``current → target`` is allowed."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise ConflictError(
            f"a task in {current} cannot become {target}",
            current_status=str(current),
            target_status=str(target),
        )


# --- task records: the spec a client asked for, the task the store keeps, and slice checkpoints ---

RUNNING_STATUSES = frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLING})


def entry_changes(target: TaskStatus) -> dict[str, object]:
    """Return the field values entering ``target`` implies, besides ``status`` and ``updated_at``.

    Entering QUEUED or a terminal status drops the lease; QUEUED also clears a previous error and a
    cancel request so a retried task starts clean; SUCCEEDED and CANCELLED clear the error a
    running task showed while it waited for a store (ADR 0024); CANCELLING records the cancel
    request. Times such as ``finished_at`` are set by the store from the caller's clock.
    """
    changes: dict[str, object] = {}
    if target == TaskStatus.QUEUED or target in TERMINAL_STATUSES:
        changes.update(lease_owner=None, lease_expires_at=None)
    if target in (TaskStatus.SUCCEEDED, TaskStatus.CANCELLED):
        changes.update(error_code=None, error_message=None)
    if target == TaskStatus.QUEUED:
        changes.update(
            cancel_requested=False, error_code=None, error_message=None, finished_at=None
        )
    if target == TaskStatus.CANCELLING:
        changes["cancel_requested"] = True
    return changes


def finishes(target: TaskStatus) -> bool:
    """Tell whether entering ``target`` ends a run and so sets ``finished_at`` (not EXPIRED)."""
    return target in TERMINAL_STATUSES and target != TaskStatus.EXPIRED


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """What a client asked a download task to do; immutable once the task is created.

    ``timezone`` is an IANA name used to render times in the output. ``idempotency_key`` makes a
    repeated create return the first task when the rest of the spec is the same.
    ``dialect_options`` keeps JSON-ready fields a vendor dialect accepted only to show them back
    (e.g. the SLS sink's ``roleArn``); it is left out of :meth:`to_dict` while empty.
    ``sink`` names the registered sink the file is written to (None: the installation's artifact
    store); it is left out of :meth:`to_dict` while None.
    """

    name: str
    logstore: str
    query: str
    time_range: TimeRange
    format: ExportFormat
    display_name: str = ""
    description: str = ""
    logstream: str | None = None
    compression: Compression = Compression.NONE
    limit: int | None = None
    order: Order = Order.ASC
    allow_incomplete: bool = False
    csv: CsvOptions = field(default_factory=CsvOptions)
    idempotency_key: str | None = None
    timezone: str = "UTC"
    dialect_options: Mapping[str, Any] = field(default_factory=dict)
    sink: SinkTarget | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (times as RFC 3339 text, enums as their values)."""
        content: dict[str, Any] = {
            "name": self.name,
            "display_name": self.display_name,
            "description": self.description,
            "logstore": self.logstore,
            "logstream": self.logstream,
            "query": self.query,
            "time_range": time_range_to_dict(self.time_range),
            "format": self.format.value,
            "compression": self.compression.value,
            "limit": self.limit,
            "order": self.order.value,
            "allow_incomplete": self.allow_incomplete,
            "csv": dataclasses.asdict(self.csv),
            "idempotency_key": self.idempotency_key,
            "timezone": self.timezone,
        }
        if self.dialect_options:
            content["dialect_options"] = dict(self.dialect_options)
        if self.sink is not None:
            content["sink"] = self.sink.to_dict()
        return content

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSpec:
        """Build a spec from :meth:`to_dict` output; absent optional keys take their defaults.

        Raises InvalidInputError when a required key is missing or a value has the wrong form.
        """
        try:
            return cls(
                name=data["name"],
                logstore=data["logstore"],
                query=data["query"],
                time_range=time_range_from_dict(data["time_range"]),
                format=ExportFormat(data["format"]),
                **_optional_spec_fields(data),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInputError(f"malformed task spec: {error!s}") from error

    def fingerprint(self) -> str:
        """Return a stable sha256 hex digest of everything but the idempotency key."""
        content = self.to_dict()
        del content["idempotency_key"]
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _optional_spec_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    csv = data.get("csv") or {}
    return {
        "display_name": data.get("display_name", ""),
        "description": data.get("description", ""),
        "logstream": data.get("logstream"),
        "compression": Compression(data.get("compression", Compression.NONE.value)),
        "limit": data.get("limit"),
        "order": Order(data.get("order", Order.ASC.value)),
        "allow_incomplete": bool(data.get("allow_incomplete", False)),
        "csv": CsvOptions(**csv),
        "idempotency_key": data.get("idempotency_key"),
        "timezone": data.get("timezone", "UTC"),
        "dialect_options": dict(data.get("dialect_options") or {}),
        "sink": SinkTarget(**data["sink"]) if data.get("sink") else None,
    }


def time_range_to_dict(time_range: TimeRange) -> dict[str, str]:
    """Return ``{"start": …, "end": …}`` as RFC 3339 text."""
    return {"start": time_range.start.isoformat(), "end": time_range.end.isoformat()}


def time_range_from_dict(data: Mapping[str, str]) -> TimeRange:
    """Read a time range written by :func:`time_range_to_dict`."""
    return TimeRange(datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]))


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL with its signing secret, encrypted (``secret_ciphertext``): where the task
    (or its project, by default) wants the event of each ending sent."""

    url: str
    secret_ciphertext: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class Task:
    """A download task as the task store keeps it: the spec plus its lifecycle and metrics.

    ``progress`` is 0–100. ``missing_ranges`` lists the slices skipped under ``allow_incomplete``.
    ``bytes_written`` counts compressed artifact bytes. ``deleted`` tasks are invisible to clients
    and wait for the janitor to remove their artifact and purge them. ``dialect`` is the API the
    task was created through, fixed at creation. ``webhook`` is the task's own webhook target
    (its project's default applies when it has none).
    """

    id: str
    project: str
    spec: TaskSpec
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    rows_written: int = 0
    bytes_written: int = 0
    slices_total: int = 0
    slices_done: int = 0
    progress: float = 0.0
    truncated: bool = False
    incomplete: bool = False
    missing_ranges: tuple[TimeRange, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    estimate_rows: int | None = None
    estimate_bytes: int | None = None
    artifact_key: str | None = None
    expires_at: datetime | None = None
    deleted: bool = False
    dialect: TaskDialect = TaskDialect.NATIVE
    project_generation: str | None = None
    webhook: WebhookTarget | None = None

    @classmethod
    def queued(
        cls,
        *,
        project: str,
        spec: TaskSpec,
        now: datetime,
        task_id: str | None = None,
        dialect: TaskDialect = TaskDialect.NATIVE,
        project_generation: str | None = None,
        webhook: WebhookTarget | None = None,
    ) -> Task:
        """Return a new QUEUED task created at ``now`` with a fresh opaque id (uuid4 hex).

        ``project_generation`` is the generation of the project the task is made in.
        """
        return cls(
            id=task_id or uuid.uuid4().hex,
            project=project,
            project_generation=project_generation,
            spec=spec,
            status=TaskStatus.QUEUED,
            created_at=now,
            updated_at=now,
            dialect=dialect,
            webhook=webhook,
        )


class SliceStatus(enum.StrEnum):
    """Where one stored slice is: waiting for a worker, claimed by one, written, or skipped as
    missing under ``allow_incomplete`` (the last two are final)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED_INCOMPLETE = "failed_incomplete"


FINISHED_SLICE_STATUSES = frozenset({SliceStatus.DONE, SliceStatus.FAILED_INCOMPLETE})


@dataclass(frozen=True, kw_only=True)
class TaskSlice:
    """A stored slice of a task: planned once, claimed with its own lease, written as part
    ``slice_index + 1`` of the artifact (none when it holds no rows).

    ``rows`` and ``size_bytes`` are the written (or, while running, so far written) rows and part
    bytes; ``sha256``/``md5`` the finished part's checksums; ``cut`` says the task's row limit cut
    rows off in this slice; ``part_footers`` are a Parquet part's row-group footers, for the
    artifact's merged footer; ``offset_bytes`` is where the part ends in the published artifact;
    ``outage_since`` is when the slice began to wait for a store that is down (None: no outage).
    ``file_hash_state`` is the saved running sha256/md5 of the artifact's head and every part up to
    and including this slice's (ADR 0018), once some worker hashed that far.
    """

    task_id: str
    slice_index: int
    time_range: TimeRange
    status: SliceStatus
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    not_before: datetime | None = None
    waits_for_previous: bool = False
    rows: int = 0
    size_bytes: int = 0
    offset_bytes: int = 0
    sha256: str | None = None
    md5: str | None = None
    cut: bool = False
    part_footers: bytes | None = None
    error_message: str | None = None
    outage_since: datetime | None = None
    file_hash_state: bytes | None = None
    written_at: datetime

    @property
    def finished(self) -> bool:
        """Whether the slice is written or given up as missing (it runs no more)."""
        return self.status in FINISHED_SLICE_STATUSES

    @property
    def part_number(self) -> int:
        """The number of the artifact part holding this slice's bytes."""
        return self.slice_index + 1


@dataclass(frozen=True, kw_only=True)
class SliceOutcome:
    """What a worker reports when a slice is finished: its rows, part and checksums."""

    rows: int
    size_bytes: int
    sha256: str | None
    md5: str | None
    cut: bool = False
    part_footers: bytes | None = None
    status: SliceStatus = SliceStatus.DONE
    file_hash_state: bytes | None = None
    """The artifact's running hash through this part, when the worker hashed the part into the
    chain as it wrote it (ADR 0018); None leaves it to the workers that read parts back."""


@dataclass(frozen=True)
class ClaimedWork:
    """What a worker claimed: a slice of a running task, or (``slice`` None) a queued task to
    start, which means planning its slices or, when all are finished, completing its artifact."""

    task: Task
    slice: TaskSlice | None = None


@dataclass(frozen=True, kw_only=True)
class SliceCheckpoint:
    """A committed slice of a task: ``rows`` written by this slice, ``offset_bytes`` the artifact's
    compressed size after it (where a resumed run continues writing)."""

    task_id: str
    slice_index: int
    time_range: TimeRange
    rows: int
    offset_bytes: int
    status: SliceStatus
    written_at: datetime
