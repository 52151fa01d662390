"""Synchronous queries: parse, then rows, count and a histogram, within one server-side timeout.

This is the interactive preview: at most ``preview_limit_max`` rows come back. Any larger result is
a download task. The three log-store calls share one deadline; whichever runs past it raises
QueryTimeoutError.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from logsluice.domain.errors import InvalidInputError, QueryTimeoutError
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.ports import (
    CatalogStore,
    Clock,
    ColumnInfo,
    HistogramBucket,
    RecordReader,
    RecordsQuery,
)

if TYPE_CHECKING:
    import pyarrow as pa

# Bucket sizes a person reads easily; the histogram takes the smallest that gives at most about
# ``histogram_buckets`` buckets over the range.
_NICE_BUCKETS = tuple(
    timedelta(seconds=seconds)
    for seconds in (
        1, 2, 5, 10, 15, 30,
        60, 120, 300, 600, 900, 1800,
        3600, 7200, 10800, 21600, 43200,
        86400, 172800, 604800, 2592000,
    )
)  # fmt: skip


@dataclass(frozen=True)
class QueryLimits:
    """How big and how long a synchronous query may be."""

    timeout: timedelta
    default_window: timedelta
    default_limit: int
    max_limit: int
    histogram_buckets: int = 60


@dataclass(frozen=True)
class QueryResult:
    """Rows, total count and histogram of one query."""

    columns: list[ColumnInfo]
    rows: pa.Table
    count: int
    histogram: list[HistogramBucket]
    bucket: timedelta
    time_range: TimeRange
    elapsed: timedelta


class QueryService:
    """Runs one query over one logstore and time range, synchronously."""

    def __init__(
        self,
        catalog_store: CatalogStore,
        log_store: RecordReader,
        clock: Clock,
        limits: QueryLimits,
    ) -> None:
        self._catalog_store = catalog_store
        self._log_store = log_store
        self._clock = clock
        self._limits = limits

    def resolve_time_range(self, start: datetime | None, end: datetime | None) -> TimeRange:
        """Return the range asked for; a missing ``end`` is now, a missing ``start`` the default
        window before ``end``. Raises InvalidTimeRangeError when ``start`` is not before ``end``."""
        resolved_end = end if end is not None else self._clock.now()
        resolved_start = start if start is not None else resolved_end - self._limits.default_window
        return TimeRange(resolved_start, resolved_end)

    def run(
        self,
        project: str,
        logstore: str,
        query_text: str,
        time_range: TimeRange,
        *,
        limit: int | None = None,
        order: Order = Order.DESC,
    ) -> QueryResult:
        """Run the query and return its rows (at most ``limit``), count and histogram.

        Raises ProjectNotFoundError, LogstoreNotFoundError, InvalidQueryError (with ``position``),
        InvalidInputError for a limit out of bounds, and QueryTimeoutError past the timeout.
        """
        started = time.monotonic()
        deadline = started + self._limits.timeout.total_seconds()
        self._catalog_store.get_logstore(project, logstore)
        request = RecordsQuery(
            project=project,
            logstore=logstore,
            query=self._log_store.parse_query(query_text),
            time_range=time_range,
            order=order,
            limit=self._check_limit(limit),
        )
        columns, rows = self._log_store.fetch(_with_deadline(request, deadline))
        count = self._log_store.count(_with_deadline(request, deadline))
        bucket = choose_bucket(time_range, self._limits.histogram_buckets)
        histogram = self._log_store.histogram(_with_deadline(request, deadline), bucket)
        return QueryResult(
            columns=columns,
            rows=rows,
            count=count,
            histogram=histogram,
            bucket=bucket,
            time_range=time_range,
            elapsed=timedelta(seconds=time.monotonic() - started),
        )

    def _check_limit(self, limit: int | None) -> int:
        if limit is None:
            return min(self._limits.default_limit, self._limits.max_limit)
        if not 0 <= limit <= self._limits.max_limit:
            raise InvalidInputError(
                f"limit must be from 0 to {self._limits.max_limit}; "
                "export larger results with a download task",
                field="limit",
                maximum=self._limits.max_limit,
            )
        return limit


def choose_bucket(time_range: TimeRange, target_buckets: int) -> timedelta:
    """Return the smallest readable bucket size giving at most ``target_buckets`` over the range."""
    smallest = time_range.duration / max(target_buckets, 1)
    return next(
        (bucket for bucket in _NICE_BUCKETS if bucket >= smallest),
        _NICE_BUCKETS[-1] * (smallest // _NICE_BUCKETS[-1] + 1),
    )


def _with_deadline(request: RecordsQuery, deadline: float) -> RecordsQuery:
    remaining_seconds = deadline - time.monotonic()
    if remaining_seconds <= 0:
        raise QueryTimeoutError("the query ran past the server-side timeout")
    return replace(request, timeout=timedelta(seconds=remaining_seconds))
