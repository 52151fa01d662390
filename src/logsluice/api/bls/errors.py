"""The one place that turns errors into Baidu BLS error responses, for the BLS routes only.

A BLS error is ``{"code": …, "message": …, "requestId": …}`` with the vendor's HTTP status, and
every BLS response, error or not, carries the request id in ``x-bce-request-id`` (the header the
Python SDK falls back to; the Go SDK reads the body). Signature failures keep the status, code and
message the verifier chose (ADR 0006). :class:`BlsRoute` installs the mapping on each BLS route, so
the native error envelope never reaches a BLS client and BLS codes never reach native ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from logsluice.domain.errors import (
    AlreadyExistsError,
    ArtifactGoneError,
    ArtifactStoreDeniedError,
    AuthenticationError,
    BackendUnavailableError,
    ConflictError,
    DiskFullError,
    InvalidInputError,
    LinkExpiredError,
    LinkInvalidError,
    LogsluiceError,
    LogstoreNotFoundError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ProjectNotFoundError,
    QueryCancelledError,
    QueryTimeoutError,
    SignatureError,
    SinkNotFoundError,
    TaskNotFoundError,
)

REQUEST_ID_HEADER = "x-bce-request-id"
INTERNAL_ERROR = (500, "InternalError", "We encountered an internal error. Please try again.")
TASK_NOT_FOUND = (404, "DownloadTaskNotFound", "Download task not found")
MALFORMED_JSON_FIELD = "body"
# Starlette's refusals of a path or method under the BLS prefix (BCE documents no code for them).
_HTTP_STATUS_CODES = {404: "ResourceNotFound", 405: "MethodNotAllowed"}

# Most specific first: the first class in an error's MRO found here decides status and code.
_STATUS_AND_CODE: dict[type[LogsluiceError], tuple[int, str]] = {
    SinkNotFoundError: (400, "InvalidParameter"),
    TaskNotFoundError: TASK_NOT_FOUND[:2],
    ProjectNotFoundError: (404, "ProjectNotFound"),
    LogstoreNotFoundError: (404, "LogStoreNotFound"),
    PayloadTooLargeError: (413, "RequestOverload"),
    InvalidInputError: (400, "InvalidParameter"),
    AuthenticationError: (401, "Unauthorized"),
    PermissionDeniedError: (403, "AccessDenied"),
    ConflictError: (409, "DownloadTaskNotReady"),
    ArtifactGoneError: (410, "DownloadTaskExpired"),
    AlreadyExistsError: (400, "InvalidParameter"),
    LinkExpiredError: (403, "AccessDenied"),
    LinkInvalidError: (403, "AccessDenied"),
    NotFoundError: (404, "ResourceNotFound"),
    BackendUnavailableError: (503, "ServiceUnavailable"),
    QueryTimeoutError: (503, "ServiceUnavailable"),
    QueryCancelledError: (503, "ServiceUnavailable"),
    ArtifactStoreDeniedError: (502, "InternalError"),
    DiskFullError: (507, "InsufficientStorage"),
}


def new_request_id() -> str:
    """Return a request id shaped like Baidu's: a UUID string."""
    return str(uuid.uuid4())


def status_code_message(error: Exception) -> tuple[int, str, str]:
    """Return the BLS HTTP status, ``code`` and ``message`` for ``error``."""
    if isinstance(error, SignatureError):
        return error.vendor_status, error.vendor_code, error.message
    if isinstance(error, RequestValidationError):
        return 400, "InvalidParameter", _validation_message(error)
    if isinstance(error, TaskNotFoundError):
        return TASK_NOT_FOUND
    if isinstance(error, HTTPException) and error.status_code in _HTTP_STATUS_CODES:
        return error.status_code, _HTTP_STATUS_CODES[error.status_code], str(error.detail)
    if not isinstance(error, LogsluiceError):
        return INTERNAL_ERROR
    for error_class in type(error).__mro__:
        known = _STATUS_AND_CODE.get(error_class)
        if known is not None:
            status, code = known
            if isinstance(error, InvalidInputError) and _is_malformed_json(error):
                code = "MalformedJSON"
            return status, code, error.message
    return INTERNAL_ERROR


def _is_malformed_json(error: InvalidInputError) -> bool:
    return error.details.get("field") == MALFORMED_JSON_FIELD


def _validation_message(error: RequestValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg', '')}"
        for problem in error.errors()
    ]
    return "invalid request: " + "; ".join(problems)


def error_response(error: Exception, request_id: str) -> JSONResponse:
    """Return the BLS error response for ``error``; server-side errors are logged."""
    status, code, message = status_code_message(error)
    if status >= 500:
        structlog.get_logger().error(
            "api.bls.error", code=code, error_type=type(error).__name__, exc_info=error
        )
    body = {"code": code, "message": message, "requestId": request_id}
    return JSONResponse(body, status_code=status)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class BlsRoute(APIRoute):
    """A route whose errors, request validation included, answer in the BLS envelope, and whose
    every response carries ``x-bce-request-id``."""

    def get_route_handler(self) -> Handler:
        """Return the route's handler wrapped with the BLS error mapping."""
        handler = super().get_route_handler()

        async def bls_handler(request: Request) -> Response:
            request_id = new_request_id()
            try:
                response = await handler(request)
            except Exception as error:  # noqa: BLE001 - every error must reach the client as BLS
                response = error_response(error, request_id)
            response.headers[REQUEST_ID_HEADER] = request_id
            return response

        return bls_handler
