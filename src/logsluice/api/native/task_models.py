"""The request and response bodies of the native download-task API, as pydantic models.

The create body uses the spec's names in snake_case; it is strict (no ``"30"`` for 30) and refuses
unknown fields, so a typo is a 400 rather than an ignored option. A task reads back with its spec,
status, progress, counters, estimate, queue position and times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from logsluice.api.native.fields import NAME_SCHEMA, WHOLE_NUMBER, TimeValue
from logsluice.api.native.webhook_models import TaskWebhookOut, WebhookIn
from logsluice.domain.errors import InvalidInputError
from logsluice.domain.export import Compression, CsvOptions, ExportFormat, Order
from logsluice.domain.sinks import SinkTarget
from logsluice.domain.tasks import TERMINAL_STATUSES, TaskSpec
from logsluice.domain.timerange import TimeRange, parse_time
from logsluice.services.task_checks import (
    LARGEST_LIMIT,
    MAX_DESCRIPTION_CHARACTERS,
    MAX_DISPLAY_NAME_CHARACTERS,
    MAX_IDEMPOTENCY_KEY_CHARACTERS,
    MAX_LOGSTREAM_CHARACTERS,
    MAX_QUERY_CHARACTERS,
)
from logsluice.services.task_estimates import TaskEstimate
from logsluice.services.task_files import artifact_file_name
from logsluice.services.task_progress import TaskView
from logsluice.services.webhooks import WebhookRequest


class CsvOptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    header: bool = Field(default=True, description="write a header row")
    delimiter: str = Field(
        default=",",
        min_length=1,
        max_length=1,
        description="one character other than a double quote or a line break",
        json_schema_extra={"pattern": '^[^"\\r\\n]$'},
    )
    escape_formulas: bool = Field(
        default=True, description="prefix = + - @ cells so spreadsheets never run them"
    )


class TaskCreate(BaseModel):
    """A download task to queue. Beyond what the schema says: the query must parse, `from` must
    be before `to`, `timezone` must name an IANA zone, and `limit` may not pass
    LOGSLUICE_TASK_MAX_LIMIT; each is a 400 naming the field."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    name: str | None = Field(
        default=None,
        description="2–64 characters a-z 0-9 _ -; default `<logstore>-export`",
        json_schema_extra=NAME_SCHEMA,
    )
    display_name: str = Field(default="", max_length=MAX_DISPLAY_NAME_CHARACTERS)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_CHARACTERS)
    logstore: str = Field(json_schema_extra=NAME_SCHEMA)
    logstream: str | None = Field(
        default=None,
        max_length=MAX_LOGSTREAM_CHARACTERS,
        description="only this logstream; leave it out for every logstream",
        json_schema_extra={"pattern": "\\S"},
    )
    query: str = Field(
        default="*", max_length=MAX_QUERY_CHARACTERS, description="SEARCH, or SEARCH | SQL"
    )
    from_: TimeValue = Field(
        alias="from", description="RFC 3339 or an epoch number (s, ms, us or ns by magnitude)"
    )
    to: TimeValue = Field(description="RFC 3339 or an epoch number; after `from`")
    format: ExportFormat = Field(default=ExportFormat.CSV, strict=False)
    compression: Compression = Field(
        default=Compression.NONE, strict=False, description="Parquet uses its internal codec"
    )
    limit: Annotated[int, Field(ge=1, le=LARGEST_LIMIT), WHOLE_NUMBER] | None = Field(
        default=None, description="most rows; default: every row"
    )
    order: Order = Field(default=Order.ASC, strict=False, description="by time")
    allow_incomplete: bool = Field(
        default=False, description="finish with a notice when a slice keeps failing"
    )
    csv: CsvOptionsIn = Field(default_factory=CsvOptionsIn)
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY_CHARACTERS
    )
    timezone: str = Field(
        default="UTC", max_length=64, description="IANA time zone of rendered timestamps"
    )
    dry_run: bool = Field(default=False, description="only estimate rows and bytes")
    sink: str | None = Field(
        default=None,
        description="a sink registered for the project (its name or bucket): the file is "
        "written there; default: the server's artifact store",
    )
    sink_prefix: str = Field(default="", description="a further key prefix inside the sink")
    webhook: WebhookIn | None = Field(
        default=None,
        description="where to POST a signed event when the task ends (default: the project's)",
    )
    webhook_url: str | None = Field(
        default=None, description="flat form of `webhook.url`; not with `webhook`"
    )
    webhook_secret: str | None = Field(
        default=None, description="flat form of `webhook.secret`; needs `webhook_url`"
    )

    def webhook_request(self) -> WebhookRequest | None:
        """Return the webhook the body names, if any. Raises InvalidInputError for both forms."""
        if self.webhook is not None:
            if self.webhook_url is not None or self.webhook_secret is not None:
                raise InvalidInputError(
                    "give `webhook` or `webhook_url`, not both", field="webhook_url"
                )
            return self.webhook.request()
        if self.webhook_url is None:
            if self.webhook_secret is not None:
                raise InvalidInputError("`webhook_secret` needs `webhook_url`", field="webhook_url")
            return None
        return WebhookRequest(url=self.webhook_url, secret=self.webhook_secret)

    def to_spec(self) -> TaskSpec:
        """Return the task spec. Raises InvalidTimeRangeError for bad or inverted times."""
        time_range = TimeRange(
            parse_time(self.from_, field_name="from"), parse_time(self.to, field_name="to")
        )
        return TaskSpec(
            name=self.name if self.name is not None else f"{self.logstore}-export",
            display_name=self.display_name,
            description=self.description,
            logstore=self.logstore,
            logstream=self.logstream,
            query=self.query,
            time_range=time_range,
            format=self.format,
            compression=self.compression,
            limit=self.limit,
            order=self.order,
            allow_incomplete=self.allow_incomplete,
            csv=CsvOptions(**self.csv.model_dump()),
            idempotency_key=self.idempotency_key,
            timezone=self.timezone,
            sink=SinkTarget(self.sink, self.sink_prefix) if self.sink else None,
        )


