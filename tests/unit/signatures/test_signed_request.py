"""The framework-neutral request model the signature verifiers read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from logsluice.api.signatures import bce, huawei, sls
from logsluice.api.signatures.request import (
    Headers,
    QueryParameter,
    SignedRequest,
    VerifiedCaller,
)


def test_headers_are_case_insensitive_and_repeated_values_are_joined() -> None:
    headers = Headers([("Content-Type", "application/json"), ("X-A", "1"), ("x-a", "2")])
    assert headers["content-type"] == headers["CONTENT-TYPE"] == "application/json"
    assert headers["X-a"] == "1,2"
    assert sorted(headers) == ["content-type", "x-a"]


def test_from_target_keeps_the_raw_path_and_query_and_tells_flag_from_empty() -> None:
    request = SignedRequest.from_target("get", "/a%2Fb/c?x=1+2&flag&empty=&&y=%2A", {})
    assert request.method == "GET"
    assert request.raw_path == "/a%2Fb/c"
    assert request.query == (
        QueryParameter("x", "1+2"),
        QueryParameter("flag", None),
        QueryParameter("empty", ""),
        QueryParameter("y", "%2A"),
    )


def test_from_target_accepts_the_absolute_form_a_proxy_client_sends() -> None:
    request = SignedRequest.from_target("POST", "http://proj.127.0.0.1:8080/downloadjobs?a=b", {})
    assert (request.raw_path, request.query) == ("/downloadjobs", (QueryParameter("a", "b"),))
    assert SignedRequest.from_target("GET", "https://host", {}).raw_path == "/"


NAIVE_INSTANT = datetime(2026, 11, 22, 11, 50)
BCE_HEADERS = {"Authorization": "bce-auth-v1/ak/2026-11-22T11:51:20Z/1800//00"}
SLS_HEADERS = {"Authorization": "LOG ak:sig", "Date": "Sun, 22 Nov 2026 11:48:41 GMT"}
HUAWEI_HEADERS = {
    "Authorization": "SDK-HMAC-SHA256 Access=ak, SignedHeaders=x-sdk-date, Signature=00",
    "X-Sdk-Date": "20261122T114902Z",
}


@pytest.mark.parametrize(
    ("verify", "headers"),
    [(bce.verify, BCE_HEADERS), (sls.verify, SLS_HEADERS), (huawei.verify, HUAWEI_HEADERS)],
)
def test_a_naive_verification_instant_is_a_programming_error(
    verify: Callable[..., VerifiedCaller], headers: dict[str, str]
) -> None:
    request = SignedRequest.from_target("GET", "/", headers)
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(request, lambda _: "secret", NAIVE_INSTANT)
