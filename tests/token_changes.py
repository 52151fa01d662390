"""Every text one character away from a token, for tests that a signed token has one spelling."""

from __future__ import annotations

import string
from collections.abc import Iterator

BASE64URL_ALPHABET = string.ascii_letters + string.digits + "-_"
# characters a lenient base64 decoder maps onto the alphabet or skips
LOOKALIKES = "+/=.~ "


def one_character_changes(token: str) -> Iterator[str]:
    """Yield ``token`` with each position replaced by every other base64url character (and by a
    few characters lenient decoders accept), then with a character appended or removed."""
    for position, original in enumerate(token):
        for replacement in BASE64URL_ALPHABET + LOOKALIKES:
            if replacement != original:
                yield token[:position] + replacement + token[position + 1 :]
    for extra in BASE64URL_ALPHABET + "=":
        yield token + extra
    yield token[:-1]
