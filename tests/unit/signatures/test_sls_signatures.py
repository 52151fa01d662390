"""SLS v1 and v4 verification against requests signed by Alibaba's SDK (alibabacloud-sls20201230).

The real ``Client`` runs its whole pipeline — request building, the ``alibabacloud-gateway-sls``
interceptor that signs (``modify_request``), header merging — and only its last step, the HTTP
send (``DaraCore.do_action``), is replaced by a recorder. The recorded request is turned into the
wire form with the SDK transport's own ``DaraCore.compose_url`` (so the query is ``urlencode``d,
``+`` for spaces, exactly as sent). No network. The classic HMAC-SHA1 v1 scheme (no
``x-log-signaturemethod`` header; the older aliyun-log-python-sdk) is mimicked by hand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from alibabacloud_sls20201230 import models
from alibabacloud_sls20201230.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.core import DaraCore
from darabonba.exceptions import UnretryableException

from logsluice.api.signatures import sls
from logsluice.api.signatures.request import Headers, SignedRequest

ACCESS_KEY_ID = "test-ak-id"
ACCESS_KEY_SECRET = "test-ak-secret"
PROJECT = "my-project"
JOB_NAME = "download-123"


def lookup_secret(access_key_id: str) -> str | None:
    return {ACCESS_KEY_ID: ACCESS_KEY_SECRET}.get(access_key_id)


class CapturedRequestError(Exception):
    """Raised by the recorder in place of the SDK's HTTP send."""


def create_request() -> models.CreateDownloadJobRequest:
    sink = models.CreateDownloadJobRequestConfigurationSink(
        type="AliyunOSS", content_type="csv", compression_type="zstd", bucket="b", prefix="d/"
    )
    configuration = models.CreateDownloadJobRequestConfiguration(
        logstore="test-logstore",
        from_time=1722406260,
        to_time=1722409860,
        query="status>=500 | select host, count(*) as n group by host",
        allow_in_complete=False,
        power_sql=False,
        sink=sink,
    )
    return models.CreateDownloadJobRequest(
        name=JOB_NAME,
        display_name="my download",
        description="nightly",
        configuration=configuration,
    )


def sdk_requests(
    monkeypatch: pytest.MonkeyPatch, signature_version: str, secret: str = ACCESS_KEY_SECRET
) -> dict[str, SignedRequest]:
    """Runs the four download-job operations through the real SDK; returns what each would send."""
    recorded: list[Any] = []

    def record(request: Any, runtime: Any = None) -> Any:
        recorded.append(request)
        raise CapturedRequestError

    monkeypatch.setattr(DaraCore, "do_action", staticmethod(record))
    client = Client(
        Config(
            access_key_id=ACCESS_KEY_ID,
            access_key_secret=secret,
            endpoint="sls.test:33953",
            protocol="http",
            region_id="cn-hangzhou",
            signature_version=signature_version,
        )
    )
    calls = {
        "create": lambda: client.create_download_job(PROJECT, create_request()),
        "get": lambda: client.get_download_job(PROJECT, JOB_NAME),
        "list": lambda: client.list_download_jobs(
            PROJECT, models.ListDownloadJobsRequest(logstore="test logstore*|x", offset=0, size=10)
        ),
        "delete": lambda: client.delete_download_job(PROJECT, JOB_NAME),
    }
    captured = {}
    for operation, call in calls.items():
        with pytest.raises(UnretryableException):
            call()
        sent = recorded.pop()
        captured[operation] = SignedRequest.from_target(
            sent.method, DaraCore.compose_url(sent), sent.headers, sent.body or b""
        )
    return captured


