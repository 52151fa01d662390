"""The SLS download-job body (``CreateDownloadJob``) and the ``DownloadJob`` object, on the wire.

Names and JSON types are those of ``alibabacloud-sls20201230`` (OpenAPI 2020-12-30): camelCase,
times in Unix seconds, ``createTime`` a string. ``sink.contentType`` ``csv``/``json`` become the
CSV and JSON Lines formats; ``sink.compressionType`` is ``none``, ``gzip``, ``zstd`` or ``lz4``.
A sink with a ``bucket`` names a sink registered for the project (by name or bucket): the file is
written there, under the registered prefix and the job's ``prefix``; without a bucket it goes to
logsluice's own artifact store. ``roleArn`` and ``powerSql`` are kept only to be shown back as
given (see ``docs/dialects/sls.md``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from logsluice.domain.errors import InvalidInputError
from logsluice.domain.export import Compression, ExportFormat
from logsluice.domain.sinks import SinkTarget
from logsluice.domain.tasks import TaskSpec, TaskStatus
from logsluice.domain.timerange import TimeRange

SINK_TYPE = "AliyunOSS"
DIALECT_KEY = "sls"
IDEMPOTENCY_PREFIX = "sls-download-job:"
LATEST_EPOCH_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_SINK_TEXT_CHARACTERS = 1024
FORMAT_BY_CONTENT_TYPE = {"csv": ExportFormat.CSV, "json": ExportFormat.JSONL}
CONTENT_TYPE_BY_FORMAT = {
    ExportFormat.CSV: "csv",
    ExportFormat.JSONL: "json",
    ExportFormat.PARQUET: "parquet",
}
STATUS_BY_TASK_STATUS = {
    TaskStatus.QUEUED: "STARTING",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.CANCELLING: "RUNNING",
    TaskStatus.SUCCEEDED: "SUCCEEDED",
    TaskStatus.FAILED: "ERROR",
    TaskStatus.CANCELLED: "ERROR",
    TaskStatus.EXPIRED: "SUCCEEDED",
}


class SinkIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    content_type: str = Field(alias="contentType")
    compression_type: str = Field(alias="compressionType")
    bucket: str | None = Field(default=None, max_length=MAX_SINK_TEXT_CHARACTERS)
    prefix: str | None = Field(default=None, max_length=MAX_SINK_TEXT_CHARACTERS)
    role_arn: str | None = Field(default=None, alias="roleArn", max_length=MAX_SINK_TEXT_CHARACTERS)

    def echoed(self) -> dict[str, str]:
        """Return the fields kept only to be shown back, as sent."""
        given = {"bucket": self.bucket, "prefix": self.prefix, "roleArn": self.role_arn}
        return {name: value for name, value in given.items() if value is not None}


class ConfigurationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    logstore: str
    from_time: int = Field(alias="fromTime", ge=0, le=LATEST_EPOCH_SECONDS)
    to_time: int = Field(alias="toTime", ge=0, le=LATEST_EPOCH_SECONDS)
    query: str
    allow_in_complete: bool = Field(alias="allowInComplete")
    power_sql: bool = Field(default=False, alias="powerSql")
    sink: SinkIn


class DownloadJobIn(BaseModel):
    """The ``CreateDownloadJob`` body."""

    model_config = ConfigDict(extra="ignore")

    name: str
    display_name: str = Field(alias="displayName")
    description: str = ""
    configuration: ConfigurationIn

    def to_spec(self) -> TaskSpec:
        """Return the task spec. Raises InvalidInputError for a sink logsluice cannot write."""
        configuration = self.configuration
        sink = configuration.sink
        return TaskSpec(
            name=self.name,
            display_name=self.display_name,
            description=self.description,
            logstore=configuration.logstore,
            query=configuration.query,
            time_range=TimeRange(
                _from_epoch(configuration.from_time), _from_epoch(configuration.to_time)
            ),
            format=export_format(sink),
            compression=compression(sink),
            allow_incomplete=configuration.allow_in_complete,
            idempotency_key=IDEMPOTENCY_PREFIX + self.name,
            dialect_options={
                DIALECT_KEY: {"powerSql": configuration.power_sql, "sink": sink.echoed()}
            },
            sink=SinkTarget(sink.bucket, sink.prefix or "") if sink.bucket else None,
        )


def parse_create_body(body: bytes) -> DownloadJobIn:
    """Read a ``CreateDownloadJob`` body.

    Raises InvalidInputError: field ``body`` for a body that is not a JSON object, else naming the
    first field missing or of the wrong type (camelCase, e.g. ``configuration.fromTime``).
    """
    try:
        content = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInputError("The body is not valid json string.", field="body") from error
    if not isinstance(content, dict):
        raise InvalidInputError("The body is not a json object.", field="body")
    try:
        return DownloadJobIn.model_validate(content)
    except ValidationError as error:
        problem = error.errors()[0]
        location = ".".join(str(part) for part in problem["loc"])
        raise InvalidInputError(
            f"{location}: {problem['msg']}", field=location, problems=len(error.errors())
        ) from error


def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def export_format(sink: SinkIn) -> ExportFormat:
    """Return the format of ``sink.contentType``. Raises InvalidInputError for another type."""
    if sink.type != SINK_TYPE:
        raise InvalidInputError(
            f"sink.type {sink.type} is not supported; it must be {SINK_TYPE}.", field="sink.type"
        )
    export = FORMAT_BY_CONTENT_TYPE.get(sink.content_type)
    if export is None:
        raise InvalidInputError(
            f"sink.contentType {sink.content_type} is not supported; use csv or json.",
            field="sink.contentType",
        )
    return export


def compression(sink: SinkIn) -> Compression:
    """Return the compression of ``sink.compressionType``. Raises InvalidInputError otherwise."""
    try:
        return Compression(sink.compression_type)
    except ValueError as error:
        raise InvalidInputError(
            f"sink.compressionType {sink.compression_type} is not supported; "
            "use none, gzip, zstd or lz4.",
            field="sink.compressionType",
        ) from error


def configuration_out(spec: TaskSpec) -> dict[str, Any]:
    """Return the job's ``configuration`` as the SDK reads it (the sink's extras shown back)."""
    options = spec.dialect_options.get(DIALECT_KEY, {})
    sink = {
        "type": SINK_TYPE,
        "contentType": CONTENT_TYPE_BY_FORMAT[spec.format],
        "compressionType": spec.compression.value,
        **options.get("sink", {}),
    }
    return {
        "logstore": spec.logstore,
        "fromTime": int(spec.time_range.start.timestamp()),
        "toTime": int(spec.time_range.end.timestamp()),
        "query": spec.query,
        "powerSql": bool(options.get("powerSql", False)),
        "allowInComplete": spec.allow_incomplete,
        "sink": sink,
    }
