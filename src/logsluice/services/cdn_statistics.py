"""Huawei CDN statistics export tasks: check a request, run it as a download task, list them.

An export task is an ordinary logsluice download task whose query is a ``SEARCH | SQL``
aggregation over the project's CDN logstore, written by the log store (``statistics_query``),
written as CSV with a header and spreadsheet formula escaping. So progress, resume, links and the
artifact store work as for every task. The task's description marks it as a statistics export
(and records the request), so the Huawei list shows only these tasks, newest update first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from logsluice.domain.cdn_statistics import (
    ExportParameters,
    Language,
    ServiceArea,
    StatisticsAction,
    StatType,
)
from logsluice.domain.errors import InvalidInputError
from logsluice.domain.export import CsvOptions, ExportFormat
from logsluice.domain.tasks import TaskDialect, TaskSpec
from logsluice.domain.timerange import TimeRange
from logsluice.ports import Clock, QueryCompiler
from logsluice.services.links import SignedLink
from logsluice.services.task_progress import TaskView
from logsluice.services.tasks import MAX_PAGE_SIZE, TaskService

DESCRIPTION_MARKER = "huawei-cdn-statistics "
DEFAULT_SPAN = timedelta(days=1)
DEFAULT_INTERVAL = timedelta(hours=1)
FIVE_MINUTES = timedelta(minutes=5)
LONGEST_FIVE_MINUTE_SPAN = timedelta(days=90)
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 10
_CODE_PATTERN = re.compile(r"[a-z0-9*._-]{1,253}")
_ALL = "all"
MAX_DESCRIPTION_CHARACTERS = 4096
Choice = TypeVar("Choice", StatisticsAction, ServiceArea, StatType, Language)


@dataclass(frozen=True, kw_only=True)
class ExportTaskRequest:
    """The fields of Huawei's ``ExportTaskVo`` as received (every one optional)."""

    action: str | None = None
    domain_name: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    group_by: str | None = None
    interval: int | None = None
    service_area: str | None = None
    stat_type: str | None = None
    country: str | None = None
    province: str | None = None
    isp: str | None = None
    language: str | None = None


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{field}: {message}", field=field)


def _choice(field: str, value: str | None, kind: type[Choice], default: Choice) -> Choice:
    chosen = _optional_choice(field, value, kind)
    return default if chosen is None else chosen


def _optional_choice(field: str, value: str | None, kind: type[Choice]) -> Choice | None:
    if value is None or not value.strip():
        return None
    try:
        return kind(value.strip().lower())
    except ValueError as error:
        allowed = ", ".join(member.value for member in kind)
        raise _invalid(field, f"{value!r} is not one of {allowed}") from error


def _codes(field: str, value: str | None) -> tuple[str, ...]:
    """Read a comma-separated list; ``all`` or nothing means every value (an empty tuple)."""
    items = [item.strip().lower() for item in (value or "").split(",") if item.strip()]
    if not items or _ALL in items:
        return ()
    for item in items:
        if _CODE_PATTERN.fullmatch(item) is None:
            raise _invalid(field, f"{item!r} is not a valid value")
    return tuple(dict.fromkeys(items))


def _time_range(request: ExportTaskRequest, now: datetime) -> TimeRange:
    end = _from_milliseconds("end_time", request.end_time) if request.end_time is not None else now
    start = (
        _from_milliseconds("start_time", request.start_time)
        if request.start_time is not None
        else end - DEFAULT_SPAN
    )
    if start >= end:
        raise _invalid("start_time", "must be before end_time")
    return TimeRange(start, end)


def _from_milliseconds(field: str, value: int) -> datetime:
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise _invalid(field, f"{value} is not a time in milliseconds since the epoch") from error


def _interval(value: int | None, span: timedelta) -> timedelta:
    if value is None or value == 0:
        return DEFAULT_INTERVAL
    if value not in (300, 3600):
        raise _invalid("interval", "must be 300 or 3600 (seconds)")
    if value == 300 and span > LONGEST_FIVE_MINUTE_SPAN:
        raise _invalid("interval", "spans longer than 90 days allow only 3600")
    return timedelta(seconds=value)


def _group_by_domain(value: str | None) -> bool:
    if not value:
        return False
    if value.strip().lower() != "domain":
        raise _invalid("group_by", f"{value!r} is not supported; use domain or leave it out")
    return True


def _check_regions(
    action: StatisticsAction,
    area: ServiceArea,
    countries: tuple[str, ...],
    provinces: tuple[str, ...],
) -> None:
    if countries and action in (StatisticsAction.ISP_DETAIL, StatisticsAction.TOP_URL_DETAIL):
        raise _invalid("country", f"cannot be given with action {action.value}")
    if provinces and countries != ("cn",):
        raise _invalid("province", "is only valid when country is cn")
    if countries and area is ServiceArea.MAINLAND_CHINA and "cn" not in countries:
        raise _invalid("country", "lies outside service_area mainland_china")
    if countries == ("cn",) and area is ServiceArea.OUTSIDE_MAINLAND_CHINA:
        raise _invalid("country", "cn lies outside service_area outside_mainland_china")


