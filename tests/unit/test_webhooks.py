"""Completion webhooks without a server: the Standard Webhooks signature (checked with the
``standardwebhooks`` package, an independent implementation), the address rule against SSRF in
every spelling of an address, URL and secret checks, and the retry schedule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import time
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from logsluice.adapters.webhook_sender import HttpWebhookSender, resolve_host
from logsluice.domain.errors import InvalidInputError, WebhookTargetRefusedError
from logsluice.domain.webhooks import (
    address_refusal,
    check_addresses,
    new_webhook_secret,
    parse_networks,
    parse_webhook_url,
    retry_delay,
    sign,
    webhook_headers,
    webhook_key,
)

pytestmark = pytest.mark.timeout(30)

LOOPBACK_ONLY = parse_networks("127.0.0.1/32,::1/128")


# --- signatures ----------------------------------------------------------------------------------


def test_a_signed_event_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_webhook_secret()
    body = b'{"type":"download_task.succeeded","data":{"id":"abc"}}'
    # the library refuses timestamps far from now, so sign with the current time
    headers = webhook_headers(webhook_key(secret), "msg_1", int(time.time()), body)
    verifier = Webhook(secret)
    assert verifier.verify(body, headers) == {
        "type": "download_task.succeeded",
        "data": {"id": "abc"},
    }
    with pytest.raises(WebhookVerificationError):
        verifier.verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers)


def test_the_signature_is_hmac_sha256_over_id_timestamp_and_body() -> None:
    key = bytes(range(32))
    body = '{"ü":1}'.encode()
    expected = hmac.new(key, b"msg_2.1700000000." + body, hashlib.sha256).digest()
    assert sign(key, "msg_2", 1_700_000_000, body) == "v1," + base64.b64encode(expected).decode()
    headers = webhook_headers(key, "msg_2", 1_700_000_000, body)
    assert headers["webhook-id"] == "msg_2"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "secret",
    [
        "secret",
        "whsec_",
        "whsec_!!!notbase64",
        "whsec_" + base64.b64encode(b"short").decode(),
        "whsec_" + base64.b64encode(bytes(65)).decode(),
        base64.b64encode(bytes(32)).decode(),  # no prefix
    ],
)
def test_a_malformed_secret_is_refused(secret: str) -> None:
    with pytest.raises(InvalidInputError, match="whsec_"):
        webhook_key(secret)


def test_a_made_secret_has_the_standard_form() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(webhook_key(secret)) == 32
    assert new_webhook_secret() != secret


# --- the address rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("100.64.0.1", "non-global"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_inner_addresses_are_refused(address: str, kind: str) -> None:
    reason = address_refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_the_allowlist_opens_exactly_its_networks() -> None:
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), LOOPBACK_ONLY) is None
    assert address_refusal(ipaddress.ip_address("::1"), LOOPBACK_ONLY) is None
    assert address_refusal(ipaddress.ip_address("::ffff:127.0.0.1"), LOOPBACK_ONLY) is None
    assert address_refusal(ipaddress.ip_address("127.0.0.2"), LOOPBACK_ONLY) is not None
    assert address_refusal(ipaddress.ip_address("10.0.0.1"), LOOPBACK_ONLY) is not None


def test_every_resolved_address_must_pass() -> None:
    public, inner = ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.5")
    check_addresses("mixed.example", [public])
    with pytest.raises(WebhookTargetRefusedError, match=r"10\.0\.0\.5"):
        check_addresses("mixed.example", [public, inner])
    with pytest.raises(WebhookTargetRefusedError, match="no address"):
        check_addresses("empty.example", [])


def test_a_network_list_with_a_bad_entry_is_refused() -> None:
    assert parse_networks("") == ()
    assert [str(item) for item in parse_networks(" 10.0.0.0/8 , ::1 ")] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ValueError, match="nonsense"):
        parse_networks("10.0.0.0/8,nonsense")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f000001/",  # hexadecimal
        "http://017700000001/",  # octal
        "http://127.1/",  # short form
        "http://0/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "https://localhost/hook",  # a name resolving to loopback
        "http://LOCALHOST./",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1:9200/",
    ],
)
def test_every_spelling_of_an_inner_address_is_refused(url: str) -> None:
    sender = HttpWebhookSender()
    with pytest.raises(WebhookTargetRefusedError):
        sender.check_target(url)


def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    def resolver(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("192.168.0.10")]

    sender = HttpWebhookSender(resolver=resolver)
    with pytest.raises(WebhookTargetRefusedError, match=r"192\.168\.0\.10"):
        sender.check_target("https://rebinding.example/hook")


def test_an_unresolvable_host_is_refused() -> None:
    with pytest.raises(WebhookTargetRefusedError, match="does not resolve"):
        resolve_host("no-such-host.invalid", 443)


def test_the_allowlist_lets_a_loopback_target_through() -> None:
    target = HttpWebhookSender(allowed_networks=LOOPBACK_ONLY).check_target(
        "http://127.0.0.1:9/hook?x=1"
    )
    assert (target.scheme, target.host, target.port) == ("http", "127.0.0.1", 9)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "http"),
        ("file:///etc/passwd", "http"),
        ("gopher://example.com/", "http"),
        ("http:///path", "host"),
        ("//example.com/", "http"),
        ("http://user:pass@example.com/", "credentials"),
        ("http://example.com/#frag", "fragment"),
        ("http://example.com:99999/", "URL"),
        ("", "characters"),
        ("http://example.com/" + "a" * 3000, "characters"),
    ],
)
def test_a_malformed_url_is_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_webhook_url(url)


def test_the_port_defaults_by_scheme() -> None:
    assert parse_webhook_url("https://example.com/a").port == 443
    assert parse_webhook_url("http://example.com").port == 80
    assert parse_webhook_url("http://[2606:4700::1]:8080/").host == "2606:4700::1"


# --- retries -------------------------------------------------------------------------------------


def test_the_retry_delay_doubles_up_to_its_maximum() -> None:
    initial, maximum = timedelta(seconds=5), timedelta(minutes=1)
    delays = [retry_delay(attempts, initial, maximum, 1.0) for attempts in range(1, 7)]
    assert delays == [timedelta(seconds=seconds) for seconds in (5, 10, 20, 40, 60, 60)]
    assert retry_delay(3, initial, maximum, 0.5) == timedelta(seconds=10)
    assert retry_delay(10_000, initial, maximum, 1.0) == maximum
