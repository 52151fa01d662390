"""Who is calling: principals, the authenticators that recognise them, and the admin token file.

Every API call carries credentials that an :class:`Authenticator` turns into a :class:`Principal`:
a role and, for project-scoped credentials, the one project it may touch. Today there is the admin
bearer token; project-scoped tokens and the vendors' signed access keys are further authenticators
in the same chain. Secure by default: the first start creates a random admin token in the data
directory (mode 0600); ``--no-auth`` exists for development and only on a loopback address.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from logsluice.domain.access_keys import AccessKey
from logsluice.domain.errors import (
    AccessKeyNotFoundError,
    AuthenticationError,
    InvalidSettingsError,
    PermissionDeniedError,
)

ADMIN_TOKEN_FILE_NAME = "admin-token"  # noqa: S105 - a file name, not a secret
_TOKEN_BYTES = 32
_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


class Role(enum.StrEnum):
    """What a principal may do: ``admin`` all; ``writer`` ingest and query; ``reader`` query."""

    ADMIN = "admin"
    WRITER = "writer"
    READER = "reader"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``project`` is None for access to every project.

    ``access_key_id`` names the access key it authenticated with, ``session_id`` the console
    session (cookie) it came through, if any.
    """

    name: str
    role: Role
    project: str | None = None
    access_key_id: str | None = None
    session_id: str | None = None

    def require_admin(self) -> None:
        """Raise PermissionDeniedError unless this principal is an unscoped admin."""
        if self.role is not Role.ADMIN or self.project is not None:
            raise PermissionDeniedError(f"{self.name} may not manage projects")

    def require_project(self, project: str, *, write: bool = False) -> None:
        """Raise PermissionDeniedError unless this principal may read (or ``write``) ``project``."""
        if self.project is not None and self.project != project:
            raise PermissionDeniedError(f"{self.name} has no access to project {project!r}")
        if write and self.role is Role.READER:
            raise PermissionDeniedError(f"{self.name} may only read project {project!r}")


ANONYMOUS_ADMIN = Principal(name="anonymous (no-auth)", role=Role.ADMIN)


@dataclass(frozen=True)
class Credentials:
    """What an authenticator may look at: the request line and headers (lowercase names)."""

    method: str
    path: str
    headers: Mapping[str, str]


class Authenticator(Protocol):
    """Recognises one kind of credentials."""

    def authenticate(self, credentials: Credentials) -> Principal | None:
        """Return the principal, None when the credentials are not of this kind.

        Raises AuthenticationError when they are of this kind but do not verify.
        """
        ...


class AdminTokenAuthenticator:
    """Accepts ``Authorization: Bearer <admin token>``, compared in constant time."""

    def __init__(self, admin_token: str) -> None:
        self._admin_token = admin_token.encode()

    def authenticate(self, credentials: Credentials) -> Principal | None:
        """Return the admin for the admin token; raise AuthenticationError for another bearer."""
        scheme, _, token = credentials.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        if not hmac.compare_digest(token.strip().encode(), self._admin_token):
            raise AuthenticationError("the bearer token is not valid")
        return Principal(name="admin", role=Role.ADMIN)


class AccessKeyVerifier(Protocol):
    """What the access-key bearer authenticator needs of the access-key service."""

    def verify_secret(self, access_key_id: str, secret: str) -> AccessKey:
        """Return the live key. Raises AccessKeyNotFoundError, AuthenticationError."""
        ...


def principal_for_access_key(access_key: AccessKey) -> Principal:
    """Return the principal an access key acts as: its role, bound to its project (if any)."""
    return Principal(
        name=f"access key {access_key.id}",
        role=Role(access_key.role.value),
        project=access_key.project,
        access_key_id=access_key.id,
    )


class AccessKeyTokenAuthenticator:
    """Accepts an access key as a native bearer token: ``Authorization: Bearer <id>:<secret>``.

    The caller acts with the key's role inside the key's project, so this is also how a native
    token is scoped to one project. A bearer token whose id part names no live key is left to the
    next authenticator (the admin token may contain a ``:``); a known key with a wrong secret is
    refused here.
    """

    def __init__(self, access_keys: AccessKeyVerifier) -> None:
        self._access_keys = access_keys

    def authenticate(self, credentials: Credentials) -> Principal | None:
        """Return the key's principal; None for a token that is not a live key's id and secret."""
        scheme, _, token = credentials.headers.get("authorization", "").partition(" ")
        access_key_id, separator, secret = token.strip().partition(":")
        if scheme.lower() != "bearer" or not separator or not access_key_id:
            return None
        try:
            access_key = self._access_keys.verify_secret(access_key_id, secret)
        except AccessKeyNotFoundError:
            return None
        return principal_for_access_key(access_key)


class AuthenticatorChain:
    """Tries each authenticator in turn; a request nobody recognises is unauthenticated."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._authenticators = tuple(authenticators)

    def authenticate(self, credentials: Credentials) -> Principal:
        """Return the caller. Raises AuthenticationError when no authenticator accepts it."""
        for authenticator in self._authenticators:
            principal = authenticator.authenticate(credentials)
            if principal is not None:
                return principal
        raise AuthenticationError("missing credentials: send 'Authorization: Bearer <token>'")


class NoAuthentication:
    """Development mode: every caller is an admin."""

    def authenticate(self, credentials: Credentials) -> Principal:
        """Return the anonymous admin."""
        return ANONYMOUS_ADMIN


@dataclass(frozen=True)
class AdminToken:
    """The admin token in force and where it came from (``settings``, ``file`` or ``generated``)."""

    value: str
    source: str
    path: Path | None = None

    @property
    def created(self) -> bool:
        return self.source == "generated"


def load_or_create_admin_token(data_dir: Path, configured: str | None) -> AdminToken:
    """Return the configured admin token, else the one in the data directory, else a new one.

    A new token is random (``secrets``) and written to ``<data_dir>/admin-token`` with mode 0600,
    created exclusively so two starting servers never write different tokens.
    """
    if configured:
        return AdminToken(value=configured, source="settings")
    path = data_dir / ADMIN_TOKEN_FILE_NAME
    existing = read_admin_token_file(data_dir)
    if existing is not None:
        return AdminToken(value=existing, source="file", path=path)
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_admin_token(data_dir, None)
    with os.fdopen(descriptor, "w", encoding="utf-8") as token_file:
        token_file.write(token + "\n")
    return AdminToken(value=token, source="generated", path=path)


def read_admin_token_file(data_dir: Path) -> str | None:
    """Return the admin token stored in ``data_dir``, None when there is none."""
    try:
        token = (data_dir / ADMIN_TOKEN_FILE_NAME).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return token or None


def is_loopback_host(host: str) -> bool:
    """Return whether ``host`` names only this machine (127.0.0.0/8, ::1 or localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_no_auth_allowed(host: str, no_auth: bool) -> None:
    """Raise InvalidSettingsError when ``no_auth`` is asked for on a non-loopback ``host``."""
    if no_auth and not is_loopback_host(host):
        raise InvalidSettingsError(
            f"--no-auth (LOGSLUICE_NO_AUTH) is refused when binding to {host!r}: without a token "
            "anyone who can reach the port could read and delete every log. Bind to 127.0.0.1 or "
            "drop --no-auth.",
            host=host,
        )
