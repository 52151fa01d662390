"""The error tree of logsluice.

Errors are data: one root, each subclass with a stable snake_case ``code``, a ``retryable`` flag and
typed ``details``. Only the API layer knows HTTP statuses; each dialect maps these codes to its own
envelope in exactly one place. Third-party exceptions are translated where they enter our code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class LogsluiceError(Exception):
    """Root of every error logsluice raises on purpose."""

    code: ClassVar[str] = "internal_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: Mapping[str, Any] = details


class InvalidInputError(LogsluiceError):
    """The caller sent something malformed: a bad name, a wrong type, a missing field."""

    code = "invalid_input"


class InvalidNameError(InvalidInputError):
    """A project, logstore or task name breaks the naming rule."""

    code = "invalid_name"


class InvalidTimeRangeError(InvalidInputError):
    """A time range is malformed or ``from`` is not before ``to``."""

    code = "invalid_time_range"


class InvalidQueryError(InvalidInputError):
    """A SEARCH or SQL query that cannot be parsed or is not allowed.

    ``position`` is the 0-based character offset in the full query text where the problem starts.
    """

    code = "invalid_query"

    def __init__(self, message: str, *, position: int, reason: str, **details: Any) -> None:
        super().__init__(message, position=position, reason=reason, **details)
        self.position = position
        self.reason = reason


class InvalidRecordsError(InvalidInputError):
    """An ingest batch was refused; ``errors`` lists ``{"line": n, "message": ...}`` entries."""

    code = "invalid_records"


class PayloadTooLargeError(InvalidInputError):
    """A request body or batch exceeds a configured size."""

    code = "payload_too_large"


class TooManyFieldsError(PayloadTooLargeError):
    """Records bring more distinct fields than one request, or one logstore, may have.

    ``details``: ``limit`` (the field limit) and ``setting`` (the variable that sets it).
    """

    code = "too_many_fields"


class NotFoundError(LogsluiceError):
    """A resource does not exist (or is not visible to the caller)."""

    code = "not_found"


class ProjectNotFoundError(NotFoundError):
    code = "project_not_found"


class LogstoreNotFoundError(NotFoundError):
    code = "logstore_not_found"


class TaskNotFoundError(NotFoundError):
    code = "download_task_not_found"


class ArtifactNotFoundError(NotFoundError):
    code = "artifact_not_found"


class SinkNotFoundError(NotFoundError):
    """No sink of that name (or bucket) is registered for the project."""

    code = "sink_not_found"


class AccessKeyNotFoundError(NotFoundError):
    code = "access_key_not_found"


class ArtifactStagingError(LogsluiceError):
    """A staging artifact cannot be resumed (missing, shorter than its checkpoint, or not a prefix
    the encoder can continue); the export must start over from the first slice."""

    code = "artifact_staging_invalid"


class AlreadyExistsError(LogsluiceError):
    """A resource with that name already exists."""

    code = "already_exists"


class ConflictError(LogsluiceError):
    """The request conflicts with the current state (a transition not allowed, a reused key)."""

    code = "conflict"


class IdempotencyKeyReusedError(ConflictError):
    """An idempotency key already used for a request with another body or other options."""

    code = "idempotency_key_reused"


class AppendKeyTakenError(ConflictError):
    """An append's idempotency key was recorded by another append that committed first."""

    code = "idempotency_key_in_use"
    retryable = True


class LeaseLostError(ConflictError):
    """A worker no longer holds the lease of a task (it lapsed and was requeued or taken over)."""

    code = "lease_lost"


class AuthenticationError(LogsluiceError):
    """No credentials, or credentials that do not verify."""

    code = "unauthenticated"


class SignatureError(AuthenticationError):
    """A vendor request signature is missing, malformed, stale or does not verify.

    ``vendor`` names the dialect (``bls``, ``sls``, ``huawei``); ``vendor_status``,
    ``vendor_code`` and ``message`` are exactly what that vendor answers, so the dialect's error
    mapper can render them unchanged.
    """

    code = "signature_invalid"

    def __init__(self, message: str, *, vendor: str, vendor_status: int, vendor_code: str) -> None:
        super().__init__(
            message, vendor=vendor, vendor_status=vendor_status, vendor_code=vendor_code
        )
        self.vendor = vendor
        self.vendor_status = vendor_status
        self.vendor_code = vendor_code


