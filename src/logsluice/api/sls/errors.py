"""The one place that turns errors into Alibaba SLS error responses, for the SLS routes only.

An SLS error is ``{"errorCode": …, "errorMessage": …}`` with the vendor's HTTP status; every SLS
response, error or not, carries a request id in the ``x-log-requestid`` header, which is what the
Alibaba SDK reads into ``error.data["requestId"]``. Signature failures keep the status, code and
message the verifier chose (ADR 0006). :class:`SlsRoute` installs the mapping on each SLS route,
so the native error envelope never reaches an SLS client and SLS codes never reach native ones.
"""

from __future__ import annotations

import secrets
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

REQUEST_ID_HEADER = "x-log-requestid"
INTERNAL_ERROR = (500, "InternalServerError", "internal error; see the server log")

# Most specific first: the first class in an error's MRO found here decides status and code.
_STATUS_AND_CODE: dict[type[LogsluiceError], tuple[int, str]] = {
    SinkNotFoundError: (400, "ParameterInvalid"),
    ProjectNotFoundError: (404, "ProjectNotExist"),
    LogstoreNotFoundError: (404, "LogStoreNotExist"),
    TaskNotFoundError: (404, "JobNotExist"),
    AlreadyExistsError: (400, "JobAlreadyExist"),
    PayloadTooLargeError: (400, "PostBodyTooLarge"),
    InvalidInputError: (400, "ParameterInvalid"),
    AuthenticationError: (401, "Unauthorized"),
    PermissionDeniedError: (401, "Unauthorized"),
    ArtifactGoneError: (410, "ResourceNotExist"),
    ConflictError: (400, "ParameterInvalid"),
    LinkExpiredError: (401, "Unauthorized"),
    LinkInvalidError: (401, "Unauthorized"),
    NotFoundError: (404, "ResourceNotExist"),
    BackendUnavailableError: (503, "ServerBusy"),
    QueryTimeoutError: (503, "ServerBusy"),
    QueryCancelledError: (503, "ServerBusy"),
    ArtifactStoreDeniedError: (502, "InternalServerError"),
    DiskFullError: (507, "InsufficientStorage"),
}
# Starlette's refusals of a path or method under /downloadjobs (SLS documents no code for them).
_HTTP_STATUS_CODES = {404: "ResourceNotExist", 405: "MethodNotAllowed"}
# InvalidInputError fields with a code of their own.
_CODE_BY_FIELD = {"host": "InvalidHost", "body": "PostBodyInvalid"}


def new_request_id() -> str:
    """Return a request id shaped like SLS's: 24 upper-case hex digits."""
    return secrets.token_hex(12).upper()


def status_code_message(error: Exception) -> tuple[int, str, str]:
    """Return the SLS HTTP status, ``errorCode`` and ``errorMessage`` for ``error``."""
    if isinstance(error, SignatureError):
        return error.vendor_status, error.vendor_code, error.message
    if isinstance(error, RequestValidationError):
        return 400, "ParameterInvalid", _validation_message(error)
    if isinstance(error, HTTPException) and error.status_code in _HTTP_STATUS_CODES:
        return error.status_code, _HTTP_STATUS_CODES[error.status_code], str(error.detail)
    if not isinstance(error, LogsluiceError):
        return INTERNAL_ERROR
    for error_class in type(error).__mro__:
        known = _STATUS_AND_CODE.get(error_class)
        if known is not None:
            status, code = known
            if isinstance(error, InvalidInputError):
                code = _CODE_BY_FIELD.get(str(error.details.get("field")), code)
            return status, code, error.message
    return INTERNAL_ERROR


def _validation_message(error: RequestValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg', '')}"
        for problem in error.errors()
    ]
    return "invalid request: " + "; ".join(problems)


def error_response(error: Exception) -> JSONResponse:
    """Return the SLS error response for ``error``; unexpected errors are logged."""
    status, code, message = status_code_message(error)
    if status >= 500:
        structlog.get_logger().error(
            "api.sls.error", code=code, error_type=type(error).__name__, exc_info=error
        )
    return JSONResponse({"errorCode": code, "errorMessage": message}, status_code=status)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class SlsRoute(APIRoute):
    """A route whose errors, request validation included, answer in the SLS envelope, and whose
    every response carries ``x-log-requestid``."""

    def get_route_handler(self) -> Handler:
        """Return the route's handler wrapped with the SLS error mapping."""
        handler = super().get_route_handler()

        async def sls_handler(request: Request) -> Response:
            request_id = new_request_id()
            try:
                response = await handler(request)
            except Exception as error:  # noqa: BLE001 - every error must reach the client as SLS
                response = error_response(error)
            response.headers[REQUEST_ID_HEADER] = request_id
            return response

        return sls_handler
