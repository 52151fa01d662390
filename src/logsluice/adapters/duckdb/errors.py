"""Translation of DuckDB exceptions into logsluice errors, where they enter our code.

A query the engine rejects is the user's InvalidQueryError: an unknown column becomes the same
``unknown_field`` error a SEARCH gives (where the name stands, and the nearest field), anything
else (a type that does not convert) DuckDB's message without its echo of the internal SQL; an
interrupted query is a QueryTimeoutError; running out of memory is EngineOutOfMemoryError (not
retryable: the same work fails the same way); other I/O and resource failures are
BackendUnavailableError;
a missing table is LogstoreNotFoundError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import duckdb

from logsluice.domain.errors import (
    BackendUnavailableError,
    DiskFullError,
    EngineOutOfMemoryError,
    InvalidQueryError,
    InvalidRecordsError,
    LogsluiceError,
    LogstoreNotFoundError,
    QueryTimeoutError,
)

_USER_ERRORS = (
    duckdb.BinderException,
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
    duckdb.ParserException,
    duckdb.InvalidInputException,
    duckdb.CatalogException,
    duckdb.NotImplementedException,
    duckdb.TypeMismatchException,
    duckdb.InvalidTypeException,
)
_BACKEND_ERRORS = (
    duckdb.IOException,
    duckdb.OutOfMemoryException,
    duckdb.FatalException,
    duckdb.ConnectionException,
    duckdb.TransactionException,
)


# DuckDB's words for a column the query names and the records lack.
_UNKNOWN_COLUMN = re.compile(
    r'Referenced column "(?P<name>[^"]+)" not found|does not have a column named "(?P<other>[^"]+)"'
)
UnknownColumn = Callable[[str], InvalidQueryError]


@contextmanager
def translate_errors(
    *,
    project: str,
    logstore: str,
    query_position: int = 0,
    timeout: timedelta | None = None,
    unknown_column: UnknownColumn | None = None,
) -> Iterator[None]:
    """Run the ``with`` block, raising logsluice errors (``from`` DuckDB's) in place of DuckDB's.

    ``query_position`` is where the user's query text begins, reported on InvalidQueryError;
    ``unknown_column`` makes the error of a column the records lack (its position, a suggestion).
    """
    try:
        yield
    except duckdb.InterruptException as error:
        raise QueryTimeoutError(
            f"query ran past its timeout of {timeout}", timeout_seconds=_seconds(timeout)
        ) from error
    except duckdb.CatalogException as error:
        if _is_missing_table(error):
            raise LogstoreNotFoundError(
                f"logstore {project}/{logstore} has no storage", project=project, logstore=logstore
            ) from error
        raise _invalid_query(error, query_position) from error
    except duckdb.ConstraintException as error:
        raise InvalidRecordsError(
            f"records break a constraint of {project}/{logstore}: {error}",
            errors=[{"line": 0, "message": str(error)}],
        ) from error
    except duckdb.BinderException as error:
        raise _binder_error(error, query_position, unknown_column) from error
    except _USER_ERRORS as error:
        raise _invalid_query(error, query_position) from error
    except _BACKEND_ERRORS as error:
        raise _backend_error(error) from error
    except duckdb.Error as error:
        raise LogsluiceError(f"DuckDB log store failed: {error}") from error


def _backend_error(error: duckdb.Error) -> LogsluiceError:
    if _is_disk_full(error):
        return DiskFullError(f"the log store's disk is full: {error}", path="", free_bytes=0)
    if isinstance(error, duckdb.OutOfMemoryException):
        return EngineOutOfMemoryError(
            f"the log store ran out of memory: {engine_message(error).splitlines()[0]} "
            "(raise LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES, or narrow the query)",
            setting="LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES",
        )
    return BackendUnavailableError(f"DuckDB log store failed: {error}")


def _binder_error(
    error: duckdb.Error, position: int, unknown_column: UnknownColumn | None
) -> InvalidQueryError:
    found = _UNKNOWN_COLUMN.search(str(error))
    if found is None or unknown_column is None:
        return _invalid_query(error, position)
    return unknown_column(found.group("name") or found.group("other"))


def _invalid_query(error: duckdb.Error, position: int) -> InvalidQueryError:
    return InvalidQueryError(engine_message(error), position=position, reason="engine")


def engine_message(error: duckdb.Error) -> str:
    """DuckDB's message without the ``LINE 1: …`` echo of the SQL it ran (ours, not the user's)."""
    return str(error).split("\nLINE ", 1)[0].strip()


def _is_missing_table(error: duckdb.Error) -> bool:
    text = str(error)
    return "Table with name" in text or "Schema with name" in text


def _is_disk_full(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return "no space left on device" in text or "disk quota exceeded" in text


def _seconds(timeout: timedelta | None) -> float | None:
    return None if timeout is None else timeout.total_seconds()