def signed_time(request: SignedRequest) -> datetime:
    if "x-log-date" in request.headers:
        return datetime.strptime(request.headers["x-log-date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=UTC
        )
    return parsedate_to_datetime(request.headers["date"])


def with_header(request: SignedRequest, name: str, value: str) -> SignedRequest:
    return replace(request, headers=Headers({**dict(request.headers), name.lower(): value}))


def verified_id(request: SignedRequest, now: datetime | None = None) -> str:
    return sls.verify(request, lookup_secret, now or signed_time(request)).access_key_id


def refusal(request: SignedRequest, now: datetime | None = None) -> sls.SlsSignatureError:
    with pytest.raises(sls.SlsSignatureError) as caught:
        sls.verify(request, lookup_secret, now or signed_time(request))
    return caught.value


@pytest.fixture(params=["v1", "v4"])
def signed(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> dict[str, SignedRequest]:
    return sdk_requests(monkeypatch, request.param)


def test_the_sdk_signs_as_the_reference_describes(monkeypatch: pytest.MonkeyPatch) -> None:
    v1 = sdk_requests(monkeypatch, "v1")["create"]
    v4 = sdk_requests(monkeypatch, "v4")["list"]
    assert v1.headers["authorization"].startswith(f"LOG {ACCESS_KEY_ID}:")
    assert v1.headers["x-log-signaturemethod"] == "hmac-sha256"
    assert v1.headers["host"] == f"{PROJECT}.sls.test:33953"
    assert v4.headers["authorization"].startswith(f"SLS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")
    assert (v4.query[0].raw_name, v4.query[0].raw_value) == ("logstore", "test+logstore%2A%7Cx")


@pytest.mark.parametrize("operation", ["create", "get", "list", "delete"])
def test_every_download_job_operation_verifies(
    signed: dict[str, SignedRequest], operation: str
) -> None:
    assert verified_id(signed[operation]) == ACCESS_KEY_ID


def test_a_one_byte_change_in_the_body_is_post_body_invalid(
    signed: dict[str, SignedRequest],
) -> None:
    request = signed["create"]
    tampered = replace(request, body=request.body.replace(b"nightly", b"nightlz"))
    error = refusal(tampered)
    assert (error.vendor_status, error.vendor_code) == (400, "PostBodyInvalid")


def test_a_one_byte_change_in_the_path_does_not_match(signed: dict[str, SignedRequest]) -> None:
    request = signed["get"]
    error = refusal(replace(request, raw_path="/downloadjobs/download-124"))
    assert (error.vendor_status, error.vendor_code) == (401, "SignatureNotMatch")


def test_a_one_byte_change_in_a_query_value_does_not_match(
    signed: dict[str, SignedRequest],
) -> None:
    request = signed["list"]
    target = "/downloadjobs?logstore=test+logstore%2A%7Cx&offset=0&size=11"
    tampered = SignedRequest.from_target("GET", target, request.headers, request.body)
    assert refusal(tampered).vendor_code == "SignatureNotMatch"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("content-type", "application/jsoN"),
        ("x-log-bodyrawsize", "1"),
        ("x-log-apiversion", "0.6.1"),
        ("x-acs-security-token", "added"),
    ],
)
def test_a_changed_signed_header_does_not_match(
    signed: dict[str, SignedRequest], header: str, value: str
) -> None:
    error = refusal(with_header(signed["get"], header, value))
    assert (error.vendor_status, error.vendor_code) == (401, "SignatureNotMatch")


def test_v4_signs_the_host_and_v1_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    other_project = "other-project.sls.test:33953"
    v1 = sdk_requests(monkeypatch, "v1")["get"]
    v4 = sdk_requests(monkeypatch, "v4")["get"]
    assert verified_id(with_header(v1, "host", other_project)) == ACCESS_KEY_ID
    assert refusal(with_header(v4, "host", other_project)).vendor_code == "SignatureNotMatch"


