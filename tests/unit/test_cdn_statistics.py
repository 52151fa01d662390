"""Huawei CDN statistics exports, recomputed independently in Python from hand-made access logs.

Each case creates an export task through ``CdnStatisticsService`` on a real DuckDB log store and
SQLite task store in ``tmp_path``, runs it with a real worker, reads the CSV artifact, and compares
every row with what plain Python computes from the same records (flux = sum of ``bytes_sent``,
req_num = count, uv = distinct ``client_ip``).
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from logsluice.bootstrap import Container, build_container
from logsluice.domain.errors import InvalidInputError
from logsluice.domain.tasks import TaskStatus
from logsluice.services.cdn_statistics import (
    CdnStatisticsService,
    ExportTaskRequest,
    check_export_request,
    task_name_of,
)
from logsluice.services.worker import Worker, WorkerSettings
from logsluice.settings import load_settings

START = datetime(2023, 1, 31, 0, 0, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
END_MS = START_MS + 6 * 3600 * 1000
Record = dict[str, Any]


def _record(minute: int, domain: str, url: str, size: int, ip: str, **extra: Any) -> Record:
    record: Record = {
        "timestamp": (START + timedelta(minutes=minute)).isoformat(),
        "domain": domain,
        "url": url,
        "status": extra.pop("status", 200),
        "bytes_sent": size,
        "client_ip": ip,
        "isp": extra.pop("isp", "dianxin"),
        "country": extra.pop("country", "cn"),
        "province": extra.pop("province", "beijing"),
        "user_agent": extra.pop("user_agent", "Mozilla/5.0"),
        "referer": extra.pop("referer", "https://search.example.org/"),
    }
    return record | extra


WWW, IMG = "www.example.com", "img.example.com"
RECORDS: list[Record] = [
    _record(1, WWW, "/index.html?a=1", 1000, "10.0.0.1"),
    _record(2, WWW, "/index.html?a=2", 1500, "10.0.0.2", user_agent="curl/8.0", referer="-"),
    _record(4, WWW, "/logo.png", 300, "10.0.0.1", isp="yidong", province="shanghai"),
    _record(7, IMG, "/a.jpg", 5000, "10.0.0.3", isp="liantong", province="guangdong"),
    _record(8, "IMG.example.com", "/a.jpg", 5000, "10.0.0.4", user_agent="=HYPERLINK()"),
    _record(9, IMG, "/b.jpg?v=2", 200, "10.0.0.3", status=404, referer="-"),
    _record(58, WWW, "/index.html", 800, "10.0.0.5", country="us", province=None, isp=None),
    _record(59, WWW, "/index.html", 700, "10.0.0.5", country="us", province=None, isp=""),
    _record(61, WWW, "/index.html", 800, "10.0.0.5", country="US", province=None, isp="att"),
    _record(65, IMG, "/a.jpg", 5000, "10.0.0.1", user_agent="curl/8.0"),
    _record(66, IMG, "/c.jpg", 7000, "10.0.0.6", isp="yidong", province="shanghai"),
    _record(119, WWW, "/logo.png", 300, "10.0.0.7", country="jp", province=None, isp="ntt"),
    _record(121, WWW, "/index.html?a=1", 1000, "10.0.0.1", referer="https://ads.example.net/"),
    _record(125, IMG, "/a.jpg", 5000, "10.0.0.8", isp="yidong", province="shanghai"),
    _record(185, IMG, "/b.jpg", 200, "10.0.0.8", country="us", province=None, isp="att"),
    _record(190, WWW, "/index.html", 1000, "10.0.0.2", user_agent="curl/8.0"),
    _record(250, WWW, "/about", 400, "10.0.0.9", referer="+ads"),
    _record(359, IMG, "/a.jpg", 5000, "10.0.0.9", isp="liantong", province="guangdong"),
    _record(360, IMG, "/late.jpg", 9999, "10.0.0.9"),  # at end_time: outside the range
    _record(-1, WWW, "/early.html", 9999, "10.0.0.9"),  # before start_time
]


@dataclass
class Harness:
    container: Container
    service: CdnStatisticsService

    def export(self, **fields: Any) -> list[list[str]]:
        """Create the export, run it with a real worker and return the CSV's rows."""
        request = ExportTaskRequest(start_time=START_MS, end_time=END_MS, **fields)
        view = self.service.create("web", request)
        worker = Worker(
            self.container.task_store,
            self.container.runner,
            self.container.clock,
            WorkerSettings(max_running_per_project=10),
            worker_id="unit-test-worker",
            shutdown=threading.Event(),
        )
        while worker.run_once():
            pass
        task = self.container.tasks.get("web", view.task.id).task
        assert task.status is TaskStatus.SUCCEEDED, task.error_message
        assert task.artifact_key is not None
        content = b"".join(self.container.artifact_store.read(task.artifact_key))
        return list(csv.reader(io.StringIO(content.decode("utf-8"))))


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    data_dir: Path = tmp_path_factory.mktemp("cdn") / "data"
    container = build_container(load_settings(data_dir=data_dir, workers=0))
    container.catalog.create_project("web")
    container.catalog.create_logstore("web", "cdn")
    body = "\n".join(json.dumps(record) for record in RECORDS).encode()
    assert container.ingest.ingest("web", "cdn", body).accepted == len(RECORDS)
    yield Harness(
        container, CdnStatisticsService(container.tasks, container.log_store, container.clock)
    )
    container.close()


