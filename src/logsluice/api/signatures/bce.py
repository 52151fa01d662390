"""Verifies Baidu AI Cloud ``bce-auth-v1`` request signatures (the BLS dialect).

Both official signers are accepted: the Go SDK lists its signed headers in the ``Authorization``
header (``content-type;host;x-bce-date`` …), the Python SDK leaves the list empty and signs the
default set — ``host``, ``content-md5``, ``content-length``, ``content-type`` and every ``x-bce-*``
header present. The signature does not cover the body; when ``Content-MD5`` is present it is
checked against the body, otherwise the caller is marked ``body_covered=False``. Freshness comes
from the timestamp and ``expirationPeriodInSeconds`` inside the ``Authorization`` header, with a
bounded allowance for a client clock running ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from logsluice.api.signatures.canonical import (
    as_utc,
    decode_component,
    encode_unreserved,
    hmac_sha256,
    md5_base64,
    values_match,
)
from logsluice.api.signatures.request import (
    SecretLookup,
    SignedRequest,
    VerifiedCaller,
)
from logsluice.domain.errors import SignatureError

AUTH_PREFIX = "bce-auth-v1"
DEFAULT_SIGNED_HEADERS = frozenset({"host", "content-md5", "content-length", "content-type"})
BCE_HEADER_PREFIX = "x-bce-"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_MAX_CLOCK_SKEW = timedelta(minutes=15)


class BceSignatureError(SignatureError):
    """A ``bce-auth-v1`` failure, carrying Baidu's status, code and message."""

    def __init__(self, vendor_status: int, vendor_code: str, message: str) -> None:
        super().__init__(
            message, vendor="bls", vendor_status=vendor_status, vendor_code=vendor_code
        )


def access_denied() -> BceSignatureError:
    return BceSignatureError(403, "AccessDenied", "Access denied.")


def invalid_auth_header() -> BceSignatureError:
    return BceSignatureError(
        400,
        "InvalidHTTPAuthHeader",
        "The HTTP authorization header is invalid. Consult the service documentation for details.",
    )


def invalid_access_key_id() -> BceSignatureError:
    return BceSignatureError(
        403,
        "InvalidAccessKeyId",
        "The Access Key ID you provided does not exist in our records.",
    )


def signature_does_not_match() -> BceSignatureError:
    return BceSignatureError(
        400,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your Secret Access Key and signing method. "
        "Consult the service documentation for details.",
    )


def request_expired(timestamp_text: str) -> BceSignatureError:
    return BceSignatureError(
        400, "RequestExpired", f"Request has expired. Timestamp date is {timestamp_text}."
    )


def invalid_http_request() -> BceSignatureError:
    return BceSignatureError(
        400, "InvalidHTTPRequest", "There was an error in the body of your HTTP request."
    )


def bad_digest() -> BceSignatureError:
    return BceSignatureError(
        400, "BadDigest", "The Content-MD5 you specified did not match what we received."
    )


@dataclass(frozen=True)
class BceAuthorization:
    """The parsed fields of a ``bce-auth-v1`` Authorization header, texts kept as sent."""

    access_key_id: str
    timestamp_text: str
    expiration_text: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def signing_key_info(self) -> str:
        return f"{AUTH_PREFIX}/{self.access_key_id}/{self.timestamp_text}/{self.expiration_text}"

    @property
    def signed_at(self) -> datetime:
        return datetime.strptime(self.timestamp_text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)

    @property
    def expiration(self) -> timedelta:
        return timedelta(seconds=int(self.expiration_text))


def parse_authorization(header_value: str) -> BceAuthorization:
    """Splits a ``bce-auth-v1/ak/timestamp/expiration/signedHeaders/signature`` value.

    Returns the fields; raises ``BceSignatureError`` (InvalidHTTPAuthHeader) when malformed.
    """
    fields = header_value.strip().split("/")
    if len(fields) != 6 or fields[0] != AUTH_PREFIX or not fields[1] or not fields[5]:
        raise invalid_auth_header()
    if not (fields[3].isascii() and fields[3].isdigit()) or int(fields[3]) == 0:
        raise invalid_auth_header()
    try:
        datetime.strptime(fields[2], TIMESTAMP_FORMAT)
    except ValueError as error:
        raise invalid_auth_header() from error
    authorization = BceAuthorization(
        access_key_id=fields[1],
        timestamp_text=fields[2],
        expiration_text=fields[3],
        signed_headers=tuple(name.strip().lower() for name in fields[4].split(";") if name),
        signature=fields[5],
    )
    return authorization


