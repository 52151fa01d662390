"""The native ingest endpoint: JSON, JSON Lines, CSV or Parquet bodies, optionally gzip or zstd.

The body is read by an ``async`` dependency, the one place where reading a request stream is
unavoidable, so the size limit holds while bytes arrive: a ``Content-Length`` over the limit is
refused before reading, and a chunked body is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from logsluice.api.context import Caller, Context, get_context
from logsluice.api.native.fields import LogstoreName, ProjectName
from logsluice.api.native.models import IngestOut, LineErrorOut
from logsluice.api.responses import error_responses
from logsluice.domain.errors import PayloadTooLargeError
from logsluice.pipeline.decode import InputFormat

router = APIRouter(prefix="/api/v1/projects/{project}/logstores", tags=["records"])

_FORMAT_BY_MEDIA_TYPE: dict[str, InputFormat] = {
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/jsonlines": "jsonl",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}


async def read_limited_body(request: Request) -> bytes:
    """Return the request body. Raises PayloadTooLargeError past ``ingest_max_body_bytes``."""
    limit_bytes = get_context(request).ingest_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise _too_large(limit_bytes)
    parts: list[bytes] = []
    received_bytes = 0
    async for part in request.stream():
        received_bytes += len(part)
        if received_bytes > limit_bytes:
            raise _too_large(limit_bytes)
        parts.append(part)
    return b"".join(parts)


def _too_large(limit_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"request body larger than {limit_bytes} bytes; send the records in smaller batches",
        limit_bytes=limit_bytes,
    )


def record_format_of(content_type: str | None) -> InputFormat | None:
    """Return the input format of a known media type, None to sniff JSON or JSON Lines."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return _FORMAT_BY_MEDIA_TYPE.get(media_type)


# Any array is a batch: an element that is not a valid record is reported by its number (or, with
# `strict`, refuses the batch: 400), so the schema does not constrain the elements.
_RECORDS_BODY = {
    "required": False,  # no body (or an empty one without a JSON Content-Type) stores nothing
    "description": "records: a JSON array of objects (or one object), JSON Lines, CSV with a "
    "header or Parquet, by Content-Type (sniffed when it says neither); gzip or zstd compressed "
    "with Content-Encoding",
    "content": {
        "application/json": {"schema": {"type": ["array", "object"]}},
        # any text: a line or a row that is not a record is reported by its number
        "application/x-ndjson": {"schema": {}},
        "text/csv": {"schema": {}},
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post(
    "/{logstore}/records",
    response_model=IngestOut,
    responses=error_responses(413),
    openapi_extra={"requestBody": _RECORDS_BODY},
)
def ingest_records(
    project: ProjectName,
    logstore: LogstoreName,
    context: Context,
    caller: Caller,
    body: Annotated[bytes, Depends(read_limited_body)],
    response: Response,
    logstream: Annotated[str | None, Query(description="logstream label of every record")] = None,
    strict: Annotated[bool, Query(description="refuse the whole batch on one bad line")] = False,
    content_type: Annotated[str | None, Header()] = None,
    content_encoding: Annotated[str | None, Header(description="gzip or zstd")] = None,
    time_format: Annotated[
        str | None,
        Query(
            description="strptime format of text times (e.g. `%d/%b/%Y:%H:%M:%S %z`); default: "
            "RFC 3339/ISO 8601, epochs, nginx/Apache and syslog times are recognised",
            max_length=200,
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="1-255 visible ASCII characters: a retry with the same key and body is "
            "stored once and answered as the first request was (`Idempotent-Replayed: true`); "
            "the same key with another body is 409 `idempotency_key_reused`",
        ),
    ] = None,
) -> IngestOut:
    """Append records. Without `strict`, good records are stored and bad lines reported.

    A 200 means the records are durable. With an `Idempotency-Key`, retrying is exactly once.
    """
    caller.require_project(project, write=True)
    result = context.ingest.ingest(
        project,
        logstore,
        body,
        record_format=record_format_of(content_type),
        content_encoding=content_encoding,
        logstream=logstream,
        strict=strict,
        time_format=time_format,
        idempotency_key=idempotency_key,
    )
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    elif context.metrics is not None:
        context.metrics.ingested(result.accepted, result.rejected)
    return IngestOut(
        accepted=result.accepted,
        rejected=result.rejected,
        errors=[LineErrorOut(line=error.line, message=error.message) for error in result.errors],
        errors_truncated=result.errors_truncated,
        past_retention=result.past_retention,
        retention_days=result.retention_days,
        replayed=result.replayed,
    )
