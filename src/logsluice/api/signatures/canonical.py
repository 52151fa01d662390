"""Small building blocks the three vendor signature schemes share.

Percent-decoding and RFC 3986 re-encoding, digests, HMAC and a constant-time comparison. Each
vendor composes these into its own canonical request; nothing here knows a vendor's rules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote, unquote_to_bytes

EMPTY_BODY_SHA256_HEX = hashlib.sha256(b"").hexdigest()


def as_utc(now: datetime) -> datetime:
    """Returns ``now`` in UTC; raises ``ValueError`` for a naive datetime (a clock bug)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the verification instant must be timezone-aware")
    return now.astimezone(UTC)


def decode_component(raw: str, *, plus_is_space: bool = False) -> bytes:
    """Percent-decodes one path or query component.

    Returns the raw bytes (not text), so re-encoding is exact even for non-UTF-8 input.
    """
    if plus_is_space:
        raw = raw.replace("+", " ")
    return unquote_to_bytes(raw)


def encode_unreserved(value: str | bytes, *, keep_slash: bool = False) -> str:
    """Percent-encodes everything but RFC 3986 unreserved characters (and ``/`` when asked).

    Returns upper-case ``%XX`` escapes, as every vendor signer produces.
    """
    return quote(value, safe="/~" if keep_slash else "~")


def text_of(value: bytes) -> str:
    """Decodes bytes as UTF-8; undecodable bytes become U+FFFD, so such a request cannot verify."""
    return value.decode("utf-8", errors="replace")


def sha256_hex(data: bytes) -> str:
    """Returns the lower-case hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def md5_base64(data: bytes) -> str:
    """Returns the base64 MD5 digest of ``data`` (the RFC 1864 ``Content-MD5`` form)."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def md5_hex_upper(data: bytes) -> str:
    """Returns the upper-case hex MD5 digest of ``data`` (the form Alibaba SLS sends)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest().upper()


def hmac_sha256(key: bytes, message: str) -> bytes:
    """Returns the HMAC-SHA256 of the UTF-8 ``message`` under ``key``."""
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def values_match(expected: str, provided: str) -> bool:
    """Compares two signatures or digests in constant time.

    Returns ``True`` only when both are byte-for-byte equal.
    """
    return hmac.compare_digest(expected.encode("utf-8"), provided.encode("utf-8"))
