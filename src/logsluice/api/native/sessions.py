"""Native endpoints of console sessions under ``/api/v1/session``: sign in, who am I, sign out.

Signing in takes a credential the API accepts — the admin token, an access key as ``id:secret``
or as its two halves — and answers with the session cookie (HttpOnly, SameSite=Strict, Path=/,
Secure over https, expiring with the session) and the session's CSRF token, which the page sends
in ``X-CSRF-Token`` on every state-changing request. A cross-site sign-in is refused, so another
site cannot sign a browser in as someone else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from logsluice.api.auth import Credentials, Principal
from logsluice.api.context import ApiContext, Caller, Context, get_principal
from logsluice.api.native.models import RequestBody
from logsluice.api.responses import error_responses
from logsluice.api.sessions import SESSION_COOKIE, identity_of
from logsluice.domain.errors import (
    AuthenticationError,
    BackendUnavailableError,
    InvalidInputError,
    PermissionDeniedError,
)
from logsluice.services.sessions import SessionService

router = APIRouter(prefix="/api/v1/session", tags=["console session"])
_SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


_NON_BLANK: dict[str, Any] = {"type": "string", "pattern": "\\S"}


class SignIn(RequestBody):
    """`token`, or both halves of an access key."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["token"], "properties": {"token": _NON_BLANK}},
                {
                    "required": ["access_key_id", "access_key_secret"],
                    "properties": {"access_key_id": _NON_BLANK, "access_key_secret": _NON_BLANK},
                },
            ]
        }
    )

    token: str | None = Field(
        default=None, description="the admin token, or an access key as `<id>:<secret>`"
    )
    access_key_id: str | None = None
    access_key_secret: str | None = None


class SessionOut(BaseModel):
    signed_in: bool = Field(description="false: the caller sent no valid credentials")
    principal: str | None = Field(description="who the caller acts as")
    role: str | None = Field(description="admin, writer or reader")
    project: str | None = Field(description="the one project it may reach; null: every project")
    authentication: Literal["session", "bearer", "none"] | None = Field(
        description="how this request was authenticated (none: the server runs --no-auth)"
    )
    csrf_token: str | None = Field(
        description="send it in X-CSRF-Token on state-changing requests (session only)"
    )
    expires_at: datetime | None = Field(description="when the session ends (session only)")


def _service(context: ApiContext) -> SessionService:
    if context.sessions is None:
        raise BackendUnavailableError("console sessions are not configured on this server")
    return context.sessions


def _bearer_of(body: SignIn) -> str:
    if body.token:
        return body.token.strip()
    if body.access_key_id and body.access_key_secret:
        return f"{body.access_key_id.strip()}:{body.access_key_secret.strip()}"
    raise InvalidInputError(
        "give `token`, or `access_key_id` and `access_key_secret`", field="token"
    )


def _check_same_site(request: Request, context: ApiContext) -> None:
    """Refuse a sign-in a browser sent on another site's behalf (login CSRF)."""
    fetch_site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    own_origins = {f"{request.url.scheme}://{request.url.netloc}"}
    if context.public_url:
        public = urlsplit(context.public_url)
        own_origins.add(f"{public.scheme}://{public.netloc}")
    cross_fetch = fetch_site is not None and fetch_site not in _SAME_SITE_FETCHES
    if cross_fetch or (origin is not None and origin not in own_origins):
        raise PermissionDeniedError("cross-site sign-in refused", origin=origin or "")


def _is_https(request: Request, context: ApiContext) -> bool:
    return request.url.scheme == "https" or context.public_url.startswith("https://")


def _session_out(principal: Principal, sessions: SessionService | None) -> SessionOut:
    return SessionOut(
        signed_in=True,
        principal=principal.name,
        role=principal.role.value,
        project=principal.project,
        authentication="none" if sessions is None else "bearer",
        csrf_token=None,
        expires_at=None,
    )


@router.post("", status_code=201, response_model=SessionOut, responses=error_responses(401, 403))
def sign_in(body: SignIn, request: Request, response: Response, context: Context) -> SessionOut:
    """Sign in: 201 with the session cookie and CSRF token; 401 for a credential that does not
    verify; 403 for a cross-site request."""
    sessions = _service(context)
    _check_same_site(request, context)
    credentials = Credentials(
        method="POST",
        path=request.url.path,
        headers={"authorization": f"Bearer {_bearer_of(body)}"},
    )
    principal = context.authenticator.authenticate(credentials)
    opened = sessions.open(identity_of(principal))
    response.set_cookie(
        SESSION_COOKIE,
        opened.cookie_value,
        max_age=int(sessions.ttl.total_seconds()),
        path="/",
        secure=_is_https(request, context),
        httponly=True,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return SessionOut(
        signed_in=True,
        principal=principal.name,
        role=principal.role.value,
        project=principal.project,
        authentication="session",
        csrf_token=opened.csrf_token,
        expires_at=opened.session.expires_at,
    )


def _optional_caller(request: Request) -> Principal | None:
    try:
        return get_principal(request)
    except AuthenticationError:
        return None


@router.get("", response_model=SessionOut)
def who_am_i(
    response: Response,
    context: Context,
    caller: Annotated[Principal | None, Depends(_optional_caller)],
) -> SessionOut:
    """Return who the caller is and, for a session, its CSRF token and end; `signed_in` false
    (200, so a page can ask before signing in) without valid credentials."""
    response.headers["Cache-Control"] = "no-store"
    if caller is None:
        return SessionOut(
            signed_in=False,
            principal=None,
            role=None,
            project=None,
            authentication=None,
            csrf_token=None,
            expires_at=None,
        )
    if caller.session_id is None or context.sessions is None:
        return _session_out(caller, context.sessions)
    session = context.sessions.find(caller.session_id)
    return SessionOut(
        signed_in=True,
        principal=caller.name,
        role=caller.role.value,
        project=caller.project,
        authentication="session",
        csrf_token=context.sessions.csrf_token(caller.session_id),
        expires_at=session.expires_at if session is not None else None,
    )


@router.delete("", status_code=204)
def sign_out(request: Request, context: Context, caller: Caller) -> Response:
    """Sign out: the session's cookie is refused from now on (204; also without a session)."""
    if caller.session_id is not None and context.sessions is not None:
        context.sessions.close(caller.session_id)
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=_is_https(request, context),
        httponly=True,
        samesite="strict",
    )
    return response
