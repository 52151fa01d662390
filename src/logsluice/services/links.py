"""Signed, expiring links to artifacts: opaque tokens HMAC-SHA256-signed per installation.

A token carries the project, the task id, the artifact key and the expiry; it is the only credential
``GET /downloads/{token}`` needs, so it is signed (a tampered token is refused) and short-lived (one
hour by default, a caller-chosen ``ttl`` within bounds). It is also opaque: the claims are encrypted
(AES-256-CTR with a random nonce), then the nonce and ciphertext are signed with HMAC-SHA256
(encrypt-then-MAC), with both keys derived from the installation secret, so a link reveals nothing
about the project or its files. The secret lives in the data directory with mode 0600 unless the
settings supply one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from logsluice.domain.errors import InvalidInputError, LinkExpiredError, LinkInvalidError
from logsluice.domain.links import DEFAULT_LINK_TTL, MAXIMUM_LINK_TTL, MINIMUM_LINK_TTL
from logsluice.ports import Clock
from logsluice.services.token_text import decode_token, encode_token

TOKEN_VERSION = 2
NONCE_BYTES = 16
MAC_BYTES = 32
SECRET_BYTES = 32


@dataclass(frozen=True)
class LinkClaims:
    """What a verified token grants: one artifact of one task of one project, until expiry."""

    project: str
    task_id: str
    artifact_key: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedLink:
    """A freshly signed token and the moment it stops working; ``direct_url`` is the object
    store's own (presigned) URL of the file when it serves downloads itself."""

    token: str
    expires_at: datetime
    direct_url: str | None = None

    def url(self, base_url: str) -> str:
        """Return the URL to give the caller: the direct one, else ``/downloads/{token}`` on
        ``base_url`` (this server as the client reaches it)."""
        return self.direct_url or f"{base_url.rstrip('/')}/downloads/{self.token}"


class LinkSigner:
    """Signs and verifies download tokens with one secret and an injected clock."""

    def __init__(
        self,
        secret: bytes,
        clock: Clock,
        *,
        default_ttl: timedelta = DEFAULT_LINK_TTL,
        minimum_ttl: timedelta = MINIMUM_LINK_TTL,
        maximum_ttl: timedelta = MAXIMUM_LINK_TTL,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the link secret must be at least 16 bytes")
        self._mac_key = hmac.new(secret, b"logsluice link signature", hashlib.sha256).digest()
        self._cipher_key = hmac.new(secret, b"logsluice link encryption", hashlib.sha256).digest()
        self._clock = clock
        self._default_ttl = default_ttl
        self._minimum_ttl = minimum_ttl
        self._maximum_ttl = maximum_ttl

    def sign(
        self, project: str, task_id: str, artifact_key: str, ttl: timedelta | None = None
    ) -> SignedLink:
        """Return a token for the artifact valid for ``ttl`` (the default TTL when None).

        Raises InvalidInputError when ``ttl`` is outside the configured bounds.
        """
        lifetime = self._check_ttl(ttl if ttl is not None else self._default_ttl)
        expires_at = (self._clock.now() + lifetime).replace(microsecond=0)
        payload = [TOKEN_VERSION, project, task_id, artifact_key, int(expires_at.timestamp())]
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._crypt(nonce, json.dumps(payload, separators=(",", ":")).encode())
        return SignedLink(token=encode_token(sealed + self._mac(sealed)), expires_at=expires_at)

    def verify(self, token: str) -> LinkClaims:
        """Return the token's claims.

        Raises LinkInvalidError for a malformed or tampered token, LinkExpiredError past its expiry.
        """
        body = self._authentic_body(token)
        claims = _claims_from_body(body)
        if self._clock.now() >= claims.expires_at:
            raise LinkExpiredError(
                "this download link has expired; ask for a new one",
                expired_at=claims.expires_at.isoformat(),
            )
        return claims

    def _check_ttl(self, ttl: timedelta) -> timedelta:
        if not self._minimum_ttl <= ttl <= self._maximum_ttl:
            raise InvalidInputError(
                f"ttl must be between {int(self._minimum_ttl.total_seconds())} and "
                f"{int(self._maximum_ttl.total_seconds())} seconds",
                field="ttl",
                minimum_seconds=int(self._minimum_ttl.total_seconds()),
                maximum_seconds=int(self._maximum_ttl.total_seconds()),
            )
        return ttl

    def _mac(self, sealed: bytes) -> bytes:
        return hmac.new(self._mac_key, sealed, hashlib.sha256).digest()

    def _crypt(self, nonce: bytes, data: bytes) -> bytes:
        """Encrypt or decrypt (CTR mode is its own inverse) ``data`` under ``nonce``."""
        cipher = Cipher(algorithms.AES(self._cipher_key), modes.CTR(nonce)).encryptor()
        return cipher.update(data) + cipher.finalize()

    def _authentic_body(self, token: str) -> bytes:
        raw = _decode(token)
        if len(raw) <= NONCE_BYTES + MAC_BYTES:
            raise _invalid()
        sealed, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(sealed)):
            raise _invalid()
        return self._crypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:])


def _claims_from_body(body: bytes) -> LinkClaims:
    try:
        version, project, task_id, artifact_key, expires_epoch = json.loads(body)
        if version != TOKEN_VERSION:
            raise _invalid()
        return LinkClaims(
            project=str(project),
            task_id=str(task_id),
            artifact_key=str(artifact_key),
            expires_at=datetime.fromtimestamp(int(expires_epoch), tz=UTC),
        )
    except (ValueError, TypeError) as error:
        raise _invalid() from error


def _invalid() -> LinkInvalidError:
    return LinkInvalidError("this download link is not valid")


def _decode(text: str) -> bytes:
    raw = decode_token(text)
    if raw is None:
        raise _invalid()
    return raw


def load_or_create_link_secret(path: Path) -> bytes:
    """Return the installation's link secret stored at ``path``, creating it (mode 0600) if absent.

    The secret is written to a private temporary file and hard-linked into place, so concurrent
    first starts agree on one secret and nobody ever reads a half-written file.
    """
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as secret_file:
        secret_file.write(secrets.token_hex(SECRET_BYTES).encode("ascii"))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process won the race: everyone uses its secret
    finally:
        temporary.unlink()
    return path.read_bytes()
