"""``GET /metrics`` (Prometheus text) and the count of every HTTP request by route template.

Requests are counted by the template of the route that answered (``/api/v1/projects/{project}``),
never by the raw path, so the number of series stays bounded whatever clients send; a request no
route took is ``unmatched``. Each request carries an ``X-Request-Id`` (the client's, when it sends
a sane one, else a new one), answered back (unless a vendor dialect answers its own) and bound to
every log event of the request.

Who may read ``/metrics`` is the ``metrics`` setting: ``token`` (the admin's credentials, or the
``metrics_token`` that reads nothing else), ``open``, or ``off``.
"""

from __future__ import annotations

import hmac
import re
import time
import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logsluice.api.context import get_principal
from logsluice.api.responses import error_responses
from logsluice.domain.errors import NotFoundError
from logsluice.metrics import CONTENT_TYPE, Metrics

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MetricsAccess = Literal["token", "open", "off"]


@dataclass(frozen=True)
class MetricsEndpoint:
    """The process's metrics and who may read them."""

    metrics: Metrics
    access: MetricsAccess = "token"
    token: str | None = None


def install_metrics(app: FastAPI, endpoint: MetricsEndpoint) -> None:
    """Count ``app``'s requests and serve ``GET /metrics``."""
    app.state.metrics_endpoint = endpoint
    app.add_middleware(RequestMetricsMiddleware, metrics=endpoint.metrics)
    app.add_api_route(
        "/metrics",
        read_metrics,
        methods=["GET"],
        tags=["operations"],
        response_class=Response,
        responses={
            200: {
                "description": "the Prometheus text format (version 0.0.4)",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **error_responses(404),
        },
        openapi_extra={"security": [{"bearerAuth": []}]},
    )


def read_metrics(request: Request) -> Response:
    """Every metric of this process in the Prometheus text format (see docs/operations.md)."""
    endpoint: MetricsEndpoint = request.app.state.metrics_endpoint
    if endpoint.access == "off":
        raise NotFoundError("metrics are off on this server (LOGSLUICE_METRICS=off)")
    if endpoint.access == "token" and not _has_metrics_token(request, endpoint.token):
        get_principal(request).require_admin()
    return Response(endpoint.metrics.render(), media_type=CONTENT_TYPE)


def _has_metrics_token(request: Request, token: str | None) -> bool:
    if token is None:
        return False
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip(), token)


class RequestMetricsMiddleware:
    """Count and time each HTTP request by method, route template and status; give it an id."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()
        status = 500
        timed = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, timed
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                # a vendor dialect that sets its own (Huawei's) keeps its wire format
                if not any(name.lower() == REQUEST_ID_HEADER.encode() for name, _ in headers):
                    headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
                self._time(scope, started)
                timed = True
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self._app(scope, receive, send_with_id)
            finally:
                if not timed:
                    self._time(scope, started)
                route = _route_of(scope)
                self._metrics.http_requests.labels(scope["method"], route, str(status)).inc()
                structlog.get_logger().debug(
                    "http.request", method=scope["method"], route=route, status=status
                )

    def _time(self, scope: Scope, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.http_duration.labels(scope["method"], _route_of(scope)).observe(elapsed)


def _route_of(scope: MutableMapping[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER.encode():
            candidate = str(value.decode("latin-1"))
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex
