"""SDK-HMAC-SHA256 verification against requests signed by Huawei's own SDK (huaweicloudsdkcore).

Signed requests come from two places, neither touching the network:
* ``huaweicloudsdkcore.signer.signer.Signer.sign`` called directly on an ``SdkRequest`` with a
  chosen ``X-Sdk-Date`` (the signer keeps a date it is given);
* the real ``CdnClient`` (huaweicloudsdkcdn v2) for ``create_export_task`` and
  ``list_export_tasks``, with ``HttpClient.do_request_sync`` replaced by a recorder; the recorded
  request is prepared by ``requests`` exactly as the SDK's session would send it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from huaweicloudsdkcdn.v2 import (
    CdnClient,
    CreateExportTaskRequest,
    ExportTaskVo,
    ListExportTasksRequest,
)
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.http.http_client import HttpClient
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from logsluice.api.signatures import huawei
from logsluice.api.signatures.request import Headers, SignedRequest

ACCESS_KEY_ID = "TESTAKHUAWEI0000"
SECRET_KEY = "test-huawei-sk"
DOMAIN_ID = "0a1b2c3d4e5f0a1b2c3d4e5f0a1b2c3d"
HOST = "127.0.0.1:36109"
SIGNED_AT = datetime(2026, 11, 22, 11, 49, 2, tzinfo=UTC)
PATH = "/v1/cdn/statistics/export-tasks"
EXPORT_BODY = json.dumps(
    {
        "action": "reports_detail",
        "domain_name": "www.example.com,img.example.com",
        "start_time": 1675134800000,
        "end_time": 1675221200000,
        "interval": 3600,
        "service_area": "mainland_china",
        "stat_type": "flux",
        "language": "en",
    }
).encode()


def lookup_secret(access_key_id: str) -> str | None:
    return {ACCESS_KEY_ID: SECRET_KEY}.get(access_key_id)


def signer_request(
    method: str = "GET",
    path: str = PATH,
    query: list[tuple[str, Any]] | None = None,
    body: bytes = b"",
    content_type: str = "application/json",
    secret: str = SECRET_KEY,
    signed_at: datetime = SIGNED_AT,
) -> SignedRequest:
    """Signs an SdkRequest with the SDK's Signer; returns what the SDK would put on the wire."""
    sdk_request = SdkRequest(
        method=method,
        schema="http",
        host=HOST,
        resource_path=path,
        query_params=list(query or []),
        header_params={
            "Content-Type": content_type,
            "User-Agent": "huaweicloud-usdk-python/3.0",
            "X-Domain-Id": DOMAIN_ID,
            "X-Sdk-Date": signed_at.strftime("%Y%m%dT%H%M%SZ"),
        },
        body=body,
    )
    signed = Signer(GlobalCredentials(ACCESS_KEY_ID, secret, DOMAIN_ID)).sign(sdk_request)
    return SignedRequest.from_target(method, signed.uri, signed.header_params, signed.body or b"")


def with_header(request: SignedRequest, name: str, value: str) -> SignedRequest:
    return replace(request, headers=Headers({**dict(request.headers), name.lower(): value}))


def refusal(request: SignedRequest, now: datetime = SIGNED_AT) -> huawei.HuaweiSignatureError:
    with pytest.raises(huawei.HuaweiSignatureError) as caught:
        huawei.verify(request, lookup_secret, now)
    assert (caught.value.vendor_status, caught.value.vendor_code) == (401, "APIGW.0301")
    return caught.value


def test_a_signed_post_is_accepted_and_its_body_covered() -> None:
    request = signer_request("POST", body=EXPORT_BODY)
    signed_headers = "content-type;host;user-agent;x-domain-id;x-sdk-date"
    assert f"SignedHeaders={signed_headers}," in request.headers["authorization"]
    caller = huawei.verify(request, lookup_secret, SIGNED_AT)
    assert (caller.access_key_id, caller.body_covered) == (ACCESS_KEY_ID, True)


def test_a_query_with_lists_booleans_and_reserved_characters_is_accepted() -> None:
    query = [("task_name", "a b/c~d"), ("limit", 10), ("flag", True), ("ids", ["2", "1"])]
    request = signer_request(query=query)
    assert request.query[0].raw_name == "flag"
    assert huawei.verify(request, lookup_secret, SIGNED_AT).access_key_id == ACCESS_KEY_ID


def test_a_path_with_encoded_characters_gets_the_trailing_slash_rule() -> None:
    request = signer_request(path="/v1/cdn/a%20b/c~d")
    assert huawei.canonical_uri(request.raw_path) == "/v1/cdn/a%20b/c~d/"
    assert huawei.verify(request, lookup_secret, SIGNED_AT).access_key_id == ACCESS_KEY_ID
    assert huawei.verify(
        replace(request, raw_path=request.raw_path + "/"), lookup_secret, SIGNED_AT
    )


def test_a_one_byte_change_in_the_body_fails() -> None:
    request = signer_request("POST", body=EXPORT_BODY)
    tampered = replace(request, body=EXPORT_BODY.replace(b"3600", b"3601"))
    assert refusal(tampered).message.endswith("verify aksk signature fail")


def test_a_one_byte_change_in_the_path_fails() -> None:
    request = signer_request()
    error = refusal(replace(request, raw_path=PATH.replace("tasks", "taskz")))
    assert error.message == ("Incorrect IAM authentication information: verify aksk signature fail")


