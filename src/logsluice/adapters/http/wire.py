"""The wire format between a worker's HttpLogStore and the serving node's internal endpoints.

A RecordsQuery travels as JSON (the query as text, times as RFC 3339, the timeout in seconds);
rows come back as an Arrow IPC stream; errors in the native envelope are turned back into the
domain errors they were raised as.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from logsluice.domain.errors import (
    AuthenticationError,
    BackendUnavailableError,
    DiskFullError,
    EngineOutOfMemoryError,
    InvalidInputError,
    InvalidQueryError,
    LogsluiceError,
    LogstoreNotFoundError,
    PermissionDeniedError,
    ProjectNotFoundError,
    QueryCancelledError,
    QueryTimeoutError,
)
from logsluice.ports import RecordsQuery

ARROW_STREAM_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
_ERRORS_BY_CODE: dict[str, type[LogsluiceError]] = {
    "query_timeout": QueryTimeoutError,
    "query_cancelled": QueryCancelledError,
    "disk_full": DiskFullError,
    "out_of_memory": EngineOutOfMemoryError,
    "project_not_found": ProjectNotFoundError,
    "logstore_not_found": LogstoreNotFoundError,
    "unauthenticated": AuthenticationError,
    "permission_denied": PermissionDeniedError,
}


def request_to_json(request: RecordsQuery) -> dict[str, Any]:
    """Return the JSON body that carries ``request``."""
    return {
        "project": request.project,
        "logstore": request.logstore,
        "query": request.query.text,
        "start": request.time_range.start.isoformat(),
        "end": request.time_range.end.isoformat(),
        "order": request.order.value,
        "limit": request.limit,
        "timeout_seconds": request.timeout.total_seconds() if request.timeout else None,
        "sort": request.sort,
    }


def parse_datetime(text: str) -> datetime:
    """Read an RFC 3339 time written by :func:`request_to_json` or the histogram endpoint."""
    return datetime.fromisoformat(text)


def error_from_envelope(status: int, body: Any) -> LogsluiceError:
    """Return the domain error a native error envelope stands for.

    Server-side failures (5xx) and anything unrecognised become BackendUnavailableError, which is
    retryable, so a slice that met a passing problem is tried again.
    """
    envelope = body.get("error", {}) if isinstance(body, Mapping) else {}
    code = str(envelope.get("code", "http_error"))
    message = str(envelope.get("message", f"the serving node answered {status}"))
    details = envelope.get("details") or {}
    if code == "invalid_query":
        return InvalidQueryError(
            message,
            position=int(details.get("position", 0)),
            reason=str(details.get("reason", "syntax")),
        )
    if code in _ERRORS_BY_CODE:
        return _ERRORS_BY_CODE[code](message)
    if 400 <= status < 500:
        return InvalidInputError(message, code=code)
    return BackendUnavailableError(f"the serving node failed: {message}", code=code)
