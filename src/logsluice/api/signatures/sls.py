"""Verifies Alibaba Cloud Simple Log Service request signatures (the SLS dialect).

Two schemes arrive in the ``Authorization`` header. v1, ``LOG {ak}:{signature}``: a base64
HMAC over method, ``content-md5``, ``content-type``, ``date``, the ``x-log-*``/``x-acs-*`` headers
and the decoded resource; HMAC-SHA256 when ``x-log-signaturemethod: hmac-sha256`` (the current
SDK), HMAC-SHA1 when that header is absent (the classic scheme). v4, ``SLS4-HMAC-SHA256
Credential=…,Signature=…``: a derived-key scheme over a canonical request whose signed headers are
implied (``host``, ``content-type``, ``x-log-*``, ``x-acs-*``). The body is bound by
``content-md5`` (v1) or ``x-log-content-sha256`` (v4), both checked. The request date may differ
from the server clock by at most 15 minutes either way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from logsluice.api.signatures.canonical import (
    EMPTY_BODY_SHA256_HEX,
    as_utc,
    decode_component,
    encode_unreserved,
    hmac_sha256,
    md5_hex_upper,
    sha256_hex,
    text_of,
    values_match,
)
from logsluice.api.signatures.request import SecretLookup, SignedRequest, VerifiedCaller
from logsluice.domain.errors import SignatureError

V1_PREFIX = "LOG "
V4_ALGORITHM = "SLS4-HMAC-SHA256"
V4_SERVICE = "sls"
V4_TERMINATOR = "aliyun_v4_request"
V4_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SIGNED_HEADER_PREFIXES = ("x-log-", "x-acs-")
DEFAULT_MAX_CLOCK_SKEW = timedelta(minutes=15)


class SlsSignatureError(SignatureError):
    """An SLS authentication failure, carrying Alibaba's status, ``errorCode`` and message."""

    def __init__(self, vendor_status: int, vendor_code: str, message: str) -> None:
        super().__init__(
            message, vendor="sls", vendor_status=vendor_status, vendor_code=vendor_code
        )


def unauthorized(message: str) -> SlsSignatureError:
    return SlsSignatureError(401, "Unauthorized", message)


def signature_not_match(provided: str) -> SlsSignatureError:
    return SlsSignatureError(401, "SignatureNotMatch", f"Signature {provided} not matched.")


def missing_date(header_name: str) -> SlsSignatureError:
    return SlsSignatureError(400, "MissingDate", f"{header_name} does not exist in http header.")


def invalid_request_time(date_text: str) -> SlsSignatureError:
    return SlsSignatureError(
        400, "InvalidRequestTime", f"Request time {date_text} not follow RFC822 spec."
    )


def request_time_expired(date_text: str, now: datetime) -> SlsSignatureError:
    server_time = now.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return SlsSignatureError(
        400,
        "RequestTimeExpired",
        f"Request time {date_text} has been expired while server time is {server_time}.",
    )


def post_body_invalid(message: str) -> SlsSignatureError:
    return SlsSignatureError(400, "PostBodyInvalid", message)


def parameter_invalid(message: str) -> SlsSignatureError:
    return SlsSignatureError(400, "ParameterInvalid", message)


def check_clock_skew(
    date_text: str, signed_at: datetime, now: datetime, max_clock_skew: timedelta
) -> None:
    """Refuses a request dated more than ``max_clock_skew`` from ``now`` (RequestTimeExpired)."""
    if abs(now - signed_at) > max_clock_skew:
        raise request_time_expired(date_text, now)


def find_secret(lookup_secret: SecretLookup, access_key_id: str) -> str:
    """Returns the secret of ``access_key_id``; raises Unauthorized when the key is unknown."""
    secret = lookup_secret(access_key_id)
    if secret is None:
        raise unauthorized(f"AccessKeyId not found: {access_key_id}")
    return secret


def decoded_query(request: SignedRequest) -> list[tuple[str, str | None]]:
    """Decodes the query as the SDK's transport encoded it (``urlencode``: ``+`` is a space)."""
    return sorted(
        (
            text_of(decode_component(parameter.raw_name, plus_is_space=True)),
            None
            if parameter.raw_value is None
            else text_of(decode_component(parameter.raw_value, plus_is_space=True)),
        )
        for parameter in request.query
    )


def decoded_path(request: SignedRequest) -> str:
    return text_of(decode_component(request.raw_path)) or "/"


