"""The text form of signed tokens (download links, console session cookies): base64url, unpadded.

Decoding is strict, so a token has exactly one spelling: only the 64 URL-safe characters, no
padding, no length a base64 text never has, and no set bits in the unused low bits of the last
character. Python's lenient decoder maps several texts to one byte string (the last character's
padding bits, ``+``/``/`` beside ``-``/``_``, characters it skips), which would let a changed token
open the same file; here the decoded bytes are re-encoded and must give back the very text.
"""

from __future__ import annotations

import base64
import binascii
import re

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def encode_token(raw: bytes) -> str:
    """Return the canonical text of ``raw``: URL-safe base64 without ``=`` padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_token(text: str) -> bytes | None:
    """Return the bytes whose canonical text is exactly ``text``, else None (not a valid token)."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - the pattern and length rule it out
        return None
    return raw if encode_token(raw) == text else None
