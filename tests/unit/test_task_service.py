"""Pure parts of the task service: spec checks, the query a task runs, and progress arithmetic."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from logsluice.adapters.duckdb.query_language import DuckDBQueryLanguage
from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.errors import InvalidInputError, InvalidNameError, InvalidQueryError
from logsluice.domain.export import Compression, CsvOptions, ExportFormat
from logsluice.domain.tasks import Task, TaskSpec, TaskStatus
from logsluice.domain.timerange import TimeRange
from logsluice.services.task_checks import LARGEST_LIMIT, check_spec, spec_warnings
from logsluice.services.task_progress import estimate_status, progress_of
from logsluice.services.task_queries import effective_query_text

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _spec(**changes: Any) -> TaskSpec:
    fields: dict[str, Any] = {
        "name": "errors",
        "logstore": "app",
        "query": "level:ERROR",
        "time_range": TimeRange(NOW - timedelta(hours=1), NOW),
        "format": ExportFormat.CSV,
    }
    return TaskSpec(**(fields | changes))


def test_a_good_spec_passes() -> None:
    check_spec(
        _spec(limit=5, timezone="Europe/Berlin", csv=CsvOptions(delimiter="\t")),
        None,
        DuckDBQueryLanguage(),
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": "Bad Name"}, InvalidNameError),
        ({"logstore": "x"}, InvalidNameError),
        ({"query": "a:(b"}, InvalidQueryError),
        ({"query": "* | drop table x"}, InvalidQueryError),
        ({"limit": 0}, InvalidInputError),
        ({"limit": LARGEST_LIMIT + 1}, InvalidInputError),
        ({"timezone": "Nowhere/City"}, InvalidInputError),
        ({"timezone": ""}, InvalidInputError),
        ({"csv": CsvOptions(delimiter=";;")}, InvalidInputError),
        ({"csv": CsvOptions(delimiter='"')}, InvalidInputError),
        ({"logstream": "  "}, InvalidInputError),
        ({"display_name": "x" * 257}, InvalidInputError),
        ({"idempotency_key": ""}, InvalidInputError),
    ],
)
def test_a_bad_spec_names_its_problem(changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        check_spec(_spec(**changes), None, DuckDBQueryLanguage())


def test_the_configured_maximum_caps_the_limit() -> None:
    check_spec(_spec(limit=100), 100, DuckDBQueryLanguage())
    with pytest.raises(InvalidInputError, match="1 to 100"):
        check_spec(_spec(limit=101), 100, DuckDBQueryLanguage())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level:ERROR", 'logstream:"edge" AND (level:ERROR)'),
        ("", 'logstream:"edge"'),
        ("match timeout", 'logstream:"edge" AND (timeout)'),
        ("* | select count(*) as n", 'logstream:"edge" AND (*) | select count(*) as n'),
    ],
)
def test_a_logstream_narrows_the_search_part(query: str, expected: str) -> None:
    text = effective_query_text(_spec(query=query, logstream="edge"))
    assert text == expected
    parse_query(text)


def test_a_logstream_with_quotes_is_escaped() -> None:
    text = effective_query_text(_spec(query="*", logstream='a"b\\c'))
    assert parse_query(text).search is not None
    assert text.startswith('logstream:"a\\"b\\\\c"')


def _task(**changes: Any) -> Task:
    task = Task.queued(project="web", spec=_spec(), now=NOW - timedelta(minutes=2))
    return Task(**(vars(task) | changes))


def test_progress_of_a_running_task_has_rate_and_eta() -> None:
    task = _task(
        status=TaskStatus.RUNNING,
        started_at=NOW - timedelta(seconds=10),
        rows_written=5000,
        progress=25.0,
    )
    progress = progress_of(task, NOW, None)
    assert progress.percent == 25.0
    assert progress.rows_per_second == 500.0
    assert progress.eta == timedelta(seconds=30)
    assert progress.queue_position is None


def test_progress_of_queued_and_finished_tasks() -> None:
    queued = progress_of(_task(), NOW, 3)
    assert (queued.percent, queued.queue_position, queued.eta, queued.rows_per_second) == (
        0.0,
        3,
        None,
        None,
    )
    finished = _task(
        status=TaskStatus.SUCCEEDED,
        started_at=NOW - timedelta(seconds=4),
        finished_at=NOW - timedelta(seconds=2),
        rows_written=100,
        progress=87.0,
    )
    done = progress_of(finished, NOW, None)
    assert (done.percent, done.rows_per_second, done.eta) == (100.0, 50.0, None)


def test_an_estimate_is_pending_only_within_its_time_budget() -> None:
    task = Task.queued(project="web", spec=_spec(), now=NOW)
    budget = timedelta(seconds=30)
    assert estimate_status(task, NOW + timedelta(seconds=5), budget) == "pending"
    assert estimate_status(task, NOW + timedelta(minutes=5), budget) == "unknown"
    known = replace(task, estimate_rows=0, estimate_bytes=0)
    assert estimate_status(known, NOW + timedelta(seconds=5), budget) == "done"


@pytest.mark.parametrize(
    ("export_format", "compression", "warned"),
    [
        (ExportFormat.PARQUET, Compression.GZIP, True),
        (ExportFormat.PARQUET, Compression.ZSTD, True),
        (ExportFormat.PARQUET, Compression.NONE, False),
        (ExportFormat.CSV, Compression.GZIP, False),
    ],
)
def test_parquet_warns_about_the_compression_it_ignores(
    export_format: ExportFormat, compression: Compression, warned: bool
) -> None:
    warnings = spec_warnings(_spec(format=export_format, compression=compression))
    assert bool(warnings) is warned
    assert all(compression.value in warning for warning in warnings)
