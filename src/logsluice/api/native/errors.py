"""The one place that turns exceptions into native-dialect error responses.

Every native error is ``{"error": {"code", "message", "details"}}``. Domain errors keep their
``code``; the HTTP status follows the error's class: invalid input 400, unauthenticated 401,
permission denied, link invalid or expired 403, not found 404, already exists or conflict 409,
artifact gone 410, payload too large 413, backend unavailable 503, query timeout 504, else 500.
FastAPI's own request validation errors and Starlette's 404/405 use the same envelope.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueryCancelledError,
    QueryTimeoutError,
)

# Most specific first: the first class in an error's MRO found here decides the status.
STATUS_BY_ERROR: dict[type[LogsluiceError], int] = {
    PayloadTooLargeError: 413,
    InvalidInputError: 400,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    LinkInvalidError: 403,
    NotFoundError: 404,
    AlreadyExistsError: 409,
    ConflictError: 409,
    LinkExpiredError: 403,
    ArtifactGoneError: 410,
    BackendUnavailableError: 503,
    ArtifactStoreDeniedError: 502,
    QueryTimeoutError: 504,
    QueryCancelledError: 503,
    DiskFullError: 507,
}
_CODE_BY_HTTP_STATUS = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def status_for(error: LogsluiceError) -> int:
    """Return the HTTP status of a domain error (500 for an error no rule names)."""
    for error_class in type(error).__mro__:
        status = STATUS_BY_ERROR.get(error_class)
        if status is not None:
            return status
    return 500


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    """Return the native error envelope with ``status``."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LogsluiceError)
    status = status_for(error)
    if status == 500:
        structlog.get_logger().error("api.error", code=error.code, message=error.message)
    return error_response(status, error.code, error.message, dict(error.details))


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {
            "location": ".".join(str(part) for part in problem.get("loc", ())),
            "message": problem.get("msg", ""),
        }
        for problem in error.errors()
    ]
    summary = "; ".join(f"{problem['location']}: {problem['message']}" for problem in problems)
    return error_response(400, "invalid_input", f"invalid request: {summary}", {"errors": problems})


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = _CODE_BY_HTTP_STATUS.get(error.status_code, "http_error")
    message = str(error.detail) if error.detail else code.replace("_", " ")
    if error.status_code == 404 and error.detail == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    return error_response(error.status_code, code, message)


def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    structlog.get_logger().exception("api.unexpected_error", path=request.url.path)
    return error_response(500, "internal_error", "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app raises answer with the native envelope."""
    app.add_exception_handler(LogsluiceError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
