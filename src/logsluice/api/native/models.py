"""The request and response bodies of the native API, as pydantic models (they make the OpenAPI).

Request bodies are strict (no silent coercion of ``"30"`` to 30) and refuse unknown fields, so a
typo is a 400 rather than an ignored option.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from logsluice.api.native.fields import NAME_SCHEMA, WHOLE_NUMBER, TimeValue
from logsluice.api.native.webhook_models import WebhookIn
from logsluice.domain.catalog import DEFAULT_TIME_FIELD, Logstore, Project
from logsluice.domain.export import Order
from logsluice.services.catalog import (
    DEFAULT_RETENTION_DAYS,
    FIELD_NAME_PATTERN,
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
)
from logsluice.services.task_checks import MAX_QUERY_CHARACTERS

DEFAULT_PREVIEW_LIMIT_MAX = 10_000


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ProjectCreate(RequestBody):
    name: str = Field(
        description="2–64 characters: a-z, 0-9, '_' and '-', alphanumeric at both ends",
        json_schema_extra=NAME_SCHEMA,
    )
    description: str = Field(default="", max_length=1024)


class ProjectOut(BaseModel):
    name: str
    description: str
    created_at: datetime
    webhook_url: str | None = Field(
        default=None, description="the default webhook of the project's tasks (null: none)"
    )
    webhook_secret: str | None = Field(
        default=None,
        description="on update only: the secret made for a webhook given without one (shown once)",
    )

    @classmethod
    def of(cls, project: Project, webhook_secret: str | None = None) -> ProjectOut:
        return cls(
            name=project.name,
            description=project.description,
            created_at=project.created_at,
            webhook_url=project.webhook.url if project.webhook else None,
            webhook_secret=webhook_secret,
        )


class ProjectUpdate(RequestBody):
    webhook: WebhookIn | None = Field(
        default=None,
        description="the default webhook of the project's tasks; null removes it, absent keeps it",
    )


class ProjectList(BaseModel):
    projects: list[ProjectOut]


class LogstoreCreate(RequestBody):
    name: str = Field(
        description="2–64 characters: a-z, 0-9, '_' and '-', alphanumeric at both ends",
        json_schema_extra=NAME_SCHEMA,
    )
    retention_days: Annotated[
        int, Field(ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS), WHOLE_NUMBER
    ] = Field(
        default=DEFAULT_RETENTION_DAYS,
        description=f"days records are kept, {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}",
    )
    time_field: str = Field(
        default=DEFAULT_TIME_FIELD,
        description="the field of each record that holds its time",
        json_schema_extra={"pattern": f"^{FIELD_NAME_PATTERN.pattern}$"},
    )
    description: str = Field(default="", max_length=1024)


class LogstoreOut(BaseModel):
    project: str
    name: str
    retention_days: int
    time_field: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, logstore: Logstore) -> LogstoreOut:
        return cls(
            project=logstore.project,
            name=logstore.name,
            retention_days=logstore.retention_days,
            time_field=logstore.time_field,
            description=logstore.description,
            created_at=logstore.created_at,
        )


class LogstoreList(BaseModel):
    logstores: list[LogstoreOut]


class FieldOut(BaseModel):
    name: str
    type: str


class LogstreamOut(BaseModel):
    name: str
    records: int


class LogstreamList(BaseModel):
    logstreams: list[LogstreamOut]


class LogstoreStatsOut(BaseModel):
    records: int = Field(description="records the logstore holds")
    first_record_at: datetime | None = Field(description="time of the oldest record; null: empty")
    last_record_at: datetime | None = Field(description="time of the newest record; null: empty")


class LogstoreDetailsOut(LogstoreOut):
    fields: list[FieldOut]
    logstreams: list[LogstreamOut]


class LineErrorOut(BaseModel):
    line: int = Field(description="1-based line (JSON Lines) or element (JSON array) number")
    message: str


class IngestOut(BaseModel):
    accepted: int
    rejected: int
    errors: list[LineErrorOut] = Field(description="the first rejected lines; `rejected` has all")
    errors_truncated: bool
    past_retention: int = Field(
        default=0,
        description="stored records already older than the logstore's retention: the next "
        "retention pass deletes them",
    )
    retention_days: int = Field(default=0, description="the logstore's retention")
    replayed: bool = Field(
        default=False,
        description="true when the `Idempotency-Key` was used before for this very request: the "
        "first answer, and nothing stored again",
    )


class QueryIn(RequestBody):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    query: str = Field(
        default="*",
        max_length=MAX_QUERY_CHARACTERS,
        description="SEARCH, or SEARCH | SQL; it must parse (else 400 `invalid_query`)",
    )
    from_: TimeValue | None = Field(
        default=None,
        alias="from",
        description="RFC 3339 or an epoch number (s, ms, us or ns by magnitude); before `to`; "
        "default `to` minus the default window (15 min)",
    )
    to: TimeValue | None = Field(default=None, description="RFC 3339 or epoch; default now")
    limit: Annotated[int, Field(ge=0, le=DEFAULT_PREVIEW_LIMIT_MAX), WHOLE_NUMBER] | None = Field(
        default=None,
        description="rows to return; default 100, most LOGSLUICE_PREVIEW_LIMIT_MAX (10,000)",
    )
    order: Order = Field(
        default=Order.DESC, strict=False, description="by time: desc (newest first) or asc"
    )


class ColumnOut(BaseModel):
    name: str
    type: str


class HistogramBucketOut(BaseModel):
    start: datetime
    count: int


class QueryOut(BaseModel):
    columns: list[ColumnOut]
    rows: list[list[Any]]
    count: int = Field(description="rows the query yields over the whole range, ignoring limit")
    histogram: list[HistogramBucketOut]
    bucket_seconds: float
    from_: datetime = Field(alias="from")
    to: datetime
    elapsed_ms: float
