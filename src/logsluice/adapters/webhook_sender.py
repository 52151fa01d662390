"""HttpWebhookSender: sends webhook events over HTTP(S) to targets that pass the address rule.

The host is resolved once per attempt and every address it resolves to is checked
(:func:`logsluice.domain.webhooks.check_addresses`); the connection then goes to a checked address,
never to a name resolved again, so a DNS answer that changes between check and connect (DNS
rebinding) cannot point the request inside. TLS still verifies the certificate against the host
name. Redirects are not followed (a 3xx is a failed attempt), the response body is read only up to
a small bound, and every socket operation has a timeout. The standard library's ``http.client`` is
used because it lets the connection be pinned to an address and follows no redirect by itself.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from urllib.parse import urlsplit

from logsluice.domain.errors import WebhookDeliveryError, WebhookTargetRefusedError
from logsluice.domain.webhooks import (
    IpAddress,
    IpNetwork,
    WebhookUrl,
    check_addresses,
    parse_webhook_url,
)
from logsluice.ports import WebhookResponse

# How much of a receiver's answer is read: enough to show why it refused an event.
MAX_RESPONSE_BYTES = 1024
USER_AGENT = "logsluice-webhooks/1"
# An attempt is connect, send and answer: it ends at the latest after this many timeouts.
ATTEMPT_STEPS = 3

Resolver = Callable[[str, int], Sequence[IpAddress]]


def resolve_host(host: str, port: int) -> list[IpAddress]:
    """Return every address ``host`` resolves to (an IP literal resolves to itself).

    Raises WebhookTargetRefusedError when the name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise WebhookTargetRefusedError(
            f"webhook host {host!r} does not resolve: {error}", host=host
        ) from error
    addresses: list[IpAddress] = []
    for _family, _kind, _protocol, _name, socket_address in infos:
        address = ipaddress.ip_address(str(socket_address[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class HttpWebhookSender:
    """Implements :class:`logsluice.ports.WebhookSender` with ``http.client``."""

    def __init__(
        self,
        *,
        allowed_networks: Sequence[IpNetwork] = (),
        timeout: timedelta = timedelta(seconds=10),
        resolver: Resolver = resolve_host,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """``allowed_networks`` may be reached although the address rule refuses them."""
        self._allowed = tuple(allowed_networks)
        self._timeout = timeout.total_seconds()
        self._resolver = resolver
        self._tls_context = tls_context or ssl.create_default_context()

    def check_target(self, url: str) -> WebhookUrl:
        """Parse ``url`` and check every address of its host; see the WebhookSender port."""
        target, _ = self._checked(url)
        return target

    def send(self, url: str, headers: dict[str, str], body: bytes) -> WebhookResponse:
        """POST ``body`` to a checked address of ``url``'s host; see the WebhookSender port.

        Besides the timeout of each step, the whole attempt is cut off after three timeouts, so a
        receiver that answers a byte at a time cannot hold it.
        """
        target, addresses = self._checked(url)
        connection = self._connection(target, addresses)
        cut_off = threading.Event()
        deadline = threading.Timer(
            self._timeout * ATTEMPT_STEPS, _cut_off, args=(connection, cut_off)
        )
        deadline.daemon = True
        deadline.start()
        try:
            response = self._exchange(connection, url, headers, body)
        except (OSError, http.client.HTTPException) as error:
            raise WebhookDeliveryError(
                f"no answer from the webhook: {type(error).__name__}: {error}"
            ) from error
        finally:
            deadline.cancel()
            connection.close()
        if cut_off.is_set():  # what was read before the cut is not an answer
            raise WebhookDeliveryError(
                f"no answer from the webhook within {self._timeout * ATTEMPT_STEPS:g} s"
            )
        return response

    @staticmethod
    def _exchange(
        connection: http.client.HTTPConnection, url: str, headers: dict[str, str], body: bytes
    ) -> WebhookResponse:
        connection.request("POST", _path_of(url), body=body, headers=_with_defaults(headers))
        response = connection.getresponse()
        body_start = response.read(MAX_RESPONSE_BYTES)
        return WebhookResponse(
            status_code=response.status, body_start=body_start.decode("utf-8", "replace")
        )

    def _checked(self, url: str) -> tuple[WebhookUrl, list[IpAddress]]:
        target = parse_webhook_url(url)
        addresses = list(self._resolver(target.host, target.port))
        check_addresses(target.host, addresses, self._allowed)
        return target, addresses

    def _connection(
        self, target: WebhookUrl, addresses: list[IpAddress]
    ) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if target.scheme == "https":
            connection = http.client.HTTPSConnection(
                target.host, target.port, timeout=self._timeout, context=self._tls_context
            )
        else:
            connection = http.client.HTTPConnection(target.host, target.port, timeout=self._timeout)
        # Connect to the checked addresses, never to the name resolved anew (DNS rebinding);
        # the host name still goes into the Host header and, for https, SNI and verification.
        connection._create_connection = _pinned_connector(addresses, target.port)  # type: ignore[attr-defined]
        return connection


def _pinned_connector(addresses: list[IpAddress], port: int) -> Callable[..., socket.socket]:
    def connect(
        _address: object, timeout: float | None = None, source_address: object = None
    ) -> socket.socket:
        last_error: OSError | None = None
        for address in addresses:
            try:
                return socket.create_connection((str(address), port), timeout=timeout)
            except OSError as error:
                last_error = error
        assert last_error is not None  # addresses is never empty: it was checked
        raise last_error

    return connect


def _cut_off(connection: http.client.HTTPConnection, cut_off: threading.Event) -> None:
    """End an attempt that ran past its deadline: the blocked read or write fails at once."""
    cut_off.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _with_defaults(headers: dict[str, str]) -> dict[str, str]:
    return {"user-agent": USER_AGENT, **headers}
