"""The records of ingest decoding: options, decoded chunks and the errors of single lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_REPORTED_ERRORS = 100
MAX_NESTING_DEPTH = 64
"""Deepest nesting of objects and arrays a record may have; a deeper record is refused (Arrow's
JSON reader crashes the process on input nested some thousands deep)."""


@dataclass(frozen=True)
class LineError:
    """A record that was refused: its 1-based line in the input (array element index + 1)."""

    line: int
    message: str

    def as_detail(self) -> dict[str, Any]:
        """Return the ``{"line": n, "message": ...}`` entry of InvalidRecordsError."""
        return {"line": self.line, "message": self.message}


@dataclass(frozen=True)
class DecodedChunk:
    """Records ready for ``LogStore.append`` and the records of the same input span refused."""

    table: Any
    accepted: int
    errors: list[LineError] = field(default_factory=list)


@dataclass(frozen=True)
class DecodeOptions:
    """What every chunk of one input is decoded with."""

    time_field: str
    logstream: str | None
    arrival_time: datetime
    time_format: str | None = None  # strptime format of text times; None: the known formats
    max_fields: int | None = None  # most distinct fields (dotted leaves) of one input; None: any
