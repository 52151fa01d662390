"""Sinks: buckets an administrator registered for a project, where the tasks that name one write
their file (SLS ``sink``, BLS ``fileDir``, the native API's ``sink``).

A :class:`Sink` is the registration (its secret lives encrypted in the store and never leaves the
service); a :class:`SinkTarget` is what a task records: the sink's name and a further key prefix
the task asked for (SLS's ``sink.prefix``, the rest of BLS's ``fileDir``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from logsluice.domain.errors import InvalidInputError

_PREFIX_SEGMENT = re.compile(r"^[^\x00-\x1f\\]+$")
MAX_PREFIX_CHARACTERS = 512


@dataclass(frozen=True)
class Sink:
    """A registered bucket of one project: where on which server, and the access key id used."""

    project: str
    name: str
    endpoint: str
    bucket: str
    prefix: str
    region: str
    access_key_id: str
    created_at: datetime
    addressing_style: str = "path"

    def to_dict(self) -> dict[str, str]:
        """Return the sink as JSON-ready text, without any secret."""
        return {
            "project": self.project,
            "name": self.name,
            "endpoint": self.endpoint,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "addressing_style": self.addressing_style,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


@dataclass(frozen=True)
class SinkTarget:
    """Where a task writes: the registered sink ``name``, under the further ``prefix``."""

    name: str
    prefix: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the target as JSON-ready text."""
        return {"name": self.name, "prefix": self.prefix}


def normalized_prefix(prefix: str, field: str = "prefix") -> str:
    """Return ``prefix`` without leading or trailing slashes.

    Raises InvalidInputError for ``..``/``.``/empty segments, control characters or backslashes.
    """
    cleaned = prefix.strip().strip("/")
    if not cleaned:
        return ""
    segments = cleaned.split("/")
    if len(cleaned) > MAX_PREFIX_CHARACTERS or any(
        segment in ("", ".", "..") or not _PREFIX_SEGMENT.match(segment) for segment in segments
    ):
        raise InvalidInputError(
            f"{field} {prefix!r} is not a valid key prefix (no empty, '.' or '..' segments, no "
            "control characters or backslashes)",
            field=field,
        )
    return cleaned


def joined_prefix(*prefixes: str) -> str:
    """Return the non-empty prefixes joined by slashes."""
    return "/".join(prefix for prefix in prefixes if prefix)
