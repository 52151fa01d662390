"""bce-auth-v1 verification against requests signed by Baidu's own Python SDK (bce-python-sdk).

Signed requests come from two places, neither touching the network:
* ``baidubce.auth.bce_v1_signer.sign`` called directly, with the headers and wire query string
  built the way ``baidubce.http.bce_http_client.send_request`` builds them, at a chosen timestamp;
* the real ``BlsClient._send_request`` with the SDK's last step (the socket write,
  ``bce_http_client._send_http_request``) replaced by a recorder — the exact method, URI, headers
  and body it would send.
The Go SDK (not on a package registry) is mimicked by hand from the reference: it lists its signed
headers, sends Content-MD5 and leaves x-bce-request-id unsigned.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from baidubce.auth import bce_v1_signer
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.exception import BceHttpClientError
from baidubce.http import bce_http_client, http_methods
from baidubce.retry.retry_policy import NoRetryPolicy
from baidubce.services.bls.bls_client import BlsClient
from baidubce.utils import get_canonical_querystring
from tests.go_bce_signer import go_signed_headers

from logsluice.api.signatures import bce
from logsluice.api.signatures.request import Headers, SignedRequest, VerifiedCaller
from logsluice.domain.errors import AuthenticationError, SignatureError

ACCESS_KEY_ID = "test-bce-ak"
SECRET_ACCESS_KEY = "test-bce-sk"
HOST = "127.0.0.1:33809"
SIGNED_AT = datetime(2026, 11, 22, 11, 51, 20, tzinfo=UTC)
CREATE_BODY = json.dumps(
    {
        "name": "sdk-download-task-test",
        "project": "default",
        "logStoreName": "sdk-logstore-test",
        "logStreamName": "",
        "query": "match *",
        "queryStartTime": "2026-11-22T10:50:00Z",
        "queryEndTime": "2026-11-22T11:00:00Z",
        "format": "json",
        "limit": 100,
        "order": "desc",
        "fileDir": "",
    },
    separators=(",", ":"),
).encode()


def lookup_secret(access_key_id: str) -> str | None:
    return {ACCESS_KEY_ID: SECRET_ACCESS_KEY}.get(access_key_id)


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def python_sdk_request(
    method: bytes,
    path: bytes,
    params: dict[bytes, bytes] | None = None,
    body: bytes = b"",
    signed_at: datetime = SIGNED_AT,
    secret: str = SECRET_ACCESS_KEY,
) -> SignedRequest:
    """Signs with bce_v1_signer.sign exactly as bce_http_client.send_request prepares it."""
    timestamp = int(signed_at.timestamp())
    headers: dict[bytes, Any] = {
        b"Content-Type": b"application/json;charset=UTF-8",
        b"x-bce-request-id": b"d215c2f9-078f-4359-a863-14f404db0e44",
        b"User-Agent": b"bce-sdk-python/0.9.79/3.11.7/linux",
        b"Host": HOST.encode(),
        b"Content-Length": len(body),
        b"x-bce-date": signed_at.strftime("%Y-%m-%dT%H:%M:%SZ").encode(),
    }
    credentials = BceCredentials(ACCESS_KEY_ID, secret)
    headers[b"Authorization"] = bce_v1_signer.sign(
        credentials, method, path, headers, params, timestamp=timestamp
    )
    query = get_canonical_querystring(params, False) if params else b""
    target = path + (b"?" + query if query else b"")
    return SignedRequest.from_target(
        text(method), text(target), [(text(k), text(v)) for k, v in headers.items()], body
    )


def go_sdk_request(
    method: str,
    path: str,
    body: bytes = b"",
    signed_at: datetime = SIGNED_AT,
    secret: str = SECRET_ACCESS_KEY,
) -> SignedRequest:
    """Mimics bce-sdk-go 0.9.273 (reference §1.5/§1.6), written independently of the verifier."""
    headers = go_signed_headers(
        ACCESS_KEY_ID, secret, method, path, body, signed_at=signed_at, host=HOST
    )
    return SignedRequest.from_target(method, path, headers, body)


def with_header(request: SignedRequest, name: str, value: str) -> SignedRequest:
    headers = {**dict(request.headers), name.lower(): value}
    return replace(request, headers=Headers(headers))


def refusal(request: SignedRequest, now: datetime = SIGNED_AT) -> bce.BceSignatureError:
    with pytest.raises(bce.BceSignatureError) as caught:
        bce.verify(request, lookup_secret, now)
    return caught.value


def test_python_sdk_post_is_accepted_but_its_body_is_not_covered() -> None:
    request = python_sdk_request(b"POST", b"/v2/logstore/download", body=CREATE_BODY)
    assert request.headers["authorization"].split("/")[4] == ""  # Python's empty list
    assert bce.verify(request, lookup_secret, SIGNED_AT) == VerifiedCaller(
        ACCESS_KEY_ID, body_covered=False
    )


def test_go_sdk_post_with_listed_headers_and_content_md5_is_accepted_and_covers_the_body() -> None:
    request = go_sdk_request("POST", "/v2/logstore/download", CREATE_BODY)
    signed_list = request.headers["authorization"].split("/")[4]
    assert signed_list == "content-length;content-md5;content-type;host;x-bce-date"
    assert bce.verify(request, lookup_secret, SIGNED_AT) == VerifiedCaller(
        ACCESS_KEY_ID, body_covered=True
    )


def test_go_sdk_get_signs_only_content_type_host_and_date() -> None:
    request = go_sdk_request("GET", "/v2/logstore/download/1b1e8df9-0000")
    assert request.headers["authorization"].split("/")[4] == "content-type;host;x-bce-date"
    assert bce.verify(request, lookup_secret, SIGNED_AT).access_key_id == ACCESS_KEY_ID


def test_python_sdk_query_with_reserved_characters_is_accepted() -> None:
    params = {b"query": b"match * | a=b", b"pageNo": b"1", b"empty": b""}
    request = python_sdk_request(b"GET", b"/v2/logstore/download/list", params=params)
    assert any(p.raw_value == "match%20%2A%20%7C%20a%3Db" for p in request.query)
    assert bce.verify(request, lookup_secret, SIGNED_AT).access_key_id == ACCESS_KEY_ID


def test_go_sdk_body_changed_by_one_byte_is_bad_digest() -> None:
    request = go_sdk_request("POST", "/v2/logstore/download", CREATE_BODY)
    tampered = replace(request, body=CREATE_BODY.replace(b'limit":100', b'limit":900'))
    error = refusal(tampered)
    assert (error.vendor_status, error.vendor_code) == (400, "BadDigest")


def test_python_sdk_body_is_only_protected_by_its_signed_content_length() -> None:
    request = python_sdk_request(b"POST", b"/v2/logstore/download", body=CREATE_BODY)
    same_length = replace(request, body=CREATE_BODY.replace(b'limit":100', b'limit":900'))
    assert bce.verify(same_length, lookup_secret, SIGNED_AT).body_covered is False
    longer = replace(request, body=CREATE_BODY + b" ")
    assert (refusal(longer).vendor_status, refusal(longer).vendor_code) == (
        400,
        "InvalidHTTPRequest",
    )
    relabelled = with_header(longer, "content-length", str(len(CREATE_BODY) + 1))
    assert refusal(relabelled).vendor_code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("signer", ["python", "go"])
def test_a_one_byte_change_in_the_path_does_not_match(signer: str) -> None:
    if signer == "python":
        request = python_sdk_request(b"GET", b"/v2/logstore/download/abc")
    else:
        request = go_sdk_request("GET", "/v2/logstore/download/abc")
    error = refusal(replace(request, raw_path="/v2/logstore/download/abd"))
    assert (error.vendor_status, error.vendor_code) == (400, "SignatureDoesNotMatch")
    assert error.message.startswith("The request signature we calculated does not match")


def test_a_one_byte_change_in_a_query_value_does_not_match() -> None:
    request = python_sdk_request(b"GET", b"/v2/logstore/download/list", params={b"pageNo": b"1"})
    tampered = SignedRequest.from_target(
        "GET", "/v2/logstore/download/list?pageNo=2", request.headers, request.body
    )
    assert refusal(tampered).vendor_code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("signer", "header", "value"),
    [
        ("python", "content-type", "application/json;charset=UTF-9"),
        ("python", "x-bce-request-id", "d215c2f9-078f-4359-a863-14f404db0e45"),
        ("python", "host", "127.0.0.1:33808"),
        ("go", "content-type", "application/json;charset=utf-9"),
        ("go", "host", "127.0.0.1:33808"),
        ("go", "x-bce-date", "2026-11-22T11:51:21Z"),
    ],
)
def test_a_changed_signed_header_does_not_match(signer: str, header: str, value: str) -> None:
    if signer == "python":
        request = python_sdk_request(b"GET", b"/v2/logstore/download/abc")
    else:
        request = go_sdk_request("GET", "/v2/logstore/download/abc")
    error = refusal(with_header(request, header, value))
    assert (error.vendor_status, error.vendor_code) == (400, "SignatureDoesNotMatch")


def test_go_sdk_unsigned_request_id_and_user_agent_may_change() -> None:
    request = go_sdk_request("GET", "/v2/logstore/download/abc")
    changed = with_header(with_header(request, "x-bce-request-id", "other"), "user-agent", "x")
    assert bce.verify(changed, lookup_secret, SIGNED_AT).access_key_id == ACCESS_KEY_ID


def test_a_request_past_its_expiration_period_has_expired() -> None:
    request = python_sdk_request(b"GET", b"/v2/logstore/download/abc")
    assert bce.verify(request, lookup_secret, SIGNED_AT + timedelta(seconds=1800))
    error = refusal(request, now=SIGNED_AT + timedelta(seconds=1801))
    assert (error.vendor_status, error.vendor_code) == (400, "RequestExpired")
    assert error.message == "Request has expired. Timestamp date is 2026-11-22T11:51:20Z."


def test_a_request_dated_too_far_ahead_of_the_server_clock_has_expired() -> None:
    request = go_sdk_request("GET", "/v2/logstore/download/abc")
    assert bce.verify(request, lookup_secret, SIGNED_AT - timedelta(minutes=15))
    error = refusal(request, now=SIGNED_AT - timedelta(minutes=15, seconds=1))
    assert error.vendor_code == "RequestExpired"


def test_a_wrong_secret_does_not_match() -> None:
    request = python_sdk_request(b"GET", b"/v2/logstore/download/abc", secret="other-secret")
    assert refusal(request).vendor_code == "SignatureDoesNotMatch"


def test_an_unknown_access_key_is_invalid_access_key_id() -> None:
    request = go_sdk_request("GET", "/v2/logstore/download/abc")
    authorization = request.headers["authorization"].replace(ACCESS_KEY_ID, "unknown-ak")
    error = refusal(with_header(request, "authorization", authorization))
    assert (error.vendor_status, error.vendor_code) == (403, "InvalidAccessKeyId")


def test_a_missing_authorization_is_access_denied() -> None:
    request = SignedRequest.from_target("GET", "/v2/logstore/download/abc", {"Host": HOST})
    error = refusal(request)
    assert (error.vendor_status, error.vendor_code, error.message) == (
        403,
        "AccessDenied",
        "Access denied.",
    )


@pytest.mark.parametrize(
    "authorization",
    [
        "bce-auth-v2/test-bce-ak/2026-11-22T11:51:20Z/1800//abc",
        "bce-auth-v1/test-bce-ak/2026-11-22 11:51:20/1800//abc",
        "bce-auth-v1/test-bce-ak/2026-11-22T11:51:20Z/-5//abc",
        "bce-auth-v1/test-bce-ak/2026-11-22T11:51:20Z/1800/abc",
        "bce-auth-v1//2026-11-22T11:51:20Z/1800//abc",
    ],
)
def test_a_malformed_authorization_is_invalid_http_auth_header(authorization: str) -> None:
    request = SignedRequest.from_target("GET", "/", {"Host": HOST, "Authorization": authorization})
    error = refusal(request)
    assert (error.vendor_status, error.vendor_code) == (400, "InvalidHTTPAuthHeader")


def test_errors_are_signature_errors_for_the_dialect_mapper() -> None:
    error = refusal(SignedRequest.from_target("GET", "/", {}))
    assert isinstance(error, SignatureError)
    assert isinstance(error, AuthenticationError)
    assert error.vendor == "bls"


class CapturedRequestError(Exception):
    """Raised by the recorder in place of the SDK's socket write."""


