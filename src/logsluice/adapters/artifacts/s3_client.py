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
    StorageUnavailableError,
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
# answers that say "the server is busy or failing now, try again" (besides every 5xx and 429)
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "BandwidthLimitExceeded",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "OperationAborted",
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
        # connection errors, 5xx and throttling are retried with backoff (up to 20 s apart): a
        # blip is absorbed here; a longer outage is waited out by the task runner (ADR 0024)
        retries={"total_max_attempts": _retry_attempts(variables), "mode": "standard"},
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


def _retry_attempts(variables: Mapping[str, str]) -> int:
    """The client's attempts per request: the standard ``AWS_MAX_ATTEMPTS``, else 10."""
    given = variables.get("AWS_MAX_ATTEMPTS", "")
    try:
        return max(int(given), 1) if given else RETRY_ATTEMPTS
    except ValueError as error:
        raise InvalidInputError(
            f"AWS_MAX_ATTEMPTS must be a whole number, not {given!r}", variable="AWS_MAX_ATTEMPTS"
        ) from error


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
    """Return the logsluice error for a botocore exception raised on ``key``.

    Not found: ArtifactNotFoundError; refused (credentials, permissions, no such bucket):
    ArtifactStoreDeniedError; unreachable, timed out, 5xx or throttled: StorageUnavailableError
    (an outage the task runner waits out); any other answer: BackendUnavailableError.
    """
    code = error_code(error)
    store = location.describe()
    if code in _NOT_FOUND_CODES:
        return ArtifactNotFoundError(f"no artifact {key!r}", key=key)
    if code in _DENIED_CODES or _is_credentials_error(error):
        return ArtifactStoreDeniedError(
            f"{store} refused the request ({code or type(error).__name__}): check the bucket "
            "and the credentials",
            store=store,
            s3_code=code,
        )
    if is_transient_s3_error(error):
        return StorageUnavailableError(
            f"{store} is unavailable: {error}", store=store, s3_code=code
        )
    return BackendUnavailableError(f"{store} failed: {error}", store=store, s3_code=code)


def is_transient_s3_error(error: Exception) -> bool:
    """Tell whether a botocore exception says the server is down, unreachable or busy for now:
    a connection refused, reset or timed out (not a TLS failure), a 5xx, 429 or throttling code."""
    from botocore.exceptions import (
        ConnectionError as ClientConnectionError,
    )
    from botocore.exceptions import (
        HTTPClientError,
        IncompleteReadError,
        SSLError,
    )

    if isinstance(error, SSLError):
        return False
    if isinstance(error, ClientConnectionError | HTTPClientError | IncompleteReadError):
        return True
    status = http_status(error)
    return status >= 500 or status == 429 or error_code(error) in _TRANSIENT_CODES


def http_status(error: Exception) -> int:
    """Return the HTTP status of a botocore ClientError (0 for any other exception)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


def _is_credentials_error(error: Exception) -> bool:
    from botocore.exceptions import NoCredentialsError, PartialCredentialsError

    return isinstance(error, NoCredentialsError | PartialCredentialsError)


def call(location: S3Location, key: str, operation: Callable[[], T]) -> T:
    """Run ``operation`` with the client's exceptions translated."""
    with translated(location, key):
        return operation()