def canonical_uri(raw_path: str) -> str:
    """Decodes the received path and re-encodes it with RFC 3986 unreserved characters and ``/``."""
    return encode_unreserved(decode_component(raw_path or "/"), keep_slash=True)


def canonical_query(request: SignedRequest) -> str:
    """Returns the sorted ``name=value`` items, re-encoded, without ``authorization``."""
    items = []
    for parameter in request.query:
        name = decode_component(parameter.raw_name)
        if name.lower() == b"authorization":
            continue
        value = decode_component(parameter.raw_value or "")
        items.append(f"{encode_unreserved(name)}={encode_unreserved(value)}")
    return "&".join(sorted(items))


def headers_to_sign(request: SignedRequest, listed_headers: tuple[str, ...]) -> set[str]:
    """Picks the signed header names: exactly the listed ones, else the Python SDK's default set."""
    if listed_headers:
        return set(listed_headers)
    return {
        name
        for name in request.headers
        if name in DEFAULT_SIGNED_HEADERS or name.startswith(BCE_HEADER_PREFIX)
    }


def canonical_headers(request: SignedRequest, listed_headers: tuple[str, ...]) -> str:
    """Returns ``name:value`` lines of the signed headers with a non-empty value, sorted."""
    lines = []
    for name in headers_to_sign(request, listed_headers):
        value = request.headers.get(name, "").strip()
        if value:
            lines.append(f"{encode_unreserved(name)}:{encode_unreserved(value)}")
    return "\n".join(sorted(lines))


def expected_signature(
    request: SignedRequest, authorization: BceAuthorization, secret_access_key: str
) -> str:
    """Computes the hex signature the client must have sent, from the request as received."""
    signing_key = hmac_sha256(secret_access_key.encode("utf-8"), authorization.signing_key_info)
    canonical_request = "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request),
            canonical_headers(request, authorization.signed_headers),
        ]
    )
    return hmac_sha256(signing_key.hex().encode("ascii"), canonical_request).hex()


def check_freshness(
    authorization: BceAuthorization, now: datetime, max_clock_skew: timedelta
) -> None:
    """Refuses a request past its expiration or dated too far in the future (RequestExpired)."""
    signed_at = authorization.signed_at
    if now > signed_at + authorization.expiration or signed_at > now + max_clock_skew:
        raise request_expired(authorization.timestamp_text)


def check_body(request: SignedRequest, authorization: BceAuthorization) -> bool:
    """Checks the body against ``Content-Length`` and ``Content-MD5`` when they are present.

    Returns whether the body is covered by the signature (a signed ``Content-MD5``); raises
    InvalidHTTPRequest when the length differs, BadDigest when the digest differs.
    """
    content_length = request.headers.get("content-length", "").strip()
    if content_length and content_length != str(len(request.body)):
        raise invalid_http_request()
    content_md5 = request.headers.get("content-md5", "").strip()
    if not content_md5:
        return False
    if not values_match(md5_base64(request.body), content_md5):
        raise bad_digest()
    return "content-md5" in headers_to_sign(request, authorization.signed_headers)


def verify(
    request: SignedRequest,
    lookup_secret: SecretLookup,
    now: datetime,
    *,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
) -> VerifiedCaller:
    """Verifies a ``bce-auth-v1`` signed request at the instant ``now`` (timezone-aware).

    Returns the caller whose key signed it. Raises ``BceSignatureError``: AccessDenied (no
    Authorization), InvalidHTTPAuthHeader (malformed), RequestExpired (stale or from the future),
    InvalidAccessKeyId (unknown key), SignatureDoesNotMatch, InvalidHTTPRequest (body length ≠
    Content-Length), BadDigest (Content-MD5 ≠ body).
    """
    header_value = request.headers.get("authorization", "").strip()
    if not header_value:
        raise access_denied()
    authorization = parse_authorization(header_value)
    check_freshness(authorization, as_utc(now), max_clock_skew)
    secret_access_key = lookup_secret(authorization.access_key_id)
    if secret_access_key is None:
        raise invalid_access_key_id()
    expected = expected_signature(request, authorization, secret_access_key)
    if not values_match(expected, authorization.signature.lower()):
        raise signature_does_not_match()
    body_covered = check_body(request, authorization)
    return VerifiedCaller(
        authorization.access_key_id, body_covered=body_covered or not request.body
    )
