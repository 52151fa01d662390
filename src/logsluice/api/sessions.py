"""The console's session cookie as an API credential, with its CSRF check.

:class:`SessionCookieAuthenticator` sits last in the authenticator chain: a request that carries
an ``Authorization`` header is judged by it alone; one without it may carry the session cookie,
which acts as the identity the session was opened with, exactly as its bearer credential would.
Every request that may change something (any method but GET, HEAD and OPTIONS) must also carry
the session's CSRF token in ``X-CSRF-Token``: missing or wrong is a 403 and nothing runs. A
session opened with an access key ends when the key is revoked.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Protocol

from logsluice.api.auth import Credentials, Principal, Role
from logsluice.domain.access_keys import AccessKey
from logsluice.domain.errors import AccessKeyNotFoundError, AuthenticationError
from logsluice.domain.sessions import ConsoleSession, SessionIdentity
from logsluice.services.sessions import SessionService

SESSION_COOKIE = "logsluice_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AccessKeyResolver(Protocol):
    """What the cookie authenticator needs of the access-key service."""

    def resolve(self, access_key_id: str) -> AccessKey:
        """Return the key. Raises AccessKeyNotFoundError."""
        ...


def session_cookie(cookie_header: str | None) -> str | None:
    """Return the session cookie's value from a ``Cookie`` header text, None when absent."""
    if not cookie_header:
        return None
    try:
        cookies = SimpleCookie(cookie_header)
    except CookieError:
        return None
    morsel = cookies.get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def identity_of(principal: Principal) -> SessionIdentity:
    """Return the identity a session opened by ``principal`` acts as."""
    return SessionIdentity(
        name=principal.name,
        role=principal.role.value,
        project=principal.project,
        access_key_id=principal.access_key_id,
    )


def principal_of(session: ConsoleSession) -> Principal:
    """Return the principal a live session acts as."""
    identity = session.identity
    return Principal(
        name=identity.name,
        role=Role(identity.role),
        project=identity.project,
        access_key_id=identity.access_key_id,
        session_id=session.id,
    )


class SessionCookieAuthenticator:
    """Accepts the console's session cookie on requests without an ``Authorization`` header."""

    def __init__(
        self, sessions: SessionService, access_keys: AccessKeyResolver | None = None
    ) -> None:
        self._sessions = sessions
        self._access_keys = access_keys

    def authenticate(self, credentials: Credentials) -> Principal | None:
        """Return the session's principal; None without a cookie (or with an Authorization
        header). Raises AuthenticationError for a forged, expired or ended session or a revoked
        key, CsrfTokenError for a state-changing request without the session's CSRF token."""
        if "authorization" in credentials.headers:
            return None
        cookie_value = session_cookie(credentials.headers.get("cookie"))
        if cookie_value is None:
            return None
        session = self._sessions.verify(cookie_value)
        self._check_access_key(session.identity.access_key_id)
        if credentials.method.upper() not in SAFE_METHODS:
            self._sessions.check_csrf(session.id, credentials.headers.get(CSRF_HEADER))
        return principal_of(session)

    def _check_access_key(self, access_key_id: str | None) -> None:
        if access_key_id is None or self._access_keys is None:
            return
        try:
            revoked = self._access_keys.resolve(access_key_id).revoked
        except AccessKeyNotFoundError:
            revoked = True
        if revoked:
            raise AuthenticationError(
                "the access key this session was opened with has been revoked; sign in again"
            )
