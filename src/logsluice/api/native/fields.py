"""The native API's shared parameter and field types, each with the constraint it is checked by.

Every path, query and body value of the native API is declared with one of these, so the OpenAPI
document states exactly what the server accepts (ADR 0021): a name's pattern and length, a
number's range (never beyond what the stores' 64-bit integers hold: out of range is a 400, never
a 500), a time as RFC 3339 text or a bounded epoch. Names keep their domain check (``invalid_name``)
and the schema states the same pattern; numbers and enumerations are checked by pydantic.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator, Field

from logsluice.domain.links import MAXIMUM_LINK_TTL, MINIMUM_LINK_TTL
from logsluice.domain.names import NAME_PATTERN, NAME_RULE
from logsluice.domain.tasks import TaskStatus
from logsluice.services.tasks import MAX_PAGE_NUMBER, MAX_PAGE_SIZE

NAME_SCHEMA: dict[str, Any] = {
    "pattern": f"^{NAME_PATTERN.pattern}$",
    "minLength": 2,
    "maxLength": 64,
}
# The largest epoch number taken: nanoseconds up to 2**63 - 1 (the year 2262); every value from 0
# to here is a time (seconds below 1e11, then milliseconds, microseconds, nanoseconds).
MAX_EPOCH_NUMBER = 2**63 - 1
MAX_TIME_TEXT_CHARACTERS = 64
TASK_ID_PATTERN = "^[0-9a-f]{32}$"


def _whole_number(value: object) -> object:
    """Take ``30.0`` as 30: JSON Schema's integers include it, strict pydantic would not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Put after an integer's Field(ge=…, le=…) in a request body: strict (no "30"), but 30.0 is 30, as
# JSON Schema says. (Before the Field, pydantic would lose the bounds from the schema.)
WHOLE_NUMBER = BeforeValidator(_whole_number)


def _any_case(word: str) -> str:
    return "".join(f"[{letter.upper()}{letter.lower()}]" for letter in word)


_STATUS_NAME = "|".join(_any_case(status.value) for status in TaskStatus)
# One or more statuses, comma-separated, in any case: `SUCCEEDED`, `failed,cancelled`.
STATUS_FILTER_PATTERN = f"^ *({_STATUS_NAME}) *(, *({_STATUS_NAME}) *)*$"

ProjectName = Annotated[
    str, Path(description=f"the project: {NAME_RULE}", json_schema_extra=NAME_SCHEMA)
]
LogstoreName = Annotated[
    str, Path(description=f"the logstore: {NAME_RULE}", json_schema_extra=NAME_SCHEMA)
]
TaskId = Annotated[
    str,
    Path(
        description="the task's id: 32 lowercase hexadecimal digits",
        json_schema_extra={"pattern": TASK_ID_PATTERN},
    ),
]
NameFilter = Annotated[
    str | None,
    Query(pattern=NAME_SCHEMA["pattern"], min_length=2, max_length=64, description=NAME_RULE),
]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE_NUMBER, description="1-based page")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="tasks per page")]
StatusFilter = Annotated[
    list[Annotated[str, Field(pattern=STATUS_FILTER_PATTERN)]] | None,
    Query(
        description="only tasks in these statuses: repeat it, or comma-separate them "
        f"({', '.join(status.value for status in TaskStatus)}; any case)"
    ),
]
LinkTtl = Annotated[
    int | None,
    Query(
        ge=int(MINIMUM_LINK_TTL.total_seconds()),
        le=int(MAXIMUM_LINK_TTL.total_seconds()),
        description="seconds the link works; default LOGSLUICE_LINK_TTL_DEFAULT (3600); "
        "LOGSLUICE_LINK_TTL_MAX may only lower the ceiling",
    ),
]
EpochNumber = Annotated[int, Field(ge=0, le=MAX_EPOCH_NUMBER), WHOLE_NUMBER]
# Below 2**63 as a float, so an integer past MAX_EPOCH_NUMBER is not taken as a fraction instead.
MAX_EPOCH_FRACTION = 9.2e18
EpochFraction = Annotated[float, Field(ge=0, le=MAX_EPOCH_FRACTION)]
# RFC 3339 text, or an epoch number written as text (the server takes both).
TimeText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TIME_TEXT_CHARACTERS,
        json_schema_extra={
            "anyOf": [{"format": "date-time"}, {"pattern": "^-?[0-9]+(\\.[0-9]+)?$"}]
        },
    ),
]
TimeValue = TimeText | EpochNumber | EpochFraction
