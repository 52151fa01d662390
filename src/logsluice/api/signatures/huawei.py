"""Verifies Huawei Cloud ``SDK-HMAC-SHA256`` request signatures (the Huawei dialect).

The ``Authorization`` header names the access key, the signed headers and the hex signature. The
canonical request is method, the canonical URI (each decoded path segment re-encoded, always ending
in ``/``), the sorted re-encoded query, the listed headers, their names, and the hex SHA-256 of the
body — or the ``X-Sdk-Content-Sha256`` value the SDK sends instead (``UNSIGNED-PAYLOAD`` for
non-JSON bodies, which leaves the body uncovered). ``X-Sdk-Date`` must be signed and within 15
minutes of the server clock. Every failure is the API gateway's ``APIGW.0301`` (401).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from logsluice.api.signatures.canonical import (
    EMPTY_BODY_SHA256_HEX,
    as_utc,
    decode_component,
    encode_unreserved,
    hmac_sha256,
    sha256_hex,
    values_match,
)
from logsluice.api.signatures.request import SecretLookup, SignedRequest, VerifiedCaller
from logsluice.domain.errors import SignatureError

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
CONTENT_HASH_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DEFAULT_MAX_CLOCK_SKEW = timedelta(minutes=15)
ERROR_PREFIX = "Incorrect IAM authentication information: "


class HuaweiSignatureError(SignatureError):
    """An API-gateway authentication failure: status, ``error_code`` and ``error_msg``."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            ERROR_PREFIX + detail, vendor="huawei", vendor_status=401, vendor_code="APIGW.0301"
        )


@dataclass(frozen=True)
class HuaweiAuthorization:
    """The parsed ``SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`` header."""

    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header_value: str) -> HuaweiAuthorization:
    """Splits the Authorization header; raises APIGW.0301 when it is missing or malformed."""
    if not header_value:
        raise HuaweiSignatureError("Authorization header is missing")
    algorithm, _, credential = header_value.partition(" ")
    if algorithm != ALGORITHM:
        raise HuaweiSignatureError(f"unsupported signing algorithm {algorithm}")
    fields = dict(part.strip().partition("=")[::2] for part in credential.split(","))
    access_key_id = fields.get("Access", "")
    signed_headers = tuple(name for name in fields.get("SignedHeaders", "").split(";") if name)
    signature = fields.get("Signature", "")
    if not (access_key_id and signed_headers and signature):
        raise HuaweiSignatureError("Authorization header is malformed")
    return HuaweiAuthorization(access_key_id, signed_headers, signature)


def canonical_uri(raw_path: str) -> str:
    """Re-encodes each decoded ``/`` segment with ``~`` kept; the result always ends with ``/``."""
    segments = decode_component(raw_path or "/").split(b"/")
    uri = "/".join(encode_unreserved(segment) for segment in segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(request: SignedRequest) -> str:
    """Returns ``quote(k)=quote(v)`` items sorted by decoded name then value, joined with ``&``."""
    pairs = sorted(
        (decode_component(parameter.raw_name), decode_component(parameter.raw_value or ""))
        for parameter in request.query
    )
    return "&".join(
        f"{encode_unreserved(name)}={encode_unreserved(value)}" for name, value in pairs
    )


def payload_hash(request: SignedRequest) -> str:
    """Returns the body hash the SDK signed: empty-body hash, X-Sdk-Content-Sha256, or SHA-256."""
    if not request.body:
        return EMPTY_BODY_SHA256_HEX
    declared = request.headers.get(CONTENT_HASH_HEADER, "").strip()
    return declared or sha256_hex(request.body)


def canonical_request(request: SignedRequest, signed_headers: tuple[str, ...]) -> str:
    header_lines = "".join(
        f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed_headers
    )
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request),
            header_lines,
            ";".join(signed_headers),
            payload_hash(request),
        ]
    )


def expected_signature(
    request: SignedRequest, authorization: HuaweiAuthorization, secret: str, date_text: str
) -> str:
    canonical_hash = sha256_hex(
        canonical_request(request, authorization.signed_headers).encode("utf-8")
    )
    string_to_sign = f"{ALGORITHM}\n{date_text}\n{canonical_hash}"
    return hmac_sha256(secret.encode("utf-8"), string_to_sign).hex()


def signed_date(
    request: SignedRequest, authorization: HuaweiAuthorization, now: datetime, skew: timedelta
) -> str:
    """Returns the ``X-Sdk-Date`` text after checking it is signed, well-formed and fresh."""
    date_text = request.headers.get(DATE_HEADER, "").strip()
    signed_names = {name.lower() for name in authorization.signed_headers}
    if not date_text or DATE_HEADER not in signed_names:
        raise HuaweiSignatureError("X-Sdk-Date is missing or not signed")
    try:
        signed_at = datetime.strptime(date_text, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as error:
        raise HuaweiSignatureError("X-Sdk-Date is malformed") from error
    if abs(now - signed_at) > skew:
        raise HuaweiSignatureError("X-Sdk-Date is expired")
    return date_text


def check_payload(request: SignedRequest) -> bool:
    """Checks a hex ``X-Sdk-Content-Sha256`` against the body.

    Returns whether the body is covered (false for ``UNSIGNED-PAYLOAD``).
    """
    declared = request.headers.get(CONTENT_HASH_HEADER, "").strip()
    if not request.body or not declared:
        return True
    if declared == UNSIGNED_PAYLOAD:
        return False
    if not values_match(sha256_hex(request.body), declared.lower()):
        raise HuaweiSignatureError("X-Sdk-Content-Sha256 does not match the body")
    return True


def verify(
    request: SignedRequest,
    lookup_secret: SecretLookup,
    now: datetime,
    *,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
) -> VerifiedCaller:
    """Verifies an ``SDK-HMAC-SHA256`` signed request at the instant ``now`` (timezone-aware).

    Returns the caller whose key signed it. Raises ``HuaweiSignatureError`` (401 ``APIGW.0301``)
    with a message saying what failed: missing or malformed Authorization, X-Sdk-Date missing,
    unsigned, malformed or more than 15 minutes off, unknown access key, ``verify aksk signature
    fail``, or a body that differs from its declared hash.
    """
    authorization = parse_authorization(request.headers.get("authorization", "").strip())
    date_text = signed_date(request, authorization, as_utc(now), max_clock_skew)
    secret = lookup_secret(authorization.access_key_id)
    if secret is None:
        raise HuaweiSignatureError("ak not found")
    expected = expected_signature(request, authorization, secret, date_text)
    if not values_match(expected, authorization.signature.lower()):
        raise HuaweiSignatureError("verify aksk signature fail")
    return VerifiedCaller(authorization.access_key_id, body_covered=check_payload(request))