# --- v1: LOG {ak}:{signature} --------------------------------------------------------------------


def v1_resource(request: SignedRequest) -> str:
    """Returns the decoded path, ``?`` and the sorted ``k=v`` items (``k`` alone when no ``=``)."""
    items = [name if value is None else f"{name}={value}" for name, value in decoded_query(request)]
    return decoded_path(request) + ("?" + "&".join(items) if items else "")


def v1_string_to_sign(request: SignedRequest) -> str:
    """Returns the v1 string to sign from the request as received."""
    headers = request.headers
    lines = [
        request.method.upper(),
        headers.get("content-md5", ""),
        headers.get("content-type", ""),
        headers.get("date", ""),
    ]
    signed = "".join(
        f"{name}:{headers[name]}\n"
        for name in sorted(headers)
        if name.startswith(SIGNED_HEADER_PREFIXES)
    )
    return "\n".join(lines) + "\n" + signed + v1_resource(request)


def v1_digest(request: SignedRequest) -> str:
    """Names the v1 HMAC digest from ``x-log-signaturemethod``; SHA1 when the header is absent."""
    method = request.headers.get("x-log-signaturemethod", "hmac-sha1").strip().lower()
    if method not in ("hmac-sha1", "hmac-sha256"):
        raise parameter_invalid(f"x-log-signaturemethod {method} is unsupported.")
    return method.removeprefix("hmac-")


def v1_expected_signature(request: SignedRequest, secret: str) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), v1_string_to_sign(request).encode("utf-8"), v1_digest(request)
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def v1_signed_at(request: SignedRequest) -> tuple[str, datetime]:
    """Reads the RFC 822 ``Date`` header; raises MissingDate or InvalidRequestTime."""
    date_text = request.headers.get("date", "").strip()
    if not date_text:
        raise missing_date("Date")
    try:
        signed_at = parsedate_to_datetime(date_text)
    except (TypeError, ValueError) as error:
        raise invalid_request_time(date_text) from error
    if signed_at.tzinfo is None:
        raise invalid_request_time(date_text)
    return date_text, signed_at


def check_content_md5(request: SignedRequest) -> None:
    """Checks ``content-md5`` (upper-case hex) against the body; a body without one is refused."""
    content_md5 = request.headers.get("content-md5", "").strip()
    if not content_md5:
        if request.body:
            raise post_body_invalid("Content-MD5 does not exist in http header.")
        return
    if not values_match(md5_hex_upper(request.body), content_md5.upper()):
        raise post_body_invalid(f"Content-MD5 {content_md5} does not match the body.")


def verify_v1(
    request: SignedRequest,
    credential: str,
    lookup_secret: SecretLookup,
    now: datetime,
    max_clock_skew: timedelta,
) -> VerifiedCaller:
    access_key_id, separator, provided = credential.partition(":")
    if not separator or not access_key_id or not provided:
        raise unauthorized("The Authorization header is invalid.")
    date_text, signed_at = v1_signed_at(request)
    check_clock_skew(date_text, signed_at, now, max_clock_skew)
    secret = find_secret(lookup_secret, access_key_id)
    if not values_match(v1_expected_signature(request, secret), provided.strip()):
        raise signature_not_match(provided.strip())
    check_content_md5(request)
    return VerifiedCaller(access_key_id, body_covered=True)


# --- v4: SLS4-HMAC-SHA256 Credential=…,Signature=… -----------------------------------------------


@dataclass(frozen=True)
class V4Authorization:
    """The parsed v4 Authorization header: the credential scope and the hex signature."""

    access_key_id: str
    scope_date: str
    region: str
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.scope_date}/{self.region}/{V4_SERVICE}/{V4_TERMINATOR}"


def parse_v4_authorization(value: str) -> V4Authorization:
    """Parses ``Credential=ak/yyyymmdd/region/sls/aliyun_v4_request,Signature=hex``."""
    fields = dict(part.strip().partition("=")[::2] for part in value.split(","))
    scope = fields.get("Credential", "").split("/")
    signature = fields.get("Signature", "")
    if len(scope) != 5 or not all(scope) or scope[3:] != [V4_SERVICE, V4_TERMINATOR]:
        raise unauthorized("The Authorization header is invalid.")
    if not signature:
        raise unauthorized("The Authorization header is invalid.")
    return V4Authorization(scope[0], scope[1], scope[2], signature)


