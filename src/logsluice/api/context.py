"""What every router needs from the running server, handed to endpoints as FastAPI dependencies.

``bootstrap`` builds one :class:`ApiContext` and ``create_app`` keeps it on ``app.state``; the
dependencies below read it back and authenticate the caller, so endpoints receive plain values.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from logsluice.api.auth import Credentials, Principal
from logsluice.metrics import Metrics
from logsluice.ports import Clock, RecordReader
from logsluice.services.access_keys import AccessKeyService
from logsluice.services.catalog import CatalogService
from logsluice.services.cdn_statistics import CdnStatisticsService
from logsluice.services.clock import SystemClock
from logsluice.services.downloads import DownloadService
from logsluice.services.ingest import IngestService
from logsluice.services.query import QueryService
from logsluice.services.sessions import SessionService
from logsluice.services.sinks import SinkService
from logsluice.services.tasks import TaskService
from logsluice.services.webhooks import ProjectWebhooks


class ShutdownSignal:
    """Set when the server starts shutting down, so long-lived streams end and let it stop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Tell every stream to end."""
        self._event.set()

    def is_set(self) -> bool:
        """Tell whether the server is shutting down."""
        return self._event.is_set()


class RequestAuthenticator(Protocol):
    """Turns a request's credentials into the calling principal."""

    def authenticate(self, credentials: Credentials) -> Principal:
        """Return the caller. Raises AuthenticationError."""
        ...


@dataclass(frozen=True)
class ApiContext:
    """The services and limits the API works with."""

    catalog: CatalogService
    ingest: IngestService
    query: QueryService
    authenticator: RequestAuthenticator
    ingest_max_body_bytes: int
    tasks: TaskService
    downloads: DownloadService
    records: RecordReader
    public_url: str = ""
    access_keys: AccessKeyService | None = None
    sls_domain: str = ""
    clock: Clock = field(default_factory=SystemClock)
    cdn_statistics: CdnStatisticsService | None = None
    sessions: SessionService | None = None
    project_webhooks: ProjectWebhooks | None = None
    sinks: SinkService | None = None
    shutdown: ShutdownSignal = field(default_factory=lambda: ShutdownSignal())
    metrics: Metrics | None = None


def get_context(request: Request) -> ApiContext:
    """Return the server's ApiContext."""
    context: ApiContext = request.app.state.context
    return context


def get_principal(request: Request) -> Principal:
    """Authenticate the request. Raises AuthenticationError (401 in every dialect)."""
    credentials = Credentials(
        method=request.method,
        path=request.url.path,
        headers={name.lower(): value for name, value in request.headers.items()},
    )
    return get_context(request).authenticator.authenticate(credentials)


# Declared so that the OpenAPI document names the schemes every authenticated operation accepts;
# get_principal reads the credentials itself (a vendor signature, a bearer token, the cookie).
_BEARER = HTTPBearer(
    scheme_name="bearerAuth",
    description="the admin token, or an access key as `<access_key_id>:<access_key_secret>`",
    auto_error=False,
)
_SESSION_COOKIE = APIKeyCookie(
    name="logsluice_session",
    scheme_name="sessionCookie",
    description="the console's session (POST /api/v1/session); changes also need X-CSRF-Token",
    auto_error=False,
)


def get_caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    session: Annotated[str | None, Depends(_SESSION_COOKIE)],
) -> Principal:
    """Authenticate the request by bearer token or session cookie. Raises AuthenticationError."""
    return get_principal(request)


Context = Annotated[ApiContext, Depends(get_context)]
Caller = Annotated[Principal, Depends(get_caller)]
