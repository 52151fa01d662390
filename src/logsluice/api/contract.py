"""The API contract: the OpenAPI document the server publishes, and 405 for undeclared methods.

Every route that is in the schema follows one pattern (ADR 0021). FastAPI derives parameters and
bodies from the endpoints' types and constraints; :func:`install_contract` then finishes the
document so it lists every status an operation can answer, each error with the one native
envelope (:class:`ErrorEnvelope`): the statuses every operation shares are added here (400 for
an operation with inputs, 401 and 403 for one that needs credentials, 404 for one with path
parameters, 503 for every one that reads a store, 507 for every change), FastAPI's 422 — which
this server never answers — is replaced; the bearer and session-cookie security schemes come from
the ``Caller`` dependency. A route declares its own further statuses with
:func:`error_responses`. Any method a path in the schema does not have answers 405 with ``Allow``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from logsluice.api.native.errors import error_response
from logsluice.api.responses import ERROR_DESCRIPTIONS, ErrorEnvelope

ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
_ENVELOPE_REFERENCE = {"$ref": "#/components/schemas/ErrorEnvelope"}


def install_contract(app: FastAPI) -> None:
    """Finish ``app``'s OpenAPI document and answer 405 for methods its paths do not have."""
    app.openapi = _openapi_builder(app)  # type: ignore[method-assign]
    app.add_middleware(MethodNotAllowedMiddleware, document=app.openapi)


class MethodNotAllowedMiddleware:
    """Answer 405 with ``Allow`` to a method that the published path does not list.

    The path a request is for is the most specific path of the OpenAPI document it matches (the
    fewest parameters): ``DELETE …/download-tasks/events`` is a 405, never the deletion of a task
    named ``events``. Paths outside the document (the vendor dialects, the console) pass through.
    """

    def __init__(self, app: ASGIApp, document: Callable[[], dict[str, Any]]) -> None:
        self._app = app
        self._document = document
        self._paths: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            allowed = self._allowed_methods(scope["path"])
            if allowed is not None and scope["method"] not in allowed:
                await _method_not_allowed(scope["method"], scope["path"], allowed)(
                    scope, receive, send
                )
                return
        await self._app(scope, receive, send)

    def _allowed_methods(self, path: str) -> frozenset[str] | None:
        if self._paths is None:
            self._paths = _compiled_paths(self._document())
        for pattern, methods in self._paths:
            if pattern.fullmatch(path):
                return methods
        return None


def _compiled_paths(document: dict[str, Any]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    paths = []
    for path, operations in document.get("paths", {}).items():
        methods = {method.upper() for method in operations if method.upper() in ALL_METHODS}
        if "GET" in methods:
            methods.add("HEAD")
        pattern = re.compile(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)))
        paths.append((path.count("{"), -len(path), pattern, frozenset(methods)))
    return [(pattern, methods) for _, _, pattern, methods in sorted(paths, key=lambda p: p[:2])]


def _method_not_allowed(method: str, path: str, allowed: frozenset[str]) -> Response:
    allow = ", ".join(sorted(allowed))
    response = error_response(
        405,
        "method_not_allowed",
        f"{method} is not allowed on {path}; allowed: {allow}",
        {"allowed": sorted(allowed)},
    )
    response.headers["Allow"] = allow
    return response


def _openapi_builder(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    return openapi


def _document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(envelope.pop("$defs", {}))
    schemas["ErrorEnvelope"] = envelope
    for operations in document["paths"].values():
        for method, operation in operations.items():
            _complete(operation, method)
    return document


def _complete(operation: dict[str, Any], method: str) -> None:
    """Add the statuses every operation of its kind can answer, as error envelopes."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)  # request validation errors are 400 here
    statuses = {503}
    parameters = operation.get("parameters", ())
    if parameters or operation.get("requestBody"):
        statuses.add(400)
    if any(parameter["in"] == "path" for parameter in parameters):
        statuses.add(404)
    if operation.get("security"):
        statuses.update({401, 403})
    else:
        operation["security"] = []
    if method in WRITE_METHODS:
        statuses.add(507)
    for status in sorted(statuses):
        responses.setdefault(
            str(status),
            {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": _ENVELOPE_REFERENCE}},
            },
        )