def test_v1_signs_the_date_header(monkeypatch: pytest.MonkeyPatch) -> None:
    request = sdk_requests(monkeypatch, "v1")["get"]
    later = signed_time(request) + timedelta(seconds=1)
    changed = with_header(request, "date", later.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert refusal(changed).vendor_code == "SignatureNotMatch"


def test_v4_signs_the_x_log_date_header(monkeypatch: pytest.MonkeyPatch) -> None:
    request = sdk_requests(monkeypatch, "v4")["get"]
    later = signed_time(request) + timedelta(seconds=1)
    changed = with_header(request, "x-log-date", later.strftime("%Y%m%dT%H%M%SZ"))
    assert refusal(changed).vendor_code == "SignatureNotMatch"


@pytest.mark.parametrize("direction", [1, -1])
def test_a_date_more_than_15_minutes_off_is_request_time_expired(
    signed: dict[str, SignedRequest], direction: int
) -> None:
    request = signed["get"]
    at_limit = signed_time(request) + direction * timedelta(minutes=15)
    assert verified_id(request, now=at_limit) == ACCESS_KEY_ID
    error = refusal(request, now=at_limit + direction * timedelta(seconds=1))
    assert (error.vendor_status, error.vendor_code) == (400, "RequestTimeExpired")
    assert "has been expired while server time is" in error.message


def test_a_wrong_secret_does_not_match(monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("v1", "v4"):
        request = sdk_requests(monkeypatch, version, secret="not-the-secret")["get"]
        assert refusal(request).vendor_code == "SignatureNotMatch"


def test_an_unknown_access_key_is_unauthorized(signed: dict[str, SignedRequest]) -> None:
    request = signed["get"]
    authorization = request.headers["authorization"].replace(ACCESS_KEY_ID, "unknown-ak")
    error = refusal(with_header(request, "authorization", authorization))
    assert (error.vendor_status, error.vendor_code, error.message) == (
        401,
        "Unauthorized",
        "AccessKeyId not found: unknown-ak",
    )


def test_a_missing_or_foreign_authorization_is_unauthorized() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    for headers in ({}, {"Authorization": "Bearer abc"}, {"Authorization": "LOG no-colon"}):
        request = SignedRequest.from_target("GET", "/downloadjobs", headers)
        with pytest.raises(sls.SlsSignatureError) as caught:
            sls.verify(request, lookup_secret, now)
        assert (caught.value.vendor_status, caught.value.vendor_code) == (401, "Unauthorized")


def test_a_missing_or_malformed_date_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    request = sdk_requests(monkeypatch, "v1")["get"]
    now = signed_time(request)
    missing = replace(
        request, headers=Headers({k: v for k, v in request.headers.items() if k != "date"})
    )
    assert refusal(missing, now).vendor_code == "MissingDate"
    malformed = refusal(with_header(request, "date", "yesterday"), now)
    assert (malformed.vendor_status, malformed.vendor_code) == (400, "InvalidRequestTime")


def test_v4_with_a_body_digest_that_lies_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    request = sdk_requests(monkeypatch, "v4")["create"]
    assert request.headers["x-log-content-sha256"] == hashlib.sha256(request.body).hexdigest()
    lying = with_header(request, "x-log-content-sha256", hashlib.sha256(b"other").hexdigest())
    assert refusal(lying).vendor_code == "SignatureNotMatch"  # the digest header is signed


def classic_sha1_request(
    secret: str = ACCESS_KEY_SECRET, *, with_md5: bool = True
) -> SignedRequest:
    """Mimics the classic v1 signer: HMAC-SHA1, no x-log-signaturemethod header."""
    body = b'{"name":"download-123"}'
    headers = {
        "Content-MD5": hashlib.md5(body).hexdigest().upper() if with_md5 else "",
        "Content-Type": "application/json",
        "Date": "Sun, 22 Nov 2026 11:48:41 GMT",
        "x-log-apiversion": "0.6.0",
        "x-log-bodyrawsize": str(len(body)),
        "Host": f"{PROJECT}.sls.test",
    }
    x_headers = "".join(
        f"{name}:{headers[name]}\n" for name in sorted(headers) if name.startswith("x-log-")
    )
    to_sign = (
        f"POST\n{headers['Content-MD5']}\napplication/json\n{headers['Date']}\n"
        f"{x_headers}/downloadjobs?a=b c"
    )
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    headers["Authorization"] = f"LOG {ACCESS_KEY_ID}:{base64.b64encode(digest).decode()}"
    return SignedRequest.from_target("POST", "/downloadjobs?a=b+c", headers, body)


def test_the_classic_hmac_sha1_v1_scheme_verifies() -> None:
    request = classic_sha1_request()
    assert verified_id(request) == ACCESS_KEY_ID
    assert refusal(classic_sha1_request(secret="x")).vendor_code == "SignatureNotMatch"
    tampered = replace(request, body=request.body.replace(b"123", b"124"))
    assert refusal(tampered).vendor_code == "PostBodyInvalid"


def test_an_unknown_v1_signature_method_is_parameter_invalid() -> None:
    request = with_header(classic_sha1_request(), "x-log-signaturemethod", "hmac-md5")
    error = refusal(request)
    assert (error.vendor_status, error.vendor_code) == (400, "ParameterInvalid")


def test_a_v1_body_without_content_md5_is_refused() -> None:
    error = refusal(classic_sha1_request(with_md5=False))
    assert (error.vendor_status, error.vendor_code) == (400, "PostBodyInvalid")


def test_errors_carry_the_vendor() -> None:
    error = refusal(SignedRequest.from_target("GET", "/", {}), datetime(2026, 1, 1, tzinfo=UTC))
    assert error.vendor == "sls"
