"""Which failures are outages a task waits out (ADR 0024), and how long it waits between tries.

The S3 adapter's translation is checked on botocore's own exception objects, as the client raises
them; the servers behind them are exercised in ``tests/integration/test_tasks_store_outage.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)

from logsluice.adapters.artifacts.s3_client import (
    S3Location,
    build_s3_client,
    error_code,
    translate,
)
from logsluice.domain.errors import (
    ArtifactNotFoundError,
    ArtifactStoreDeniedError,
    BackendUnavailableError,
    InvalidInputError,
    StorageUnavailableError,
)
from logsluice.domain.outages import OutagePolicy, is_transient, store_of
from logsluice.metrics import Metrics

LOCATION = S3Location(bucket="exports", prefix="artifacts", endpoint="http://127.0.0.1:9")
START = datetime(2026, 12, 7, tzinfo=UTC)


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutObject")


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
        ResponseStreamingError(error="connection reset by peer"),
        client_error("SlowDown", 503),
        client_error("ServiceUnavailable", 503),
        client_error("InternalError", 500),
        client_error("BadGateway", 502),
        client_error("TooManyRequests", 429),
        client_error("RequestTimeout", 400),
    ],
    ids=lambda error: f"{type(error).__name__}-{error_code(error)}",
)
def test_unreachable_timed_out_5xx_and_throttled_are_outages(error: Exception) -> None:
    translated = translate(error, LOCATION, "k")
    assert isinstance(translated, StorageUnavailableError)
    assert translated.code == "backend_unavailable"  # what API callers saw before
    assert is_transient(translated)
    assert store_of(translated) == "s3://exports/artifacts"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("AccessDenied", 403), ArtifactStoreDeniedError),
        (client_error("NoSuchBucket", 404), ArtifactStoreDeniedError),
        (client_error("SignatureDoesNotMatch", 403), ArtifactStoreDeniedError),
        (NoCredentialsError(), ArtifactStoreDeniedError),
        (client_error("NoSuchKey", 404), ArtifactNotFoundError),
        (client_error("InvalidArgument", 400), BackendUnavailableError),
        (client_error("EntityTooSmall", 400), BackendUnavailableError),
        (
            SSLError(endpoint_url="https://h", error="certificate verify failed"),
            BackendUnavailableError,
        ),
    ],
    ids=lambda item: item.__name__ if isinstance(item, type) else type(item).__name__,
)
def test_refusals_and_bad_requests_are_no_outage(error: Exception, kind: type[Exception]) -> None:
    translated = translate(error, LOCATION, "k")
    assert type(translated) is kind
    assert not is_transient(translated)


def test_the_delay_grows_with_the_outage_up_to_the_longest() -> None:
    policy = OutagePolicy(window=timedelta(minutes=30), longest_delay=timedelta(seconds=60))
    waits, now = [], START
    for _ in range(10):
        delay = policy.delay(START, now)
        waits.append(delay.total_seconds())
        now += delay
    assert waits == [1, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert not policy.is_over(START, START + timedelta(minutes=29))
    assert policy.is_over(START, START + timedelta(minutes=30))


def test_giving_up_names_the_store_the_time_and_the_last_error() -> None:
    error = StorageUnavailableError("connection refused", store="s3://exports/artifacts")
    message = OutagePolicy().give_up_message(error, START, START + timedelta(minutes=30))
    assert message.startswith("s3://exports/artifacts stayed unavailable for 30.0 min")
    assert message.endswith("connection refused")


def test_the_clients_attempts_follow_aws_max_attempts() -> None:
    client = build_s3_client(LOCATION, {"AWS_MAX_ATTEMPTS": "2"})
    assert client.meta.config.retries["total_max_attempts"] == 2
    default = build_s3_client(LOCATION, {})
    assert default.meta.config.retries["total_max_attempts"] == 10
    with pytest.raises(InvalidInputError, match="AWS_MAX_ATTEMPTS"):
        build_s3_client(LOCATION, {"AWS_MAX_ATTEMPTS": "many"})


def test_waits_for_a_store_are_counted_by_store() -> None:
    metrics = Metrics()
    for event in ("task.slice_waits_for_store", "task.waits_for_store", "task.slice_done"):
        metrics.observe_event(None, "warning", {"event": event, "store": "s3://exports/a"})
    rendered = metrics.render().decode()
    assert 'logsluice_store_outage_waits_total{store="s3://exports/a"} 2.0' in rendered