class PermissionDeniedError(LogsluiceError):
    """Valid credentials without the right to do this."""

    code = "permission_denied"


class CsrfTokenError(PermissionDeniedError):
    """A state-changing request authenticated by a session cookie lacked the session's CSRF token
    (header ``X-CSRF-Token``) or carried another one."""

    code = "csrf_token_invalid"


class QueryTimeoutError(LogsluiceError):
    """A synchronous query ran past the server-side timeout."""

    code = "query_timeout"
    retryable = True


class QueryCancelledError(LogsluiceError):
    """A query was interrupted because the work it served was cancelled (a task cancelled or
    deleted, a worker stopping, a client gone)."""

    code = "query_cancelled"


class LinkExpiredError(LogsluiceError):
    code = "link_expired"


class LinkInvalidError(LogsluiceError):
    code = "link_invalid"


class ArtifactGoneError(LogsluiceError):
    """The artifact existed but has expired or been removed."""

    code = "artifact_gone"


class BackendUnavailableError(LogsluiceError):
    """A store (database, object store) could not be reached or failed transiently."""

    code = "backend_unavailable"
    retryable = True


class StorageUnavailableError(BackendUnavailableError):
    """A store that holds a task's state or files could not be reached, or answered "try again":
    connection refused or reset, a timeout, an object store's 5xx or throttling (``SlowDown``),
    the task store's database gone away.

    The outage is expected to end by itself, so a download task waits for it (its work is queued
    again with growing delays, without using up its attempts) instead of failing; only a longer
    outage than ``LOGSLUICE_OUTAGE_RETRY_WINDOW`` fails it. Its code stays ``backend_unavailable``
    (an API caller sees what it saw before). ``details['store']`` names the store.
    """


class EngineOutOfMemoryError(BackendUnavailableError):
    """The log store's engine ran out of its memory limit on this work.

    Not retryable: the same work needs the same memory, so it fails again until the limit is
    raised or the work made smaller. ``details['setting']`` names the limit.
    """

    code = "out_of_memory"
    retryable = False


class ArtifactStoreDeniedError(LogsluiceError):
    """An object store refused the request: wrong credentials, no such bucket, no permission.

    Not retryable as is: the administrator fixes the credentials (a sink's, or the artifact store's
    URL) and retries the task. ``details['store']`` names the bucket and prefix.
    """

    code = "artifact_store_denied"


class DiskFullError(LogsluiceError):
    """A filesystem has no room left for what was to be written (an artifact, records, the task
    store), or less than the configured free space the control plane keeps for itself.

    Not retryable as is: a task that fails with it must be retried once space was freed; an
    ingest that gets it stored nothing and may be sent again then. ``details['path']`` names the
    directory that is full.
    """

    code = "disk_full"


class InvalidSettingsError(LogsluiceError):
    """A setting (``LOGSLUICE_*`` variable or command-line option) has an invalid value at start."""

    code = "invalid_settings"


class MissingDriverError(LogsluiceError):
    """An optional driver is not installed; ``details['extra']`` names the extra to install."""

    code = "missing_driver"


class ExportSchemaChangedError(LogsluiceError):
    """A column's type changed while a download task ran, so its rows no longer fit the file's
    columns (pinned by the task's first run)."""

    code = "export_schema_changed"


class CompactionError(LogsluiceError):
    """A compaction's rewritten table did not hold exactly the records of the old one; it was
    rolled back, so nothing changed."""

    code = "compaction_failed"
    retryable = True


class WebhookTargetRefusedError(InvalidInputError):
    """A webhook URL's host resolves to an address webhooks may not reach (loopback, private,
    link-local, multicast, …) and no allowlisted network holds it, or it does not resolve."""

    code = "webhook_target_refused"


class WebhookDeliveryError(LogsluiceError):
    """One attempt to deliver a webhook event failed (refused address, connection, timeout, a
    redirect or a status other than 2xx); the dispatcher retries it until its window ends."""

    code = "webhook_delivery_failed"
    retryable = True
