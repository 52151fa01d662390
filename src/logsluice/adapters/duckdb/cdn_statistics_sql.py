"""The DuckDB ``SEARCH | SQL`` text that computes one Huawei CDN statistics export from access logs.

Every action is one aggregation over the CDN logstore's records (``timestamp``, ``domain``,
``url``, ``bytes_sent``, ``client_ip``, ``isp``, ``country``, ``province``, ``user_agent``,
``referer``): flux is the sum of ``bytes_sent``, req_num the count of records, uv the count of
distinct ``client_ip``. Time-series actions (``reports_detail``, ``uv``, ``isp_detail``) give one
row per interval bucket (aligned to multiples of the interval since the Unix epoch, shown as UTC
``YYYY-MM-DD HH:MM:SS``); top actions give the 100 largest keys by the chosen metric, ties broken
by the key. Domains, countries, provinces and carriers compare ignoring case. Column headers follow
the request's language, so the CSV opens in a spreadsheet ready to read.

The records are read through a CTE that unions them BY NAME with an empty, typed row set of every
field above, so a field the logstore does not have (yet) reads as NULL when the task runs instead
of failing with an unknown column: an empty logstore gives just the header.
"""

from __future__ import annotations

from collections.abc import Sequence

from logsluice.domain.cdn_statistics import (
    TOP_ROWS,
    ExportParameters,
    Language,
    ServiceArea,
    StatisticsAction,
    StatType,
    label_text,
    metric_names,
)

# The key each top action ranks, as a SQL expression over the records.
TOP_KEYS: dict[StatisticsAction, tuple[str, str]] = {
    StatisticsAction.TOP_URL_DETAIL: ("url", "coalesce(url, '')"),
    StatisticsAction.TOP_PATH_DETAIL: ("path", "split_part(coalesce(url, ''), '?', 1)"),
    StatisticsAction.TOP_UA_DETAIL: ("user_agent", "coalesce(user_agent, '')"),
    StatisticsAction.TOP_REFERER_DETAIL: ("referer", "coalesce(referer, '')"),
    StatisticsAction.TOP_IP_DETAIL: ("client_ip", "coalesce(client_ip, '')"),
}

# Every field the statistics read, with the type it has when the logstore lacks it.
CDN_FIELDS: dict[str, str] = {
    "timestamp": "timestamptz",
    "domain": "varchar",
    "url": "varchar",
    "bytes_sent": "bigint",
    "client_ip": "varchar",
    "isp": "varchar",
    "country": "varchar",
    "province": "varchar",
    "user_agent": "varchar",
    "referer": "varchar",
}
CDN_RECORDS = "cdn_records"

METRIC_SQL = {
    "flux": "cast(coalesce(sum(bytes_sent), 0) as bigint)",
    "req_num": "count(*)",
    "uv": "count(distinct client_ip)",
}


def label(name: str, language: Language) -> str:
    """Return the column header of ``name`` in ``language``, quoted as a SQL identifier."""
    return '"' + label_text(name, language) + '"'


def statistics_query(parameters: ExportParameters) -> str:
    """Return the ``* | SELECT …`` query computing the export over the CDN logstore."""
    body = _top_sql(parameters) if parameters.action in TOP_KEYS else _time_series_sql(parameters)
    return f"* | {_records_cte()} {body}"


def _records_cte() -> str:
    """``with cdn_records as (…)``: the records with NULL for every CDN field they lack."""
    nulls = ", ".join(f"cast(null as {kind}) as {name}" for name, kind in CDN_FIELDS.items())
    return (
        f"with {CDN_RECORDS} as (select * from records union all by name "
        f"select {nulls} where false)"
    )


def _time_series_sql(parameters: ExportParameters) -> str:
    seconds = int(parameters.interval.total_seconds())
    time_sql = (
        f"strftime(to_timestamp(floor(epoch(timestamp) / {seconds}) * {seconds}), "
        "'%Y-%m-%d %H:%M:%S')"
    )
    language = parameters.language
    keys = [f"{time_sql} as {label('time', language)}"]
    if parameters.group_by_domain:
        keys.append(f"lower(domain) as {label('domain', language)}")
    if parameters.action is StatisticsAction.ISP_DETAIL:
        # An empty carrier is as unknown as a missing one: one group, last (nulls sort last).
        keys.append(f"nullif(isp, '') as {label('isp', language)}")
    positions = ", ".join(str(index + 1) for index in range(len(keys)))
    return (
        f"select {', '.join(keys + _metrics(parameters))} {_from_where(parameters)} "
        f"group by {positions} order by {positions}"
    )


def _top_sql(parameters: ExportParameters) -> str:
    language = parameters.language
    key_name, key_sql = TOP_KEYS[parameters.action]
    ranking_metric = METRIC_SQL[(parameters.stat_type or StatType.FLUX).value]
    partition = "partition by lower(domain) " if parameters.group_by_domain else ""
    rank = label("rank", language)
    columns = [
        f"row_number() over ({partition}order by {ranking_metric} desc, {key_sql}) as {rank}"
    ]
    groups = [key_sql]
    if parameters.group_by_domain:
        columns.append(f"lower(domain) as {label('domain', language)}")
        groups.insert(0, "lower(domain)")
    columns.append(f"{key_sql} as {label(key_name, language)}")
    order = f"{label('domain', language)}, {rank}" if parameters.group_by_domain else rank
    return (
        f"select {', '.join(columns + _metrics(parameters))} {_from_where(parameters)} "
        f"group by {', '.join(groups)} qualify {rank} <= {TOP_ROWS} order by {order}"
    )


def _metrics(parameters: ExportParameters) -> list[str]:
    return [
        f"{METRIC_SQL[name]} as {label(name, parameters.language)}"
        for name in metric_names(parameters)
    ]


def _from_where(parameters: ExportParameters) -> str:
    conditions = [
        *_membership("domain", parameters.domains),
        *_service_area_condition(parameters.service_area),
        *_membership("country", parameters.countries),
        *_membership("province", parameters.provinces),
        *_membership("isp", parameters.isps),
    ]
    where = " where " + " and ".join(conditions) if conditions else ""
    return f"from {CDN_RECORDS}{where}"


def _membership(field: str, values: Sequence[str]) -> list[str]:
    if not values:
        return []
    quoted = ", ".join("'" + value.lower().replace("'", "''") + "'" for value in values)
    return [f"lower({field}) in ({quoted})"]


def _service_area_condition(service_area: ServiceArea) -> list[str]:
    if service_area is ServiceArea.MAINLAND_CHINA:
        return ["lower(country) = 'cn'"]
    if service_area is ServiceArea.OUTSIDE_MAINLAND_CHINA:
        return ["coalesce(lower(country), '') <> 'cn'"]
    return []
