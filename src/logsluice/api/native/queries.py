"""The native synchronous query endpoint: rows, total count and histogram of one query.

Rows are written with orjson straight from the Arrow columns (timestamps as RFC 3339 with ``Z``),
because a preview of 10,000 rows through pydantic would cost more than the query.
"""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from fastapi import APIRouter, Response

from logsluice.api.context import Caller, Context
from logsluice.api.native.fields import LogstoreName, ProjectName
from logsluice.api.native.models import QueryIn, QueryOut
from logsluice.api.responses import error_responses
from logsluice.domain.timerange import parse_time
from logsluice.services.query import QueryResult

router = APIRouter(prefix="/api/v1/projects/{project}/logstores", tags=["query"])
_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


@router.post("/{logstore}/query", response_model=QueryOut, responses=error_responses(504))
def run_query(
    project: ProjectName, logstore: LogstoreName, body: QueryIn, context: Context, caller: Caller
) -> Response:
    """Run a query over a time range; 400 with `details.position` for a bad query; 504 timeout."""
    caller.require_project(project)
    time_range = context.query.resolve_time_range(
        _optional_time(body.from_, "from"), _optional_time(body.to, "to")
    )
    started = time.perf_counter()
    outcome = "error"
    try:
        result = context.query.run(
            project, logstore, body.query, time_range, limit=body.limit, order=body.order
        )
        outcome = "ok"
    finally:
        if context.metrics is not None:
            elapsed = time.perf_counter() - started
            context.metrics.query_duration.labels(outcome).observe(elapsed)
    content = orjson.dumps(_result_body(result), default=_json_default, option=_JSON_OPTIONS)
    return Response(content=content, media_type="application/json")


def _optional_time(value: str | int | float | None, field_name: str) -> datetime | None:
    return None if value is None else parse_time(value, field_name=field_name)


def _result_body(result: QueryResult) -> dict[str, Any]:
    return {
        "columns": [{"name": column.name, "type": column.type} for column in result.columns],
        "rows": table_rows(result.rows),
        "count": result.count,
        "histogram": [
            {"start": bucket.start, "count": bucket.count} for bucket in result.histogram
        ],
        "bucket_seconds": result.bucket.total_seconds(),
        "from": result.time_range.start,
        "to": result.time_range.end,
        "elapsed_ms": round(result.elapsed.total_seconds() * 1000, 3),
    }


def table_rows(table: Any) -> list[list[Any]]:
    """Return an Arrow table's rows as lists, column order kept (names may repeat in SQL)."""
    columns = [column.to_pylist() for column in table.columns]
    if not columns:
        return []
    return [list(row) for row in zip(*columns, strict=True)]


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)
