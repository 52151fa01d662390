"""How bce-sdk-go 0.9.273 signs a request (reference §1.5/§1.6), written independently of the
verifier in ``logsluice.api.signatures.bce``: listed headers, Content-MD5, ``x-bce-request-id``
sent but not signed. The Go SDK is not on a package registry, so the tests sign its way by hand."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote

GO_USER_AGENT = "bce-sdk-go/0.9.273/go1.19.8/linux/amd64"
GO_REQUEST_ID = "e5fd90d2-1582-4652-9a97-0ee903b16f9e"
_ALWAYS_SIGNED = {"host", "content-length", "content-type", "content-md5"}


def go_signed_headers(
    access_key_id: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    *,
    signed_at: datetime,
    host: str,
) -> dict[str, str]:
    """Return the headers bce-sdk-go sends for ``method path`` and ``body``, signature included."""
    date = signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "Host": host,
        "User-Agent": GO_USER_AGENT,
        "Content-Type": "application/json;charset=utf-8",
        "x-bce-date": date,
        "x-bce-request-id": GO_REQUEST_ID,
    }
    if body:
        headers["Content-Length"] = str(len(body))
        headers["Content-Md5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    signed = sorted(
        name.lower()
        for name in headers
        if name.lower() in _ALWAYS_SIGNED
        or (name.lower().startswith("x-bce-") and name.lower() != "x-bce-request-id")
    )
    lowered = {name.lower(): value for name, value in headers.items()}
    canonical_headers = "\n".join(
        sorted(
            f"{quote(name, safe='~')}:{quote(lowered[name].strip(), safe='~')}" for name in signed
        )
    )
    prefix = f"bce-auth-v1/{access_key_id}/{date}/1800"
    signing_key = hmac.new(secret.encode(), prefix.encode(), hashlib.sha256).hexdigest()
    canonical = "\n".join([method, quote(path, safe="/~"), "", canonical_headers])
    signature = hmac.new(signing_key.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"{prefix}/{';'.join(signed)}/{signature}"
    return headers