def v4_signed_headers(request: SignedRequest) -> list[str]:
    return sorted(
        name
        for name in request.headers
        if name in ("host", "content-type") or name.startswith(SIGNED_HEADER_PREFIXES)
    )


def v4_canonical_query(request: SignedRequest) -> str:
    """Returns sorted ``k=quote(v)`` items, or ``k`` alone when the value is empty."""
    return "&".join(
        f"{name}={encode_unreserved(value)}" if value else name
        for name, value in decoded_query(request)
    )


def v4_canonical_request(request: SignedRequest) -> str:
    signed_headers = v4_signed_headers(request)
    header_lines = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        [
            request.method.upper(),
            decoded_path(request),
            v4_canonical_query(request),
            header_lines,
            ";".join(signed_headers),
            request.headers.get("x-log-content-sha256", "").strip(),
        ]
    )


def v4_expected_signature(
    request: SignedRequest, authorization: V4Authorization, secret: str, date_text: str
) -> str:
    signing_key = hmac_sha256(f"aliyun_v4{secret}".encode(), authorization.scope_date)
    for part in (authorization.region, V4_SERVICE, V4_TERMINATOR):
        signing_key = hmac_sha256(signing_key, part)
    canonical_hash = hashlib.sha256(v4_canonical_request(request).encode("utf-8")).hexdigest()
    string_to_sign = f"{V4_ALGORITHM}\n{date_text}\n{authorization.scope}\n{canonical_hash}"
    return hmac_sha256(signing_key, string_to_sign).hex()


def v4_signed_at(request: SignedRequest) -> tuple[str, datetime]:
    """Reads ``x-log-date`` (``yyyymmddThhmmssZ``); raises MissingDate or InvalidRequestTime."""
    date_text = request.headers.get("x-log-date", "").strip()
    if not date_text:
        raise missing_date("x-log-date")
    try:
        signed_at = datetime.strptime(date_text, V4_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as error:
        raise invalid_request_time(date_text) from error
    return date_text, signed_at


def check_content_sha256(request: SignedRequest) -> None:
    """Checks ``x-log-content-sha256`` against the body (the empty-body hash when there is none)."""
    declared = request.headers.get("x-log-content-sha256", "").strip().lower()
    actual = sha256_hex(request.body) if request.body else EMPTY_BODY_SHA256_HEX
    if not values_match(actual, declared):
        raise post_body_invalid("x-log-content-sha256 does not match the body.")


def verify_v4(
    request: SignedRequest,
    credential: str,
    lookup_secret: SecretLookup,
    now: datetime,
    max_clock_skew: timedelta,
) -> VerifiedCaller:
    authorization = parse_v4_authorization(credential)
    date_text, signed_at = v4_signed_at(request)
    check_clock_skew(date_text, signed_at, now, max_clock_skew)
    secret = find_secret(lookup_secret, authorization.access_key_id)
    expected = v4_expected_signature(request, authorization, secret, date_text)
    if authorization.scope_date != date_text[:8] or not values_match(
        expected, authorization.signature.lower()
    ):
        raise signature_not_match(authorization.signature)
    check_content_sha256(request)
    return VerifiedCaller(authorization.access_key_id, body_covered=True)


def verify(
    request: SignedRequest,
    lookup_secret: SecretLookup,
    now: datetime,
    *,
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW,
) -> VerifiedCaller:
    """Verifies an SLS v1 or v4 signed request at the instant ``now`` (timezone-aware).

    Returns the caller whose key signed it. Raises ``SlsSignatureError``: 401 Unauthorized (no or
    malformed Authorization, unknown AccessKeyId), 401 SignatureNotMatch, 400 MissingDate,
    400 InvalidRequestTime, 400 RequestTimeExpired (more than 15 minutes off), 400 ParameterInvalid
    (unknown v1 signature method), 400 PostBodyInvalid (body digest missing or different).
    """
    header_value = request.headers.get("authorization", "").strip()
    now = as_utc(now)
    if header_value.startswith(V1_PREFIX):
        credential = header_value.removeprefix(V1_PREFIX)
        return verify_v1(request, credential, lookup_secret, now, max_clock_skew)
    if header_value.startswith(V4_ALGORITHM + " "):
        credential = header_value.removeprefix(V4_ALGORITHM + " ")
        return verify_v4(request, credential, lookup_secret, now, max_clock_skew)
    if not header_value:
        raise unauthorized("The Authorization header does not exist.")
    raise unauthorized("The Authorization header is invalid.")
