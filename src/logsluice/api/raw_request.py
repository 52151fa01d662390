"""A request exactly as it arrived, for the vendor dialects whose signatures cover raw bytes.

The vendors sign the path and query as sent (percent-encoding untouched) and the exact body, so the
dialects verify over ASGI's ``raw_path`` and ``query_string``, never over parsed parameters.
"""

from __future__ import annotations

from fastapi import Request

from logsluice.api.signatures import SignedRequest
from logsluice.domain.errors import PayloadTooLargeError


async def read_body_at_most(request: Request, maximum_bytes: int) -> bytes:
    """Return the request body. Raises PayloadTooLargeError past ``maximum_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > maximum_bytes:
        raise _too_large(maximum_bytes)
    body = await request.body()
    if len(body) > maximum_bytes:
        raise _too_large(maximum_bytes)
    return body


def _too_large(maximum_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request body is larger than {maximum_bytes} bytes.", maximum_bytes=maximum_bytes
    )


def signed_request(request: Request, body: bytes) -> SignedRequest:
    """Return the request as received: raw path and query, headers and body, nothing decoded."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    raw_query: bytes = request.scope.get("query_string", b"")
    target = raw_path.decode("latin-1")
    if raw_query:
        target += "?" + raw_query.decode("latin-1")
    headers = [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw
    ]
    return SignedRequest.from_target(request.method, target, headers, body)
