"""Checks of a download-task spec that need no stored data; the log store's rules read the query.

Every check raises a subclass of InvalidInputError naming the offending field, so each dialect can
answer with a clear 4xx before anything is stored.
"""

from __future__ import annotations

import zoneinfo

from logsluice.domain.errors import InvalidInputError
from logsluice.domain.export import Compression, ExportFormat
from logsluice.domain.names import check_name
from logsluice.domain.tasks import TaskSpec
from logsluice.ports import QueryParser

LARGEST_LIMIT = 2**63 - 1  # a row count any task store column can hold
MAX_DISPLAY_NAME_CHARACTERS = 256
MAX_DESCRIPTION_CHARACTERS = 4096
MAX_QUERY_CHARACTERS = 65_536
MAX_LOGSTREAM_CHARACTERS = 256
MAX_IDEMPOTENCY_KEY_CHARACTERS = 128
_FORBIDDEN_DELIMITERS = frozenset({'"', "\r", "\n"})


def check_spec(spec: TaskSpec, max_limit: int | None, parser: QueryParser) -> None:
    """Check everything about ``spec`` that needs no stored data; ``max_limit`` caps ``limit``.

    ``parser`` reads the query with the log store engine's rules.

    Raises InvalidNameError, InvalidQueryError (with the position) or InvalidInputError naming the
    field.
    """
    check_name("download task", spec.name)
    check_name("logstore", spec.logstore)
    _check_text("display_name", spec.display_name, MAX_DISPLAY_NAME_CHARACTERS)
    _check_text("description", spec.description, MAX_DESCRIPTION_CHARACTERS)
    _check_logstream(spec.logstream)
    _check_limit(spec.limit, max_limit)
    _check_timezone(spec.timezone)
    _check_delimiter(spec.csv.delimiter)
    _check_idempotency_key(spec.idempotency_key)
    _check_text("query", spec.query, MAX_QUERY_CHARACTERS)
    parser.parse_query(spec.query)


def spec_warnings(spec: TaskSpec) -> tuple[str, ...]:
    """Return what the task will do differently from what ``spec`` seems to ask, for the caller.

    A Parquet file compresses its own pages (zstd) and is never wrapped in another codec, so a
    ``compression`` other than ``none`` is ignored: the task still runs, and says so.
    """
    if spec.format is ExportFormat.PARQUET and spec.compression is not Compression.NONE:
        return (
            f"compression {spec.compression.value!r} is ignored for Parquet: the file compresses "
            "its pages with Parquet's own zstd codec and is not wrapped in another",
        )
    return ()


def _invalid(field: str, message: str, **details: object) -> InvalidInputError:
    return InvalidInputError(f"{field}: {message}", field=field, **details)


def _check_text(field: str, value: str, maximum_characters: int) -> None:
    if len(value) > maximum_characters:
        raise _invalid(
            field, f"at most {maximum_characters} characters", maximum=maximum_characters
        )


def _check_logstream(logstream: str | None) -> None:
    if logstream is None:
        return
    if not logstream.strip():
        raise _invalid("logstream", "must not be empty (leave it out to export every logstream)")
    _check_text("logstream", logstream, MAX_LOGSTREAM_CHARACTERS)


def _check_limit(limit: int | None, max_limit: int | None) -> None:
    if limit is None:
        return
    ceiling = LARGEST_LIMIT if max_limit is None else min(max_limit, LARGEST_LIMIT)
    if not 1 <= limit <= ceiling:
        raise _invalid(
            "limit",
            f"must be from 1 to {ceiling} rows (leave it out to export every row)",
            maximum=ceiling,
        )


def _check_timezone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise _invalid(
            "timezone", f"{name!r} is not an IANA time zone name such as 'Europe/Berlin'"
        ) from error


def _check_delimiter(delimiter: str) -> None:
    if len(delimiter) != 1 or delimiter in _FORBIDDEN_DELIMITERS:
        raise _invalid(
            "csv.delimiter", "must be exactly one character other than '\"' or a newline"
        )


def _check_idempotency_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARACTERS:
        raise _invalid(
            "idempotency_key", f"1 to {MAX_IDEMPOTENCY_KEY_CHARACTERS} characters when given"
        )