class EstimateOut(BaseModel):
    rows: int | None = Field(description="rows the file will hold (None: not known)")
    bytes: int | None = Field(description="about how big the file will be")
    status: Literal["pending", "done", "unknown"] = Field(
        default="done",
        description="pending: still being counted (a large `| SQL` task is estimated after it "
        "was created); done; unknown: counting ran past its time limit",
    )

    @classmethod
    def of(cls, estimate: TaskEstimate) -> EstimateOut:
        status = "done" if estimate.rows is not None else "unknown"
        return cls(rows=estimate.rows, bytes=estimate.bytes, status=status)


class DryRunOut(BaseModel):
    dry_run: bool = True
    estimate: EstimateOut
    warnings: list[str] = Field(
        default_factory=list, description="what the task would do differently than asked"
    )


class ErrorOut(BaseModel):
    code: str
    message: str


class TimeRangeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime


class TaskOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    project: str
    name: str
    logstore: str
    status: str
    progress: float = Field(description="0–100")
    rows_written: int
    bytes_written: int
    rows_per_second: float | None
    eta_seconds: float | None
    queue_position: int | None = Field(description="1-based place in the queue while QUEUED")
    truncated: bool = Field(description="the limit cut rows off")
    incomplete: bool = Field(description="slices failed and were skipped (allow_incomplete)")
    missing_ranges: list[TimeRangeOut]
    error: ErrorOut | None
    estimate: EstimateOut
    attempts: int
    slices_total: int = Field(description="slices planned (0 until the first run plans them)")
    slices_done: int = Field(description="slices committed")
    dialect: str = Field(description="the API the task was created through: native, bls, …")
    file_name: str | None = Field(description="the artifact's file name once SUCCEEDED")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="when the file is deleted")
    duration_seconds: float | None
    spec: dict[str, Any]
    warnings: list[str] = Field(
        default_factory=list,
        description="on create: what the task does differently than asked (e.g. a compression "
        "Parquet ignores)",
    )
    webhook: TaskWebhookOut | None = Field(
        default=None, description="the webhook in force and its deliveries; null without one"
    )
    webhook_secret: str | None = Field(
        default=None,
        description="on create only: the secret made for a webhook given without one (shown once)",
    )

    @classmethod
    def of(
        cls, view: TaskView, warnings: tuple[str, ...] = (), webhook_secret: str | None = None
    ) -> TaskOut:
        task, progress = view.task, view.progress
        duration = (
            (task.finished_at - task.started_at).total_seconds()
            if task.finished_at and task.started_at
            else None
        )
        return cls(
            id=task.id,
            project=task.project,
            name=task.spec.name,
            logstore=task.spec.logstore,
            status=str(task.status),
            progress=progress.percent,
            rows_written=progress.rows_written,
            bytes_written=progress.bytes_written,
            rows_per_second=progress.rows_per_second,
            eta_seconds=progress.eta.total_seconds() if progress.eta is not None else None,
            queue_position=progress.queue_position,
            truncated=task.truncated,
            incomplete=task.incomplete,
            missing_ranges=[
                TimeRangeOut(from_=item.start, to=item.end) for item in task.missing_ranges
            ],
            error=_error(task.error_code, task.error_message),
            estimate=EstimateOut(
                rows=task.estimate_rows, bytes=task.estimate_bytes, status=view.estimate_status
            ),
            attempts=task.attempts,
            slices_total=task.slices_total,
            slices_done=task.slices_done,
            dialect=str(task.dialect),
            file_name=artifact_file_name(task.spec) if task.artifact_key else None,
            created_at=task.created_at,
            updated_at=task.updated_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
            expires_at=task.expires_at,
            duration_seconds=duration,
            spec=_spec_out(task.spec),
            warnings=list(warnings),
            webhook=TaskWebhookOut.of(view.webhook, task.status in TERMINAL_STATUSES),
            webhook_secret=webhook_secret,
        )


def _error(code: str | None, message: str | None) -> ErrorOut | None:
    if code is None and message is None:
        return None
    return ErrorOut(code=code or "error", message=message or "")


def _spec_out(spec: TaskSpec) -> dict[str, Any]:
    content = spec.to_dict()
    time_range = content.pop("time_range")
    content["from"], content["to"] = time_range["start"], time_range["end"]
    return content


class TaskList(BaseModel):
    download_tasks: list[TaskOut]
    total: int
    page: int
    size: int


class LinkOut(BaseModel):
    url: str
    expires_at: datetime