# --- the independent computation ------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    domains: tuple[str, ...] = ()
    area: str = "mainland_china"
    countries: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    isps: tuple[str, ...] = ()


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _in_area(record: Record, area: str) -> bool:
    is_mainland = _lower(record["country"]) == "cn"
    return {"mainland_china": is_mainland, "outside_mainland_china": not is_mainland}.get(
        area, True
    )


def _selected(filters: Filters) -> list[Record]:
    def keep(record: Record) -> bool:
        moment = datetime.fromisoformat(record["timestamp"])
        checks = [
            START <= moment < START + timedelta(hours=6),
            _in_area(record, filters.area),
            not filters.domains or _lower(record["domain"]) in filters.domains,
            not filters.countries or _lower(record["country"]) in filters.countries,
            not filters.provinces or _lower(record["province"]) in filters.provinces,
            not filters.isps or _lower(record["isp"]) in filters.isps,
        ]
        return all(checks)

    return [record for record in RECORDS if keep(record)]


def _bucket(record: Record, interval_seconds: int) -> str:
    seconds = int(datetime.fromisoformat(record["timestamp"]).timestamp())
    start = datetime.fromtimestamp(seconds - seconds % interval_seconds, tz=UTC)
    return start.strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    """Render a value as the CSV holds it: formula-like text escaped with a leading quote."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _metrics(records: list[Record], metrics: tuple[str, ...]) -> list[int]:
    values = {
        "flux": sum(record["bytes_sent"] for record in records),
        "req_num": len(records),
        "uv": len({record["client_ip"] for record in records}),
    }
    return [values[name] for name in metrics]


def expected_series(
    filters: Filters,
    interval_seconds: int,
    metrics: tuple[str, ...],
    *,
    by_domain: bool = False,
    by_isp: bool = False,
) -> list[list[str]]:
    groups: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
    for record in _selected(filters):
        key: tuple[Any, ...] = (_bucket(record, interval_seconds),)
        key += (_lower(record["domain"]),) if by_domain else ()
        key += (record["isp"] or None,) if by_isp else ()
        groups[key].append(record)
    # Unknown carriers (null or empty) are one group, last in their interval.
    ordered = sorted(groups, key=lambda key: tuple((part is None, part or "") for part in key))
    return [
        [_cell(part) for part in key + tuple(_metrics(groups[key], metrics))] for key in ordered
    ]


def expected_top(
    filters: Filters,
    key_of: Callable[[Record], str],
    metrics: tuple[str, ...],
    rank_by: str,
    *,
    by_domain: bool = False,
) -> list[list[str]]:
    partitions: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for record in _selected(filters):
        partition = _lower(record["domain"]) if by_domain else ""
        partitions[partition or ""][key_of(record)].append(record)
    rows: list[list[str]] = []
    for partition in sorted(partitions):
        groups = partitions[partition]
        ranked = sorted(groups, key=lambda key: (-_metrics(groups[key], (rank_by,))[0], key))
        for rank, key in enumerate(ranked[:100], start=1):
            row = [str(rank), *([partition] if by_domain else []), _cell(key)]
            rows.append(row + [str(value) for value in _metrics(groups[key], metrics)])
    return rows


# --- the cases ------------------------------------------------------------------------------------


def test_reports_detail_hourly_in_chinese_matches_python(harness: Harness) -> None:
    rows = harness.export(action="reports_detail", interval=3600)
    assert rows[0] == ["时间(UTC)", "流量(Byte)", "请求数"]
    assert rows[1:] == expected_series(Filters(), 3600, ("flux", "req_num"))


def test_reports_detail_five_minutes_by_domain_global_in_english(harness: Harness) -> None:
    rows = harness.export(
        action="reports_detail",
        interval=300,
        group_by="domain",
        service_area="global",
        stat_type="flux",
        language="en",
    )
    assert rows[0] == ["Time (UTC)", "Domain", "Traffic (Byte)"]
    assert rows[1:] == expected_series(Filters(area="global"), 300, ("flux",), by_domain=True)


def test_reports_detail_honours_domains_countries_and_provinces(harness: Harness) -> None:
    rows = harness.export(
        action="reports_detail",
        domain_name="IMG.example.com",
        country="cn",
        province="shanghai,guangdong",
        stat_type="req_num",
    )
    filters = Filters(domains=(IMG,), countries=("cn",), provinces=("shanghai", "guangdong"))
    assert rows[1:] == expected_series(filters, 3600, ("req_num",))
    assert len(rows) > 1


def test_outside_mainland_china_keeps_only_foreign_records(harness: Harness) -> None:
    rows = harness.export(service_area="outside_mainland_china", language="en")
    assert rows[1:] == expected_series(
        Filters(area="outside_mainland_china"), 3600, ("flux", "req_num")
    )
    assert len(rows) == 4


def test_uv_counts_distinct_client_ips_per_interval(harness: Harness) -> None:
    rows = harness.export(action="uv", interval=3600, group_by="domain", service_area="global")
    assert rows[0] == ["时间(UTC)", "域名", "独立访客数(UV)"]
    assert rows[1:] == expected_series(Filters(area="global"), 3600, ("uv",), by_domain=True)


def test_isp_detail_groups_by_carrier_and_filters_carriers(harness: Harness) -> None:
    rows = harness.export(action="isp_detail", isp="yidong,liantong", language="en")
    assert rows[0] == ["Time (UTC)", "Carrier", "Traffic (Byte)", "Requests"]
    filters = Filters(isps=("yidong", "liantong"))
    assert rows[1:] == expected_series(filters, 3600, ("flux", "req_num"), by_isp=True)


def test_isp_detail_keeps_unknown_carriers_as_empty_cells(harness: Harness) -> None:
    rows = harness.export(action="isp_detail", service_area="global", stat_type="req_num")
    assert rows[1:] == expected_series(Filters(area="global"), 3600, ("req_num",), by_isp=True)
    assert any(row[1] == "" for row in rows[1:])
    keys = [(row[0], row[1]) for row in rows[1:]]
    assert len(keys) == len(set(keys)), "one row per interval and carrier"


TOP_CASES = [
    ("top_url_detail", "URL", lambda record: record["url"]),
    ("top_path_detail", "路径", lambda record: record["url"].split("?")[0]),
    ("top_ua_detail", "User-Agent", lambda record: record["user_agent"]),
    ("top_referer_detail", "Referer", lambda record: record["referer"]),
    ("top_ip_detail", "客户端IP", lambda record: record["client_ip"]),
]


@pytest.mark.parametrize(("action", "key_label", "key_of"), TOP_CASES)
def test_top_actions_rank_by_flux_by_default(
    harness: Harness, action: str, key_label: str, key_of: Callable[[Record], str]
) -> None:
    rows = harness.export(action=action, service_area="global")
    assert rows[0] == ["排名", key_label, "流量(Byte)", "请求数"]
    assert rows[1:] == expected_top(Filters(area="global"), key_of, ("flux", "req_num"), "flux")


@pytest.mark.parametrize(("action", "key_label", "key_of"), TOP_CASES)
def test_top_actions_by_domain_rank_by_requests(
    harness: Harness, action: str, key_label: str, key_of: Callable[[Record], str]
) -> None:
    rows = harness.export(action=action, group_by="domain", stat_type="req_num", language="en")
    assert rows[0][:2] == ["Rank", "Domain"]
    expected = expected_top(Filters(), key_of, ("req_num",), "req_num", by_domain=True)
    assert rows[1:] == expected


def test_the_task_name_lets_a_client_find_its_task(harness: Harness) -> None:
    request = ExportTaskRequest(action="uv", start_time=START_MS, end_time=END_MS)
    view = harness.service.create("web", request)
    name = task_name_of(check_export_request(request, harness.service.now()))
    assert name == f"uv_{START_MS}_{END_MS}" == view.task.spec.name
    found, total = harness.service.list("web", task_id=view.task.id, task_name=name)
    assert total == 1
    assert [item.task.id for item in found] == [view.task.id]


def test_the_list_pages_newest_update_first_and_skips_other_tasks(harness: Harness) -> None:
    everything, total = harness.service.list("web", limit=100)
    assert total == len(everything) >= 2
    updated = [view.task.updated_at for view in everything]
    assert updated == sorted(updated, reverse=True)
    page, same_total = harness.service.list("web", limit=1, offset=1)
    assert same_total == total
    assert [view.task.id for view in page] == [everything[1].task.id]
    assert harness.service.list("web", limit=0) == ([], total)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"action": "top_everything"}, "action"),
        ({"interval": 60}, "interval"),
        ({"interval": 300, "start_time": 0, "end_time": 91 * 86_400_000}, "interval"),
        ({"group_by": "country"}, "group_by"),
        ({"stat_type": "bw"}, "stat_type"),
        ({"service_area": "moon"}, "service_area"),
        ({"language": "fr"}, "language"),
        ({"action": "top_url_detail", "country": "cn"}, "country"),
        ({"action": "isp_detail", "country": "cn"}, "country"),
        ({"country": "us", "province": "beijing", "service_area": "global"}, "province"),
        ({"country": "us"}, "country"),
        ({"country": "cn", "service_area": "outside_mainland_china"}, "country"),
        ({"domain_name": "bad domain"}, "domain_name"),
        ({"start_time": END_MS, "end_time": START_MS}, "start_time"),
    ],
)
def test_refused_requests_name_the_field(fields: dict[str, Any], field: str) -> None:
    request = ExportTaskRequest(**({"start_time": START_MS, "end_time": END_MS} | fields))
    with pytest.raises(InvalidInputError) as raised:
        check_export_request(request, START)
    assert raised.value.details["field"] == field


def test_defaults_are_the_last_day_hourly_in_mainland_china_in_chinese() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    parameters = check_export_request(ExportTaskRequest(), now)
    assert parameters.time_range.end == now
    assert parameters.time_range.duration == timedelta(days=1)
    assert parameters.interval == timedelta(hours=1)
    assert (parameters.action.value, parameters.service_area.value) == (
        "reports_detail",
        "mainland_china",
    )
    assert parameters.language.value == "zh"
    assert parameters.domains == parameters.countries == ()


def test_list_bounds_are_checked(harness: Harness) -> None:
    with pytest.raises(InvalidInputError):
        harness.service.list("web", limit=101)
    with pytest.raises(InvalidInputError):
        harness.service.list("web", offset=-1)


# --- logstores without every field ----------------------------------------------------------------

ACTIONS = [
    "reports_detail",
    "uv",
    "isp_detail",
    "top_url_detail",
    "top_path_detail",
    "top_ua_detail",
    "top_referer_detail",
    "top_ip_detail",
]
# Records with only some of the fields: no country, province, isp, user_agent or referer.
SPARSE_RECORDS: list[Record] = [
    {key: value for key, value in record.items() if key in ("timestamp", "domain", "url")}
    | {"bytes_sent": record["bytes_sent"], "client_ip": record["client_ip"]}
    for record in RECORDS
]


def _harness_with(tmp_path: Path, records: list[Record]) -> Iterator[Harness]:
    container = build_container(load_settings(data_dir=tmp_path / "data", workers=0))
    container.catalog.create_project("web")
    container.catalog.create_logstore("web", "cdn")
    if records:
        body = "\n".join(json.dumps(record) for record in records).encode()
        assert container.ingest.ingest("web", "cdn", body).accepted == len(records)
    yield Harness(
        container, CdnStatisticsService(container.tasks, container.log_store, container.clock)
    )
    container.close()


@pytest.fixture(scope="module")
def empty_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from _harness_with(tmp_path_factory.mktemp("cdn-empty"), [])


@pytest.fixture(scope="module")
def sparse_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from _harness_with(tmp_path_factory.mktemp("cdn-sparse"), SPARSE_RECORDS)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("group_by", [None, "domain"])
def test_an_empty_logstore_exports_just_the_header(
    empty_harness: Harness, action: str, group_by: str | None
) -> None:
    rows = empty_harness.export(action=action, group_by=group_by, language="en")
    assert len(rows) == 1
    assert rows[0][-1] in ("Requests", "Unique Visitors (UV)")


def test_an_empty_logstore_honours_region_and_carrier_filters(empty_harness: Harness) -> None:
    rows = empty_harness.export(country="cn", province="beijing", isp="yidong", language="en")
    assert rows == [["Time (UTC)", "Traffic (Byte)", "Requests"]]


def test_without_country_mainland_china_is_empty_and_global_counts_everything(
    sparse_harness: Harness,
) -> None:
    assert sparse_harness.export(language="en") == [["Time (UTC)", "Traffic (Byte)", "Requests"]]
    rows = sparse_harness.export(service_area="global", interval=300, group_by="domain")
    assert rows[1:] == expected_series(
        Filters(area="global"), 300, ("flux", "req_num"), by_domain=True
    )
    outside = sparse_harness.export(service_area="outside_mainland_china", action="uv")
    assert outside[1:] == expected_series(Filters(area="global"), 3600, ("uv",))


def test_without_isp_every_record_is_one_unknown_carrier(sparse_harness: Harness) -> None:
    rows = sparse_harness.export(action="isp_detail", service_area="global", stat_type="req_num")
    expected = expected_series(Filters(area="global"), 3600, ("req_num",))
    assert rows[1:] == [[time, "", requests] for time, requests in expected]
    filtered = sparse_harness.export(action="isp_detail", service_area="global", isp="yidong")
    assert filtered[1:] == []


@pytest.mark.parametrize(("action", "key_label", "key_of"), TOP_CASES)
def test_tops_without_region_fields_match_python(
    sparse_harness: Harness, action: str, key_label: str, key_of: Callable[[Record], str]
) -> None:
    rows = sparse_harness.export(action=action, service_area="global", stat_type="req_num")
    if action in ("top_ua_detail", "top_referer_detail"):
        # The logstore has no such field: every record has the empty key.
        expected = expected_top(Filters(area="global"), lambda record: "", ("req_num",), "req_num")
    else:
        expected = expected_top(Filters(area="global"), key_of, ("req_num",), "req_num")
    assert rows[1:] == expected
