"""Huawei CDN statistics exports as data: the actions, metrics and the checked request.

An export is one aggregation over a CDN logstore's access records; the log store's engine turns an
:class:`ExportParameters` into its own query (``QueryCompiler.statistics_query``). Column headers
follow the request's language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from logsluice.domain.timerange import TimeRange

TOP_ROWS = 100


class StatisticsAction(enum.StrEnum):
    """The ``action`` values Huawei documents for export tasks."""

    REPORTS_DETAIL = "reports_detail"
    TOP_URL_DETAIL = "top_url_detail"
    TOP_UA_DETAIL = "top_ua_detail"
    TOP_REFERER_DETAIL = "top_referer_detail"
    TOP_IP_DETAIL = "top_ip_detail"
    ISP_DETAIL = "isp_detail"
    TOP_PATH_DETAIL = "top_path_detail"
    UV = "uv"


class StatType(enum.StrEnum):
    FLUX = "flux"
    REQ_NUM = "req_num"


class ServiceArea(enum.StrEnum):
    MAINLAND_CHINA = "mainland_china"
    OUTSIDE_MAINLAND_CHINA = "outside_mainland_china"
    GLOBAL = "global"


class Language(enum.StrEnum):
    ZH = "zh"
    EN = "en"


@dataclass(frozen=True, kw_only=True)
class ExportParameters:
    """A checked export request. Empty ``domains``/``countries``/``provinces``/``isps`` mean all;
    ``stat_type`` None means both flux and req_num (tops are then ranked by flux)."""

    action: StatisticsAction
    domains: tuple[str, ...]
    time_range: TimeRange
    interval: timedelta
    group_by_domain: bool
    stat_type: StatType | None
    service_area: ServiceArea
    countries: tuple[str, ...]
    provinces: tuple[str, ...]
    isps: tuple[str, ...]
    language: Language


# Column headers per language: (zh, en).
LABELS: dict[str, tuple[str, str]] = {
    "time": ("时间(UTC)", "Time (UTC)"),
    "domain": ("域名", "Domain"),
    "rank": ("排名", "Rank"),
    "url": ("URL", "URL"),
    "path": ("路径", "Path"),
    "user_agent": ("User-Agent", "User-Agent"),
    "referer": ("Referer", "Referer"),
    "client_ip": ("客户端IP", "Client IP"),
    "isp": ("运营商", "Carrier"),
    "flux": ("流量(Byte)", "Traffic (Byte)"),
    "req_num": ("请求数", "Requests"),
    "uv": ("独立访客数(UV)", "Unique Visitors (UV)"),
}


def label_text(name: str, language: Language) -> str:
    """Return the column header of ``name`` in ``language``."""
    zh, en = LABELS[name]
    return zh if language is Language.ZH else en


def metric_names(parameters: ExportParameters) -> list[str]:
    """Return the metric columns of the export, in order."""
    if parameters.action is StatisticsAction.UV:
        return ["uv"]
    if parameters.stat_type is None:
        return ["flux", "req_num"]
    return [parameters.stat_type.value]
