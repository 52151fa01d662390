"""Signed download links: round trip, tampering, expiry, TTL bounds and the secret file."""

from __future__ import annotations

import base64
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.token_changes import one_character_changes

from logsluice.domain.errors import InvalidInputError, LinkExpiredError, LinkInvalidError
from logsluice.services.links import LinkSigner, load_or_create_link_secret
from logsluice.services.token_text import decode_token, encode_token

SECRET = b"0123456789abcdef0123456789abcdef"


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def signer(clock: ManualClock) -> LinkSigner:
    return LinkSigner(SECRET, clock)


def test_a_signed_token_verifies_to_its_claims(signer: LinkSigner, clock: ManualClock) -> None:
    link = signer.sign("shop", "task-1", "shop/task-1/export.csv.zst")
    claims = signer.verify(link.token)
    assert (claims.project, claims.task_id, claims.artifact_key) == (
        "shop",
        "task-1",
        "shop/task-1/export.csv.zst",
    )
    assert claims.expires_at == link.expires_at == clock.current + timedelta(hours=1)


def test_the_token_is_url_safe_and_does_not_show_the_key_in_clear(signer: LinkSigner) -> None:
    token = signer.sign("shop", "task-1", "shop/task-1/export.csv").token
    assert all(character.isalnum() or character in "-_." for character in token)
    assert "export.csv" not in token


@pytest.mark.parametrize("position", [0, 10, -5, -1])
def test_a_tampered_token_is_invalid(signer: LinkSigner, position: int) -> None:
    token = signer.sign("shop", "task-1", "key").token
    replacement = "A" if token[position] != "A" else "B"
    characters = list(token)
    characters[position] = replacement
    tampered = "".join(characters)
    with pytest.raises(LinkInvalidError):
        signer.verify(tampered)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "....", "%%%.%%%", "e30.e30"])
def test_garbage_is_invalid(signer: LinkSigner, token: str) -> None:
    with pytest.raises(LinkInvalidError):
        signer.verify(token)


def test_a_token_signed_with_another_secret_is_invalid(clock: ManualClock) -> None:
    token = LinkSigner(b"another-secret-of-enough-bytes!!", clock).sign("shop", "t", "k").token
    with pytest.raises(LinkInvalidError):
        LinkSigner(SECRET, clock).verify(token)


def test_a_token_expires_after_its_ttl(signer: LinkSigner, clock: ManualClock) -> None:
    token = signer.sign("shop", "task-1", "key", ttl=timedelta(minutes=5)).token
    clock.current += timedelta(minutes=4, seconds=59)
    signer.verify(token)
    clock.current += timedelta(seconds=1)
    with pytest.raises(LinkExpiredError):
        signer.verify(token)


@pytest.mark.parametrize("ttl", [timedelta(seconds=59), timedelta(days=7, seconds=1)])
def test_a_ttl_outside_the_bounds_is_refused(signer: LinkSigner, ttl: timedelta) -> None:
    with pytest.raises(InvalidInputError):
        signer.sign("shop", "task-1", "key", ttl=ttl)


def test_the_secret_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "link-secret"
    first = load_or_create_link_secret(path)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_link_secret(path) == first
    assert list(path.parent.iterdir()) == [path]


def test_tokens_are_opaque_and_differ_each_time(signer: LinkSigner) -> None:
    first = signer.sign("shop", "task-secret-id", "shop/task-secret-id/export.csv").token
    second = signer.sign("shop", "task-secret-id", "shop/task-secret-id/export.csv").token
    assert first != second  # a fresh nonce per link
    raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    for claim in (b"shop", b"task-secret-id", b"export.csv"):
        assert claim not in raw
    assert signer.verify(first).task_id == signer.verify(second).task_id == "task-secret-id"


def test_a_flipped_ciphertext_bit_is_refused(signer: LinkSigner) -> None:
    token = signer.sign("shop", "task-1", "shop/task-1/export.csv").token
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[20] ^= 0x01  # inside the ciphertext, past the nonce
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(LinkInvalidError):
        signer.verify(tampered)


def test_every_one_character_change_of_a_token_is_refused(signer: LinkSigner) -> None:
    """The last character's unused bits used to decode to the same bytes (issue 12, item 8)."""
    token = signer.sign("shop", "task-1", "shop/task-1/export.csv").token
    accepted = [changed for changed in one_character_changes(token) if _verifies(signer, changed)]
    assert accepted == []
    assert signer.verify(token).task_id == "task-1"


def _verifies(signer: LinkSigner, token: str) -> bool:
    try:
        signer.verify(token)
    except LinkInvalidError:
        return False
    return True


@pytest.mark.parametrize("length", range(1, 12))
def test_a_token_text_decodes_only_in_its_canonical_form(length: int) -> None:
    raw = bytes(range(250, 250 - length, -1))
    text = encode_token(raw)
    assert decode_token(text) == raw
    others = [changed for changed in one_character_changes(text) if decode_token(changed) == raw]
    assert others == []
    if len(text) % 4:
        assert decode_token(text + "=" * (-len(text) % 4)) is None


@pytest.mark.parametrize("text", ["A", "AAAAA", "ab+/", "ab cd", "YQ==", "YR", "\u00e9t\u00e9"])
def test_texts_outside_the_canonical_alphabet_decode_to_nothing(text: str) -> None:
    assert decode_token(text) is None
