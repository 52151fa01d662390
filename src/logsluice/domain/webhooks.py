"""Completion webhooks: the target a task or project names, the event a finished task sends, its
Standard Webhooks signature, the retry schedule, and the address rule that keeps targets off private
networks (SSRF).

Pure rules only; resolving host names and sending requests is the job of an adapter. ADR 0020
explains the delivery design (an outbox in the task store, claimed by dispatchers).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

from logsluice.domain.errors import InvalidInputError, WebhookTargetRefusedError
from logsluice.domain.tasks import Task, TaskStatus
from logsluice.domain.tasks import WebhookTarget as WebhookTarget  # part of a Task, kept there

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
MAX_URL_LENGTH = 2048
SCHEMES = {"http": 80, "https": 443}
EVENT_TYPES: Mapping[TaskStatus, str] = {
    TaskStatus.SUCCEEDED: "download_task.succeeded",
    TaskStatus.FAILED: "download_task.failed",
    TaskStatus.CANCELLED: "download_task.cancelled",
    TaskStatus.EXPIRED: "download_task.expired",
}

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class DeliveryStatus(enum.StrEnum):
    """Where one delivery stands: waiting for an attempt, being sent, done, or given up."""

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class WebhookDelivery:
    """One event for one ending of one task, and how its delivery went.

    ``id`` is the Standard Webhooks ``webhook-id``: the receiver's idempotency key, the same on
    every attempt. ``payload`` is the task as it ended (:func:`completion_snapshot`).
    """

    id: str
    task_id: str
    project: str
    event_type: str
    url: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    payload: Mapping[str, Any]
    secret_ciphertext: str = ""
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeliveryOutcome:
    """How one claimed attempt of ``delivery`` went, to be recorded: its new ``status``
    (DELIVERED, PENDING again until ``next_attempt_at``, or FAILED: given up), the receiver's
    ``status_code`` (None without an answer) and the ``error``."""

    delivery: WebhookDelivery
    status: DeliveryStatus
    at: datetime
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class WebhookUrl:
    """A checked webhook URL: its scheme, host (no brackets) and port."""

    url: str
    scheme: str
    host: str
    port: int


def parse_webhook_url(url: str) -> WebhookUrl:
    """Check the form of a webhook URL and return its parts.

    Only absolute ``http``/``https`` URLs with a host, no credentials and no fragment are taken.
    Raises InvalidInputError saying what is wrong.
    """
    if not url or len(url) > MAX_URL_LENGTH:
        raise _bad_url(f"a webhook URL has 1 to {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _bad_url(f"not a URL: {error}") from error
    _check_url_parts(parts)
    assert parts.hostname is not None  # checked above
    return WebhookUrl(
        url=url, scheme=parts.scheme, host=parts.hostname, port=port or SCHEMES[parts.scheme]
    )


def _check_url_parts(parts: SplitResult) -> None:
    if parts.scheme not in SCHEMES:
        raise _bad_url("a webhook URL starts with http:// or https://")
    if not parts.hostname:
        raise _bad_url("a webhook URL names a host")
    if parts.username is not None or parts.password is not None:
        raise _bad_url("a webhook URL carries no credentials; the secret signs each event")
    if parts.fragment:
        raise _bad_url("a webhook URL has no #fragment")
    if any(character.isspace() or ord(character) < 32 for character in parts.geturl()):
        raise _bad_url("a webhook URL has no spaces or control characters")


def _bad_url(message: str) -> InvalidInputError:
    return InvalidInputError(f"webhook url: {message}", field="webhook.url")


# --- the address rule (SSRF) ---------------------------------------------------------------------


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """Read a comma-separated list of CIDR networks (``127.0.0.1/32,::1/128``).

    Raises ValueError naming the entry that is not a network.
    """
    networks: list[IpNetwork] = []
    for entry in (item.strip() for item in text.split(",")):
        if entry:
            networks.append(ipaddress.ip_network(entry, strict=False))
    return tuple(networks)


def address_refusal(address: IpAddress, allowed: Iterable[IpNetwork] = ()) -> str | None:
    """Return why a webhook may not be sent to ``address``, or None when it may.

    Refused: loopback, private, link-local, multicast, unspecified, reserved and every other
    non-global address, also when written as an IPv4-mapped, 6to4 or NAT64 IPv6 address; unless an
    ``allowed`` network holds the address (or the IPv4 address it embeds).
    """
    # an IPv6 form of an IPv4 address (mapped, 6to4, NAT64) reaches that IPv4 address: judge it
    candidates: list[IpAddress] = [*_embedded_ipv4(address)] or [address]
    if any(candidate in network for candidate in candidates for network in allowed):
        return None
    for candidate in candidates:
        reason = _kind_refused(candidate)
        if reason is not None:
            return f"{address} is a {reason} address"
    return None


def _embedded_ipv4(address: IpAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    embedded = [address.ipv4_mapped, address.sixtofour]
    if address in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [item for item in embedded if item is not None]


def _kind_refused(address: IpAddress) -> str | None:
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-global", not address.is_global),
    )
    return next((name for name, refused in checks if refused), None)


def check_addresses(
    host: str, addresses: Iterable[IpAddress], allowed: Iterable[IpNetwork] = ()
) -> None:
    """Raise WebhookTargetRefusedError unless every address of ``host`` may be used (and one is)."""
    networks = tuple(allowed)
    resolved = list(addresses)
    if not resolved:
        raise WebhookTargetRefusedError(f"webhook host {host!r} has no address", host=host)
    for address in resolved:
        reason = address_refusal(address, networks)
        if reason is not None:
            raise WebhookTargetRefusedError(
                f"webhook host {host!r} is refused: {reason} "
                "(see LOGSLUICE_WEBHOOK_ALLOW_NETWORKS)",
                host=host,
                address=str(address),
            )


# --- secrets and signatures (Standard Webhooks) --------------------------------------------------


def new_webhook_secret() -> str:
    """Return a fresh secret in the Standard Webhooks form ``whsec_<base64 of 32 bytes>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def webhook_key(secret: str) -> bytes:
    """Return the HMAC key of a ``whsec_…`` secret. Raises InvalidInputError for another form."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise _bad_secret() from error
    if not secret.startswith(SECRET_PREFIX) or not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise _bad_secret()
    return key


def _bad_secret() -> InvalidInputError:
    return InvalidInputError(
        f"webhook secret: expected {SECRET_PREFIX}<base64 of {SECRET_MIN_BYTES}-"
        f"{SECRET_MAX_BYTES} random bytes>; leave it out to have one made",
        field="webhook.secret",
    )


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of
    ``id.timestamp.body``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the Standard Webhooks headers of one attempt."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, message_id, timestamp, body),
    }


# --- events and retries --------------------------------------------------------------------------


def completion_snapshot(task: Task) -> dict[str, Any]:
    """Return the JSON-ready facts of a task as it ended: what every attempt's event reports."""
    error = (
        {"code": task.error_code or "error", "message": task.error_message or ""}
        if task.error_code or task.error_message
        else None
    )
    return {
        "id": task.id,
        "project": task.project,
        "name": task.spec.name,
        "logstore": task.spec.logstore,
        "dialect": str(task.dialect),
        "status": str(task.status),
        "rows": task.rows_written,
        "bytes": task.bytes_written,
        "truncated": task.truncated,
        "incomplete": task.incomplete,
        "artifact_key": task.artifact_key,
        "error": error,
        "created_at": _text(task.created_at),
        "started_at": _text(task.started_at),
        "finished_at": _text(task.finished_at),
        "expires_at": _text(task.expires_at),
        "ended_at": _text(task.updated_at),
    }


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def completion_event(
    delivery: WebhookDelivery,
    *,
    sent_at: datetime,
    sha256: str | None,
    link: Mapping[str, str] | None,
) -> dict[str, Any]:
    """Return the event body of one attempt: ``type``, ``timestamp`` and the task as ``data``."""
    data = {key: value for key, value in delivery.payload.items() if key != "artifact_key"}
    data.update(sha256=sha256, link=dict(link) if link is not None else None)
    return {"type": delivery.event_type, "timestamp": sent_at.isoformat(), "data": data}


def retry_delay(attempts: int, initial: timedelta, maximum: timedelta, jitter: float) -> timedelta:
    """Return the wait after the ``attempts``-th failed attempt: ``initial`` doubled each time,
    at most ``maximum``, scaled by ``jitter`` (0.5–1.0 spreads retries of many deliveries)."""
    exponent = min(max(attempts - 1, 0), 32)
    delay: timedelta = min(initial * (2**exponent), maximum)
    return delay * jitter
