"""The framework-neutral request that the vendor signature verifiers read.

A router builds one ``SignedRequest`` from what it received — method, the path exactly as it came
over the wire (still percent-encoded), the raw query pairs, the headers and the body bytes — and
hands it to a verifier. Keeping the raw forms matters: each vendor decodes and re-encodes paths and
queries by its own rules (``+`` is a space for Alibaba, a literal plus for Baidu and Huawei), so
nothing may be normalised before the verifier sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

SecretLookup = Callable[[str], str | None]
"""Returns the secret access key for an access key id, or ``None`` when the key is unknown."""


class Headers(Mapping[str, str]):
    """Immutable, case-insensitive HTTP headers; names are stored lower-cased.

    A header sent more than once is kept as its values joined with ``","`` (RFC 9110 §5.3).
    """

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        values: dict[str, str] = {}
        for name, value in items:
            key = name.strip().lower()
            values[key] = f"{values[key]},{value}" if key in values else value
        self._values = values

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._values)!r})"


@dataclass(frozen=True)
class QueryParameter:
    """One ``name[=value]`` item of a query string, still percent-encoded as received.

    ``value`` is ``None`` when the item had no ``=`` at all (``?flag``), which Alibaba signs
    differently from an empty value (``?flag=``).
    """

    raw_name: str
    raw_value: str | None


@dataclass(frozen=True)
class SignedRequest:
    """An HTTP request as received, before any decoding, for signature verification."""

    method: str
    raw_path: str
    query: tuple[QueryParameter, ...] = ()
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @classmethod
    def from_target(
        cls,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] | Mapping[str, str],
        body: bytes = b"",
    ) -> SignedRequest:
        """Builds a request from an HTTP request target (``/path?query``, or absolute form).

        Returns the request with its path and query split but not decoded.
        """
        if target.lower().startswith(("http://", "https://")):
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        raw_path, _, raw_query = target.partition("?")
        return cls(
            method=method.upper(),
            raw_path=raw_path or "/",
            query=parse_raw_query(raw_query),
            headers=Headers(headers),
            body=body,
        )


def parse_raw_query(raw_query: str) -> tuple[QueryParameter, ...]:
    """Splits a raw query string on ``&`` into parameters without decoding anything.

    Returns the non-empty items in the order they were sent.
    """
    parameters = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, separator, value = item.partition("=")
        parameters.append(QueryParameter(name, value if separator else None))
    return tuple(parameters)


@dataclass(frozen=True)
class VerifiedCaller:
    """Who signed a request that verified.

    ``body_covered`` is false when the vendor's scheme left the body outside the signature (the
    Baidu Python SDK sends no ``Content-MD5``; Huawei's ``UNSIGNED-PAYLOAD``): the caller is
    authenticated but the body could have been altered in transit.
    """

    access_key_id: str
    body_covered: bool
