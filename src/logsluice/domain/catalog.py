"""Projects, logstores and the fields of a logstore's schema, as frozen records."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime

DEFAULT_TIME_FIELD = "timestamp"
LOGSTREAM_FIELD = "logstream"
MESSAGE_FIELD = "message"


class FieldType(enum.StrEnum):
    """Logical type of a record field. Widening goes BOOLEAN < BIGINT < DOUBLE < VARCHAR."""

    BOOLEAN = "boolean"
    BIGINT = "bigint"
    DOUBLE = "double"
    VARCHAR = "varchar"
    TIMESTAMP = "timestamp"


_WIDENING_ORDER = (FieldType.BOOLEAN, FieldType.BIGINT, FieldType.DOUBLE, FieldType.VARCHAR)


def widen(current: FieldType, incoming: FieldType) -> FieldType:
    """Return the narrowest type that holds values of both ``current`` and ``incoming``.

    Numbers widen to DOUBLE; anything else that clashes widens to VARCHAR, so no value is dropped.
    """
    if current == incoming:
        return current
    if FieldType.TIMESTAMP in (current, incoming):
        return FieldType.VARCHAR
    if FieldType.BOOLEAN in (current, incoming):
        return FieldType.VARCHAR
    return max(current, incoming, key=_WIDENING_ORDER.index)


@dataclass(frozen=True)
class Field:
    """One column of a logstore."""

    name: str
    type: FieldType


def new_generation() -> str:
    """Return a fresh project generation: a random uuid."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Project:
    """A tenant. ``generation`` tells this project from an earlier one of the same name (deleted):
    access keys, tasks and links carry it, and those of another generation are refused."""

    name: str
    description: str
    created_at: datetime
    generation: str = field(default_factory=new_generation)


@dataclass(frozen=True)
class Logstore:
    project: str
    name: str
    retention_days: int
    time_field: str
    created_at: datetime
    description: str = ""


@dataclass(frozen=True)
class LogstoreSchema:
    """The fields of a logstore, time field first. Names are compared case-insensitively."""

    time_field: str
    fields: tuple[Field, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Field | None:
        lowered = name.lower()
        return next((f for f in self.fields if f.name.lower() == lowered), None)
