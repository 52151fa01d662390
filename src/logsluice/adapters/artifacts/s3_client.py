"""Where an S3 artifact store lives and how to talk to it: the ``s3://`` URL, the boto3 client, and
the translation of the client's exceptions into logsluice's errors.

``s3://bucket/prefix?endpoint=http://host:9000&region=eu-west-1`` names a bucket and a key prefix;
the endpoint, region and credentials come from the URL (``s3://KEY_ID:SECRET@bucket/…`` or the
``access_key_id``/``secret_access_key`` parameters) or else from the standard ``AWS_ENDPOINT_URL``,
``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` (boto3's
own chain, so instance roles and profiles work too). boto3 signs (SigV4) and parses; nothing here
builds a signature or XML by hand.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from logsluice.domain.errors import (
    ArtifactNotFoundError,
    ArtifactStoreDeniedError,
    BackendUnavailableError,
    InvalidInputError,
    MissingDriverError,
)

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})
_DENIED_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "NoSuchBucket",
        "AllAccessDisabled",
    }
)
_URL_PARAMETERS = frozenset(
    {"endpoint", "region", "access_key_id", "secret_access_key", "addressing_style"}
)
T = TypeVar("T")
RETRY_ATTEMPTS = 10


@dataclass(frozen=True)
class S3Location:
    """A bucket and key prefix on an S3-compatible server, with how to reach and sign for it.

    Fields left None fall back to the standard ``AWS_*`` variables when the client is built.
    """

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    addressing_style: str | None = None

    def object_key(self, key: str) -> str:
        """Return the object key of the store's ``key`` (under the prefix)."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def describe(self) -> str:
        """Return ``s3://bucket/prefix`` (no credentials) for messages and logs."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def parse_s3_url(url: str) -> S3Location:
    """Return the location named by an ``s3://bucket/prefix?…`` URL.

    Raises InvalidInputError for a URL without a bucket or with an unknown parameter.
    """
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.hostname:
        raise InvalidInputError("an S3 URL reads s3://bucket/prefix?endpoint=…&region=…", url=url)
    parameters = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = sorted(set(parameters) - _URL_PARAMETERS)
    if unknown:
        raise InvalidInputError(
            f"unknown S3 URL parameter {unknown[0]!r}; known: {', '.join(sorted(_URL_PARAMETERS))}",
            url=_without_secrets(url),
        )
    # the bucket is the netloc's host part as written (urlsplit lower-cases ``hostname``)
    bucket = parts.netloc.rsplit("@", 1)[-1]
    return S3Location(
        bucket=bucket,
        prefix=unquote(parts.path).strip("/"),
        endpoint=parameters.get("endpoint"),
        region=parameters.get("region"),
        access_key_id=unquote(parts.username)
        if parts.username
        else parameters.get("access_key_id"),
        secret_access_key=(
            unquote(parts.password) if parts.password else parameters.get("secret_access_key")
        ),
        addressing_style=parameters.get("addressing_style"),
    )


def _without_secrets(url: str) -> str:
    parts = urlsplit(url)
    return f"s3://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"


def build_s3_client(
    location: S3Location, environment: Mapping[str, str] | None = None
) -> Any:  # boto3's client type is generated at run time
    """Return a boto3 S3 client for ``location``, the ``AWS_*`` variables filling its gaps.

    Raises MissingDriverError when boto3 is not installed.
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError as error:  # pragma: no cover - boto3 is a runtime dependency
        raise MissingDriverError(
            "the S3 artifact store needs boto3: pip install boto3", extra="s3"
        ) from error
    variables = os.environ if environment is None else environment
    endpoint = (
        location.endpoint
        or variables.get("AWS_ENDPOINT_URL_S3")
        or variables.get("AWS_ENDPOINT_URL")
    )
    region = location.region or variables.get("AWS_REGION") or variables.get("AWS_DEFAULT_REGION")
    # path-style for a custom endpoint (MinIO, rclone, moto, most on-premises servers)
    addressing = location.addressing_style or ("path" if endpoint else "auto")
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing},
        # connection errors, 5xx and throttling are retried with backoff (up to 20 s apart), so an
        # object store that restarts is waited for (about a minute) rather than failing the work
        retries={"max_attempts": RETRY_ATTEMPTS, "mode": "standard"},
        # checksum trailers only where S3 requires them: several compatible servers refuse them
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=10,
        read_timeout=60,
    )
    session = boto3.session.Session(
        aws_access_key_id=location.access_key_id,
        aws_secret_access_key=location.secret_access_key,
        region_name=region or "us-east-1",
    )
    return session.client("s3", endpoint_url=endpoint, config=config)


def error_code(error: Exception) -> str:
    """Return the S3 error code of a botocore ClientError ('' for any other exception)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _client_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


@contextmanager
def translated(location: S3Location, key: str) -> Iterator[None]:
    """Turn the client's exceptions into ArtifactNotFoundError (no such key),
    ArtifactStoreDeniedError (credentials or bucket refused) or BackendUnavailableError."""
    try:
        yield
    except _client_errors() as error:
        raise translate(error, location, key) from error


def translate(error: Exception, location: S3Location, key: str) -> Exception:
    """Return the logsluice error for a botocore exception raised on ``key``."""
    code = error_code(error)
    if code in _NOT_FOUND_CODES:
        return ArtifactNotFoundError(f"no artifact {key!r}", key=key)
    if code in _DENIED_CODES:
        return ArtifactStoreDeniedError(
            f"{location.describe()} refused the request ({code}): check the bucket and the "
            "credentials",
            store=location.describe(),
            s3_code=code,
        )
    return BackendUnavailableError(
        f"{location.describe()} failed: {error}", store=location.describe(), s3_code=code
    )


def call(location: S3Location, key: str, operation: Callable[[], T]) -> T:
    """Run ``operation`` with the client's exceptions translated."""
    with translated(location, key):
        return operation()