def test_the_real_bls_client_request_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[Any, Any, dict[Any, Any], Any]] = []

    def record(connection: Any, method: Any, uri: Any, headers: Any, body: Any, *args: Any) -> Any:
        sent.append((method, uri, dict(headers), body))
        raise CapturedRequestError

    monkeypatch.setattr(bce_http_client, "_send_http_request", record)
    client = BlsClient(
        BceClientConfiguration(
            credentials=BceCredentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
            endpoint=f"http://{HOST}",
            retry_policy=NoRetryPolicy(),
        )
    )
    with pytest.raises(BceHttpClientError):
        client._send_request(http_methods.POST, b"/download", version=b"/v2", body=CREATE_BODY)
    with pytest.raises(BceHttpClientError):
        client._send_request(
            http_methods.POST, b"/download/list", version=b"/v2", params={b"q": b"a b+c"}
        )
    assert len(sent) == 2
    for method, uri, headers, body in sent:
        request = SignedRequest.from_target(
            text(method),
            text(uri),
            [(text(k), text(v)) for k, v in headers.items()],
            body or b"",
        )
        signed_at = datetime.strptime(request.headers["x-bce-date"], "%Y-%m-%dT%H:%M:%SZ")
        now = signed_at.replace(tzinfo=UTC)
        assert bce.verify(request, lookup_secret, now).access_key_id == ACCESS_KEY_ID
        assert refusal(replace(request, raw_path=request.raw_path + "x"), now).vendor_code == (
            "SignatureDoesNotMatch"
        )