def test_a_one_byte_change_in_a_query_value_fails() -> None:
    request = signer_request(query=[("limit", 10), ("offset", 0)])
    tampered = SignedRequest.from_target("GET", f"{PATH}?limit=11&offset=0", request.headers)
    refusal(tampered)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("content-type", "application/jsoN"),
        ("host", "127.0.0.1:36108"),
        ("user-agent", "other"),
        ("x-domain-id", "0a1b2c3d4e5f0a1b2c3d4e5f0a1b2c3e"),
        ("x-sdk-date", "20261122T114903Z"),
    ],
)
def test_a_changed_signed_header_fails(header: str, value: str) -> None:
    refusal(with_header(signer_request(), header, value))


def test_an_unsigned_header_may_change() -> None:
    request = with_header(signer_request(), "accept-encoding", "br")
    assert huawei.verify(request, lookup_secret, SIGNED_AT).access_key_id == ACCESS_KEY_ID


@pytest.mark.parametrize("direction", [1, -1])
def test_a_date_more_than_15_minutes_off_is_expired(direction: int) -> None:
    request = signer_request()
    at_limit = SIGNED_AT + direction * timedelta(minutes=15)
    assert huawei.verify(request, lookup_secret, at_limit).access_key_id == ACCESS_KEY_ID
    error = refusal(request, now=at_limit + direction * timedelta(seconds=1))
    assert error.message.endswith("X-Sdk-Date is expired")


def test_a_wrong_secret_fails() -> None:
    refusal(signer_request(secret="not-the-secret"))


def test_an_unknown_access_key_is_refused() -> None:
    request = signer_request()
    authorization = request.headers["authorization"].replace(ACCESS_KEY_ID, "UNKNOWNAK")
    assert refusal(with_header(request, "authorization", authorization)).message.endswith(
        "ak not found"
    )


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "V11-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
        "SDK-HMAC-SHA256 Access=TESTAKHUAWEI0000, Signature=00",
        "SDK-HMAC-SHA256 Access=TESTAKHUAWEI0000, SignedHeaders=host;x-sdk-date",
    ],
)
def test_a_missing_or_malformed_authorization_is_refused(authorization: str | None) -> None:
    headers = {"Host": HOST, "X-Sdk-Date": "20261122T114902Z"}
    if authorization:
        headers["Authorization"] = authorization
    refusal(SignedRequest.from_target("GET", PATH, headers))


def test_a_date_that_is_not_signed_is_refused() -> None:
    request = signer_request()
    authorization = request.headers["authorization"].replace(";x-sdk-date,", ",")
    assert refusal(with_header(request, "authorization", authorization)).message.endswith(
        "X-Sdk-Date is missing or not signed"
    )


def test_an_unsigned_payload_is_accepted_but_not_covered() -> None:
    request = signer_request("POST", body=b"a,b\n1,2\n", content_type="text/csv")
    assert request.headers["x-sdk-content-sha256"] == "UNSIGNED-PAYLOAD"
    caller = huawei.verify(replace(request, body=b"a,b\n1,3\n"), lookup_secret, SIGNED_AT)
    assert caller.body_covered is False


def test_a_declared_payload_hash_must_match_the_body() -> None:
    body = EXPORT_BODY
    request = signer_request("POST", body=body)
    declared = with_header(request, "x-sdk-content-sha256", hashlib.sha256(body).hexdigest())
    assert huawei.verify(declared, lookup_secret, SIGNED_AT).body_covered
    lying = with_header(request, "x-sdk-content-sha256", hashlib.sha256(b"x").hexdigest())
    refusal(lying)


class CapturedRequestError(Exception):
    """Raised by the recorder in place of the SDK's HTTP send."""


def client_requests(monkeypatch: pytest.MonkeyPatch) -> list[SignedRequest]:
    """Runs the two CDN export-task operations through the real CdnClient without a network."""
    recorded: list[SdkRequest] = []

    def record(self: HttpClient, request: SdkRequest) -> Any:
        recorded.append(request)
        raise CapturedRequestError

    monkeypatch.setattr(HttpClient, "do_request_sync", record)
    client = (
        CdnClient.new_builder()
        .with_credentials(GlobalCredentials(ACCESS_KEY_ID, SECRET_KEY, DOMAIN_ID))
        .with_endpoints([f"http://{HOST}"])
        .build()
    )
    export = ExportTaskVo(
        action="top_url_detail",
        domain_name="www.example.com",
        start_time=1675134800000,
        end_time=1675221200000,
        interval=3600,
        stat_type="flux",
    )
    calls = [
        lambda: client.create_export_task(CreateExportTaskRequest(body=export)),
        lambda: client.list_export_tasks(ListExportTasksRequest(limit=10, offset=0)),
        lambda: client.list_export_tasks(ListExportTasksRequest(task_name="nightly run/1")),
    ]
    for call in calls:
        with pytest.raises(CapturedRequestError):
            call()
    prepared = [
        requests.Request(r.method, r.url, headers=r.header_params, data=r.body).prepare()
        for r in recorded
    ]
    return [
        SignedRequest.from_target(p.method or "GET", p.path_url, dict(p.headers), p.body or b"")
        for p in prepared
    ]


def test_the_real_cdn_client_requests_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = client_requests(monkeypatch)
    assert [request.method for request in sent] == ["POST", "GET", "GET"]
    assert sent[2].query[0].raw_value == "nightly%20run%2F1"
    for request in sent:
        now = datetime.strptime(request.headers["x-sdk-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        caller = huawei.verify(request, lookup_secret, now)
        assert (caller.access_key_id, caller.body_covered) == (ACCESS_KEY_ID, True)
        refusal(replace(request, raw_path=request.raw_path + "x"), now)
