"""The resumable sha256/md5 equal hashlib's for any bytes cut anywhere, saved and continued."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logsluice.pipeline.resumable_hash import ResumableHashes, resumable_hashes_available


def test_libcrypto_is_found() -> None:
    assert resumable_hashes_available()


def expected(data: bytes) -> tuple[str, str]:
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data, usedforsecurity=False).hexdigest()


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.binary(max_size=300), max_size=8))
def test_saved_and_continued_after_every_piece_equals_hashlib(pieces: list[bytes]) -> None:
    hashes = ResumableHashes()
    for piece in pieces:
        hashes = ResumableHashes.from_state(hashes.state())
        hashes.update(memoryview(piece))
    assert hashes.hexdigests() == expected(b"".join(pieces))
    assert hashes.size_bytes == sum(len(piece) for piece in pieces)


def test_large_input_across_many_blocks() -> None:
    data = bytes(range(256)) * 40_000 + b"tail"
    hashes = ResumableHashes()
    hashes.update(data[:1_000_003])
    continued = ResumableHashes.from_state(hashes.state())
    continued.update(bytearray(data[1_000_003:]))
    assert continued.hexdigests() == expected(data)


def test_digests_leave_the_state_as_it_was() -> None:
    hashes = ResumableHashes()
    hashes.update(b"abc")
    assert hashes.hexdigests() == expected(b"abc")
    hashes.update(b"def")
    assert hashes.hexdigests() == expected(b"abcdef")


def test_empty_input() -> None:
    assert ResumableHashes().hexdigests() == expected(b"")


@pytest.mark.parametrize("state", [b"", b"lsh1", b"x" * 212, ResumableHashes().state()[:-1]])
def test_other_bytes_are_not_a_state(state: bytes) -> None:
    with pytest.raises(ValueError, match="not a saved hash state"):
        ResumableHashes.from_state(state)
