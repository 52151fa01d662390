"""The query a download task really runs, as text and as a log-store request.

The logstream filter of a spec is folded into the query text (``logstream:"…" AND (SEARCH) | SQL``)
so every log store, local or reached over HTTP by a worker process, runs exactly the same text.
"""

from __future__ import annotations

import re
from datetime import timedelta

from logsluice.domain.catalog import LOGSTREAM_FIELD
from logsluice.domain.tasks import TaskSpec
from logsluice.domain.timerange import TimeRange
from logsluice.ports import QueryParser, RecordsQuery
from logsluice.query.parsed_query import find_pipe

_MATCH_PREFIX = re.compile(r"\s*match(?=\s|\||\Z)", re.IGNORECASE)


def effective_query_text(spec: TaskSpec) -> str:
    """Return the query text the task runs: the spec's query, narrowed to its logstream if any."""
    if spec.logstream is None:
        return spec.query
    prefix = _MATCH_PREFIX.match(spec.query)
    search_start = prefix.end() if prefix else 0
    pipe = find_pipe(spec.query, search_start)
    search_end = len(spec.query) if pipe is None else pipe
    search = spec.query[search_start:search_end].strip()
    escaped = spec.logstream.replace("\\", "\\\\").replace('"', '\\"')
    narrowed = f'{LOGSTREAM_FIELD}:"{escaped}"'
    if search:
        narrowed += f" AND ({search})"
    return narrowed if pipe is None else f"{narrowed} {spec.query[pipe:]}"


def records_query_for(
    parser: QueryParser,
    project: str,
    spec: TaskSpec,
    *,
    time_range: TimeRange | None = None,
    limit: int | None = None,
    timeout: timedelta | None = None,
) -> RecordsQuery:
    """Return the log-store request of ``spec`` over ``time_range`` (default: the whole range).

    ``parser`` is the log store that runs it (its engine's rules check the query). Raises
    InvalidQueryError when the query does not parse.
    """
    return RecordsQuery(
        project=project,
        logstore=spec.logstore,
        query=parser.parse_query(effective_query_text(spec)),
        time_range=time_range or spec.time_range,
        order=spec.order,
        limit=limit,
        timeout=timeout,
    )