def check_export_request(request: ExportTaskRequest, now: datetime) -> ExportParameters:
    """Return the checked parameters of ``request``; absent fields take their defaults.

    Defaults: action ``reports_detail``, every domain, the day before ``now``, interval 3600,
    no grouping, both metrics, ``mainland_china``, language ``zh``. Raises InvalidInputError
    naming the field for a value Huawei would refuse.
    """
    action = _choice("action", request.action, StatisticsAction, StatisticsAction.REPORTS_DETAIL)
    area = _choice("service_area", request.service_area, ServiceArea, ServiceArea.MAINLAND_CHINA)
    language = _choice("language", request.language, Language, Language.ZH)
    time_range = _time_range(request, now)
    countries = _codes("country", request.country)
    provinces = _codes("province", request.province)
    _check_regions(action, area, countries, provinces)
    return ExportParameters(
        action=action,
        domains=_codes("domain_name", request.domain_name),
        time_range=time_range,
        interval=_interval(request.interval, time_range.duration),
        group_by_domain=_group_by_domain(request.group_by),
        stat_type=_optional_choice("stat_type", request.stat_type, StatType),
        service_area=area,
        countries=countries,
        provinces=provinces,
        isps=_codes("isp", request.isp),
        language=language,
    )


def task_name_of(parameters: ExportParameters) -> str:
    """Return the task name: ``<action>_<start ms>_<end ms>``, so a client can find its task."""
    start_ms = int(parameters.time_range.start.timestamp() * 1000)
    end_ms = int(parameters.time_range.end.timestamp() * 1000)
    return f"{parameters.action.value}_{start_ms}_{end_ms}"


def is_statistics_task(view: TaskView) -> bool:
    """Tell whether a task was created as a Huawei CDN statistics export."""
    return view.task.spec.description.startswith(DESCRIPTION_MARKER)


class CdnStatisticsService:
    """Creates and lists the statistics export tasks of a project's CDN logstore."""

    def __init__(
        self, tasks: TaskService, compiler: QueryCompiler, clock: Clock, *, logstore: str = "cdn"
    ) -> None:
        self._tasks = tasks
        self._compiler = compiler
        self._clock = clock
        self._logstore = logstore

    def now(self) -> datetime:
        """Return the current time of the injected clock (signature checks use it)."""
        return self._clock.now()

    def create(self, project: str, request: ExportTaskRequest) -> TaskView:
        """Check the request and queue its export task; return the task.

        A field the logstore lacks reads as NULL (an empty logstore exports just the header).
        Raises InvalidInputError, ProjectNotFoundError, LogstoreNotFoundError.
        """
        parameters = check_export_request(request, self._clock.now())
        spec = TaskSpec(
            name=task_name_of(parameters),
            display_name=f"Huawei CDN statistics: {parameters.action.value}",
            description=DESCRIPTION_MARKER + _request_json(request),
            logstore=self._logstore,
            query=self._compiler.statistics_query(parameters),
            time_range=parameters.time_range,
            format=ExportFormat.CSV,
            csv=CsvOptions(header=True, escape_formulas=True),
        )
        creation = self._tasks.create(project, spec, dialect=TaskDialect.HUAWEI)
        assert creation.view is not None
        return creation.view

    def list(
        self,
        project: str,
        *,
        limit: int = DEFAULT_LIST_LIMIT,
        offset: int = 0,
        task_id: str | None = None,
        task_name: str | None = None,
    ) -> tuple[list[TaskView], int]:
        """Return ``limit`` export tasks from ``offset``, newest update first, and the total.

        ``task_id`` and ``task_name`` narrow the list to exact matches. Raises InvalidInputError
        for a limit outside 0–100 or a negative offset, ProjectNotFoundError.
        """
        if not 0 <= limit <= MAX_LIST_LIMIT:
            raise _invalid("limit", f"must be from 0 to {MAX_LIST_LIMIT}")
        if offset < 0:
            raise _invalid("offset", "must be 0 or more")
        matches = _matching(self._tasks, self._logstore, project, task_name, _id_filter(task_id))
        return matches[offset : offset + limit], len(matches)

    def link(self, project: str, task_id: str) -> SignedLink:
        """Return a signed link to a finished export's file (see ``TaskService.link``)."""
        return self._tasks.link(project, task_id)


def _matching(
    tasks: TaskService,
    logstore: str,
    project: str,
    task_name: str | None,
    keep: Callable[[TaskView], bool],
) -> list[TaskView]:
    # The store cannot filter on the description marker, so pages are read to the end.
    matches: list[TaskView] = []
    page = 1
    while True:
        views, total = tasks.list(
            project,
            logstore=logstore,
            name=task_name or None,
            order_by="updated",
            descending=True,
            page=page,
            size=MAX_PAGE_SIZE,
        )
        matches.extend(view for view in views if is_statistics_task(view) and keep(view))
        if page * MAX_PAGE_SIZE >= total:
            return matches
        page += 1


def _id_filter(task_id: str | None) -> Callable[[TaskView], bool]:
    if not task_id:
        return lambda view: True
    return lambda view: view.task.id == task_id


def _request_json(request: ExportTaskRequest) -> str:
    fields = {name: value for name, value in vars(request).items() if value is not None}
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    room = MAX_DESCRIPTION_CHARACTERS - len(DESCRIPTION_MARKER)
    return text if len(text) <= room else text[: room - 1] + "…"


__all__ = [
    "CdnStatisticsService",
    "ExportParameters",
    "ExportTaskRequest",
    "check_export_request",
    "is_statistics_task",
    "task_name_of",
]
