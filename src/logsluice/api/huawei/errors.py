"""The one place that turns errors into Huawei Cloud error responses, for the Huawei routes only.

Two shapes, as Huawei answers: API-gateway failures (signatures, unknown APIs) are flat,
``{"error_code": "APIGW.…", "error_msg": …, "request_id": …}``; CDN service errors are nested,
``{"error": {"error_code": "CDN.…", "error_msg": …}}``. Huawei's CDN table lists many codes with
HTTP 200, which the SDK would take for success, so each gets a 4xx/5xx here: ``CDN.0001`` invalid
parameter 400, ``CDN.0002`` unauthenticated 401, ``CDN.0004`` insufficient permission 403,
``CDN.0003`` object does not exist 404, ``CDN.0000`` internal or unavailable 500/503. Every
response carries ``X-Request-Id``, which the SDK reads into ``request_id``.
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
    NotFoundError,
    PermissionDeniedError,
    QueryCancelledError,
    QueryTimeoutError,
    SignatureError,
)

REQUEST_ID_HEADER = "X-Request-Id"
UNKNOWN_API = (
    404,
    "APIGW.0101",
    "The API does not exist or has not been published in the environment",
)
INTERNAL_ERROR = (500, "CDN.0000", "Internal error; see the server log.")

# Most specific first: the first class in an error's MRO found here decides status and code.
_STATUS_AND_CODE: dict[type[LogsluiceError], tuple[int, str]] = {
    InvalidInputError: (400, "CDN.0001"),
    AuthenticationError: (401, "CDN.0002"),
    PermissionDeniedError: (403, "CDN.0004"),
    NotFoundError: (404, "CDN.0003"),
    AlreadyExistsError: (400, "CDN.0001"),
    ArtifactGoneError: (404, "CDN.0003"),
    ConflictError: (400, "CDN.0001"),
    LinkExpiredError: (403, "CDN.0004"),
    LinkInvalidError: (403, "CDN.0004"),
    BackendUnavailableError: (503, "CDN.0000"),
    QueryTimeoutError: (503, "CDN.0000"),
    QueryCancelledError: (503, "CDN.0000"),
    ArtifactStoreDeniedError: (502, "CDN.0000"),
    DiskFullError: (507, "CDN.0000"),
}


def new_request_id() -> str:
    """Return a request id shaped like Huawei's: 32 lower-case hex digits."""
    return uuid.uuid4().hex


def status_code_message(error: Exception) -> tuple[int, str, str]:
    """Return the HTTP status, ``error_code`` and ``error_msg`` of a CDN service error."""
    if isinstance(error, RequestValidationError):
        return 400, "CDN.0001", _validation_message(error)
    if not isinstance(error, LogsluiceError):
        return INTERNAL_ERROR
    for error_class in type(error).__mro__:
        known = _STATUS_AND_CODE.get(error_class)
        if known is not None:
            return known[0], known[1], error.message
    return INTERNAL_ERROR


def _validation_message(error: RequestValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg', '')}"
        for problem in error.errors()
    ]
    return "Invalid parameter: " + "; ".join(problems)


def gateway_error(status: int, code: str, message: str, request_id: str) -> JSONResponse:
    """Return an API-gateway error: flat ``error_code``, ``error_msg`` and ``request_id``."""
    body = {"error_code": code, "error_msg": message, "request_id": request_id}
    return JSONResponse(body, status_code=status)


def error_response(error: Exception, request_id: str) -> JSONResponse:
    """Return the Huawei error response for ``error``; unexpected errors are logged."""
    if isinstance(error, SignatureError):
        return gateway_error(error.vendor_status, error.vendor_code, error.message, request_id)
    status, code, message = status_code_message(error)
    if status >= 500:
        structlog.get_logger().error(
            "api.huawei.error", code=code, error_type=type(error).__name__, exc_info=error
        )
    body = {"error": {"error_code": code, "error_msg": message}}
    return JSONResponse(body, status_code=status)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class HuaweiRoute(APIRoute):
    """A route whose errors, request validation included, answer in Huawei's shapes, and whose
    every response carries ``X-Request-Id``."""

    def get_route_handler(self) -> Handler:
        """Return the route's handler wrapped with the Huawei error mapping."""
        handler = super().get_route_handler()

        async def huawei_handler(request: Request) -> Response:
            request_id = new_request_id()
            request.state.request_id = request_id
            try:
                response = await handler(request)
            except Exception as error:  # noqa: BLE001 - every error must reach the client as Huawei's
                response = error_response(error, request_id)
            response.headers[REQUEST_ID_HEADER] = request_id
            return response

        return huawei_handler
