"""Console sessions: signed cookies, per-session CSRF tokens, sign-out remembered in the store.

Signing in turns a credential the API accepts into a session stored in the task database (so every
node sees a sign-out) and a cookie value: the session id and expiry, HMAC-SHA256-signed with a key
derived from the installation secret (the one that signs download links). A forged or altered
cookie fails the signature without a database read; a signed one still needs its stored session
to be live (not revoked, not expired). Each session has a CSRF token, an HMAC of its id under a
second derived key: the page sends it in a header on every state-changing request, and it is
compared in constant time. Nothing secret is stored: the database holds ids, identities and times.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from logsluice.domain.errors import AuthenticationError, CsrfTokenError
from logsluice.domain.sessions import ConsoleSession, SessionIdentity
from logsluice.ports import Clock, SessionStore
from logsluice.services.token_text import decode_token, encode_token

COOKIE_VERSION = 1
SESSION_ID_BYTES = 16
MAC_BYTES = 32
DEFAULT_SESSION_TTL = timedelta(hours=12)
# version (1 byte), session id, expiry in epoch seconds (8 bytes, big-endian)
_PAYLOAD = struct.Struct(f">B{SESSION_ID_BYTES}sQ")


@dataclass(frozen=True)
class OpenedSession:
    """A new session with its cookie value and CSRF token (both derived, never stored)."""

    session: ConsoleSession
    cookie_value: str
    csrf_token: str


class SessionService:
    """Opens, verifies and closes console sessions; the clock and the secret are injected."""

    def __init__(
        self,
        store: SessionStore,
        secret: bytes,
        clock: Clock,
        *,
        ttl: timedelta = DEFAULT_SESSION_TTL,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._store = store
        self._mac_key = hmac.new(secret, b"logsluice console session", hashlib.sha256).digest()
        self._csrf_key = hmac.new(secret, b"logsluice console csrf", hashlib.sha256).digest()
        self._clock = clock
        self.ttl = ttl

    def open(self, identity: SessionIdentity) -> OpenedSession:
        """Store a session for ``identity`` lasting the configured TTL; return it with its cookie
        value and CSRF token."""
        now = self._clock.now()
        raw_id = secrets.token_bytes(SESSION_ID_BYTES)
        expires_at = (now + self.ttl).replace(microsecond=0)
        session = ConsoleSession(
            id=raw_id.hex(), identity=identity, created_at=now, expires_at=expires_at
        )
        self._store.create_session(session)
        payload = _PAYLOAD.pack(COOKIE_VERSION, raw_id, int(expires_at.timestamp()))
        cookie_value = encode_token(payload + self._mac(payload))
        return OpenedSession(session, cookie_value, self.csrf_token(session.id))

    def verify(self, cookie_value: str) -> ConsoleSession:
        """Return the live session of a cookie value.

        Raises AuthenticationError for a malformed or forged value, an expired session, or one
        that was signed out (or purged).
        """
        session_id, expires_at = self._authentic_claims(cookie_value)
        if self._clock.now() >= expires_at:
            raise _expired()
        session = self._store.get_session(session_id)
        if session is None or session.revoked_at is not None:
            raise AuthenticationError("this console session has ended; sign in again")
        if not session.is_live(self._clock.now()):
            raise _expired()
        return session

    def find(self, session_id: str) -> ConsoleSession | None:
        """Return the stored session (live or not), None for an unknown id."""
        return self._store.get_session(session_id)

    def csrf_token(self, session_id: str) -> str:
        """Return the CSRF token of the session (the same on every call and every node)."""
        return encode_token(hmac.new(self._csrf_key, session_id.encode(), hashlib.sha256).digest())

    def check_csrf(self, session_id: str, presented: str | None) -> None:
        """Raise CsrfTokenError unless ``presented`` is the session's CSRF token."""
        expected = self.csrf_token(session_id).encode()
        if not presented or not hmac.compare_digest(presented.encode(), expected):
            raise CsrfTokenError(
                "missing or wrong CSRF token: send the session's token in X-CSRF-Token"
            )

    def close(self, session_id: str) -> None:
        """Sign the session out: its cookie is refused from now on, on every node."""
        self._store.revoke_session(session_id, now=self._clock.now())

    def purge_expired(self) -> int:
        """Remove expired sessions from the store; return how many."""
        return self._store.delete_expired_sessions(now=self._clock.now())

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._mac_key, payload, hashlib.sha256).digest()

    def _authentic_claims(self, cookie_value: str) -> tuple[str, datetime]:
        raw = _decode(cookie_value)
        if len(raw) != _PAYLOAD.size + MAC_BYTES:
            raise _invalid()
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise _invalid()
        version, raw_id, expires_epoch = _PAYLOAD.unpack(payload)
        if version != COOKIE_VERSION:
            raise _invalid()
        return raw_id.hex(), datetime.fromtimestamp(expires_epoch, tz=UTC)


def _invalid() -> AuthenticationError:
    return AuthenticationError("the console session cookie is not valid; sign in again")


def _expired() -> AuthenticationError:
    return AuthenticationError("this console session has expired; sign in again")


def _decode(text: str) -> bytes:
    raw = decode_token(text)
    if raw is None:
        raise _invalid()
    return raw
