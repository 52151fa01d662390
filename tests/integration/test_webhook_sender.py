"""HttpWebhookSender against real sockets on 127.0.0.1: it connects to the address it checked (not
to the name resolved again), over TLS still verifying the certificate for the host name; reads no
more than a kilobyte of an answer, gives up on a receiver that answers a byte at a time, and
reports a closed port as a failed attempt."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from logsluice.adapters.webhook_sender import MAX_RESPONSE_BYTES, HttpWebhookSender
from logsluice.domain.errors import WebhookDeliveryError, WebhookTargetRefusedError
from logsluice.domain.webhooks import parse_networks

pytestmark = pytest.mark.timeout(60)

LOOPBACK = parse_networks("127.0.0.1/32")


def _read_request(connection: socket.socket) -> bytes:
    """Read one whole request: the head, then as many body bytes as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _serve(answer: Callable[[socket.socket, bytes], None]) -> Iterator[tuple[int, list[bytes]]]:
    """Accept connections on 127.0.0.1, hand each request's bytes to ``answer``."""
    listener = socket.create_server(("127.0.0.1", 0))
    requests: list[bytes] = []
    stopping = threading.Event()

    def loop() -> None:
        listener.settimeout(0.2)
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                request = _read_request(connection)
                requests.append(request)
                with contextlib.suppress(OSError):
                    answer(connection, request)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield listener.getsockname()[1], requests
    stopping.set()
    thread.join()
    listener.close()


@pytest.fixture
def plain_receiver() -> Iterator[tuple[int, list[bytes]]]:
    def answer(connection: socket.socket, request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok")

    yield from _serve(answer)


def test_the_connection_goes_to_the_checked_address_not_a_new_lookup(
    plain_receiver: tuple[int, list[bytes]],
) -> None:
    port, requests = plain_receiver
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    # "receiver.invalid" resolves nowhere in real DNS: the request can only arrive because the
    # socket went to the address the check saw
    sender = HttpWebhookSender(allowed_networks=LOOPBACK, resolver=resolver)
    response = sender.send(f"http://receiver.invalid:{port}/in?x=1", {"webhook-id": "m"}, b"{}")
    assert response.status_code == 202
    assert lookups == ["receiver.invalid"]
    [request] = requests
    assert request.startswith(b"POST /in?x=1 HTTP/1.1\r\n")
    assert f"Host: receiver.invalid:{port}".encode() in request
    assert b"webhook-id: m" in request


def test_a_name_that_turns_inner_at_delivery_gets_no_request(
    plain_receiver: tuple[int, list[bytes]],
) -> None:
    port, requests = plain_receiver

    def resolver(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("127.0.0.1")]

    with pytest.raises(WebhookTargetRefusedError, match="loopback"):
        HttpWebhookSender(resolver=resolver).send(f"http://rebound.invalid:{port}/", {}, b"{}")
    assert requests == []


@pytest.fixture
def huge_receiver() -> Iterator[tuple[int, list[bytes]]]:
    def answer(connection: socket.socket, request: bytes) -> None:
        size = 50 * 1024 * 1024
        connection.sendall(f"HTTP/1.1 500 Oops\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = b"x" * 65536
        for _ in range(size // len(chunk)):
            connection.sendall(chunk)

    yield from _serve(answer)


def test_no_more_than_a_kilobyte_of_an_answer_is_read(
    huge_receiver: tuple[int, list[bytes]],
) -> None:
    port, _ = huge_receiver
    sender = HttpWebhookSender(allowed_networks=LOOPBACK, timeout=timedelta(seconds=5))
    response = sender.send(f"http://127.0.0.1:{port}/", {}, b"{}")
    assert response.status_code == 500
    assert len(response.body_start) == MAX_RESPONSE_BYTES


@pytest.fixture
def dripping_receiver() -> Iterator[tuple[int, list[bytes]]]:
    def answer(connection: socket.socket, request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        # a header byte now and then, each within the read timeout, until the client hangs up
        # (beyond this test's own timeout, had the attempt no deadline)
        for _ in range(1000):
            connection.sendall(b"X")
            time.sleep(0.1)

    yield from _serve(answer)


def test_a_receiver_answering_a_byte_at_a_time_is_cut_off(
    dripping_receiver: tuple[int, list[bytes]],
) -> None:
    port, _ = dripping_receiver
    sender = HttpWebhookSender(allowed_networks=LOOPBACK, timeout=timedelta(seconds=0.5))
    with pytest.raises(WebhookDeliveryError, match=r"no answer from the webhook within 1\.5 s"):
        sender.send(f"http://127.0.0.1:{port}/", {}, b"{}")


def test_a_closed_port_is_a_failed_attempt() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    sender = HttpWebhookSender(allowed_networks=LOOPBACK)
    with pytest.raises(WebhookDeliveryError, match="ConnectionRefused"):
        sender.send(f"http://127.0.0.1:{port}/", {}, b"{}")


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """Write a self-signed certificate for DNS ``name`` and its key; return their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[int, list[bytes], Path]]:
    certificate, key = _self_signed(tmp_path, "receiver.invalid")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)

    def answer(connection: socket.socket, request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    listener = socket.create_server(("127.0.0.1", 0))
    requests: list[bytes] = []
    stopping = threading.Event()

    def loop() -> None:
        listener.settimeout(0.2)
        while not stopping.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(30)
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    request = _read_request(tls)
                    requests.append(request)
                    answer(tls, request)
                    # read until the client hangs up: closing with its bytes unread would reset
                    # the connection and could destroy the answer in flight
                    while tls.recv(65536):
                        pass
            except OSError:  # a refused handshake, on purpose below
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield listener.getsockname()[1], requests, certificate
    stopping.set()
    thread.join()
    listener.close()


def _to_loopback(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address("127.0.0.1")]


def test_https_goes_to_the_checked_address_and_verifies_the_host_name(
    tls_receiver: tuple[int, list[bytes], Path],
) -> None:
    port, requests, certificate = tls_receiver
    trusting = ssl.create_default_context(cafile=str(certificate))
    sender = HttpWebhookSender(
        allowed_networks=LOOPBACK, resolver=_to_loopback, tls_context=trusting
    )
    response = sender.send(f"https://receiver.invalid:{port}/tls", {}, b"{}")
    assert response.status_code == 204
    [request] = requests
    assert request.startswith(b"POST /tls HTTP/1.1\r\n")
    # a certificate for another name is refused: the host name, not the address, is verified
    other = HttpWebhookSender(
        allowed_networks=LOOPBACK, resolver=_to_loopback, tls_context=trusting
    )
    with pytest.raises(WebhookDeliveryError, match="SSLCertVerificationError"):
        other.send(f"https://impostor.invalid:{port}/tls", {}, b"{}")
    # and an untrusted certificate too
    with pytest.raises(WebhookDeliveryError, match="SSLCertVerificationError"):
        HttpWebhookSender(allowed_networks=LOOPBACK, resolver=_to_loopback).send(
            f"https://receiver.invalid:{port}/tls", {}, b"{}"
        )
    assert len(requests) == 1
