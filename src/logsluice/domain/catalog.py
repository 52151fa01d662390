"""Projects, logstores and the fields of a logstore's schema, as frozen records."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from logsluice.domain.tasks import WebhookTarget

DEFAULT_TIME_FIELD = "timestamp"
LOGSTREAM_FIELD = "logstream"
MESSAGE_FIELD = "message"


class FieldType(enum.StrEnum):
    """Logical type of a record field: a scalar, or a list of scalars (``bigint[]``).

    Scalars widen BOOLEAN < INTEGER < BIGINT < DOUBLE < VARCHAR; lists widen element-wise. A
    nested object is no type of its own: its leaves are fields named by their dotted path
    (``http.status``), see ADR 0017.
    """

    BOOLEAN = "boolean"
    INTEGER = "integer"
    BIGINT = "bigint"
    DOUBLE = "double"
    VARCHAR = "varchar"
    TIMESTAMP = "timestamp"
    BOOLEAN_LIST = "boolean[]"
    INTEGER_LIST = "integer[]"
    BIGINT_LIST = "bigint[]"
    DOUBLE_LIST = "double[]"
    VARCHAR_LIST = "varchar[]"

    @property
    def element(self) -> FieldType | None:
        """The type of a list's elements; None for a scalar."""
        return FieldType(self.value[:-2]) if self.value.endswith("[]") else None

    def as_list(self) -> FieldType:
        """The list of this scalar type. Raises ValueError for a list or a timestamp."""
        return FieldType(f"{self.value}[]")

    @property
    def is_numeric(self) -> bool:
        return self in (FieldType.INTEGER, FieldType.BIGINT, FieldType.DOUBLE)


_WIDENING_ORDER = (
    FieldType.BOOLEAN,
    FieldType.INTEGER,
    FieldType.BIGINT,
    FieldType.DOUBLE,
    FieldType.VARCHAR,
)


def widen(current: FieldType, incoming: FieldType) -> FieldType:
    """Return the narrowest type that holds values of both ``current`` and ``incoming``.

    Numbers widen to the larger (INTEGER, BIGINT, DOUBLE); lists widen their elements; anything
    else that clashes (a list and a scalar too) widens to VARCHAR, so no value is dropped.
    """
    if current == incoming:
        return current
    current_element, incoming_element = current.element, incoming.element
    if current_element is not None and incoming_element is not None:
        return widen(current_element, incoming_element).as_list()
    if current_element is not None or incoming_element is not None:
        return FieldType.VARCHAR
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
    # the default webhook of the project's tasks (a task's own webhook wins)
    webhook: WebhookTarget | None = None


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
