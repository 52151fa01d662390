"""``SEARCH | SQL`` emitted for DuckDB and run on a real table; expected rows computed in Python."""

from __future__ import annotations

from collections import Counter

import pytest
from query_records import RECORDS, Runner, expected_ids, in_range

from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.export import Order


def host_counts(predicate: object = None) -> Counter[str | None]:
    return Counter(
        record.host
        for record in RECORDS
        if in_range(record) and (predicate is None or record.status == predicate)
    )


def test_group_by_without_from_reads_the_matching_records(run: Runner) -> None:
    rows = run.rows("status:500 | select host, count(*) as n group by host order by n desc, host")
    expected = sorted(host_counts(500).items(), key=lambda item: (-item[1], item[0] or "~"))
    assert [(row["host"], row["n"]) for row in rows] == expected


@pytest.mark.parametrize(
    "sql",
    [
        "select id from log order by id",
        "select id from records order by id",
        "select log.id from log where log.id >= 0 order by log.id",
        "select l.id from log as l order by 1",
        "select `id` from log order by `id`",
        "SELECT id ORDER BY id",
    ],
)
def test_the_records_go_by_every_accepted_name(run: Runner, sql: str) -> None:
    assert run.ids(f"error | {sql}") == expected_ids(
        lambda r: r.message is not None and "error" in r.message.lower()
    )


def test_time_range_bounds_the_sql(run: Runner) -> None:
    row = run.rows("* | select min(id) as first, max(id) as last, count(*) as n")[0]
    assert row == {"first": 2, "last": 37, "n": 36}


def test_cte_union_and_scalar_subquery(run: Runner) -> None:
    rows = run.rows(
        "* | with slow as (select id from log where latency > 300) "
        "select id from slow union all select id from records where id < 4 order by id"
    )
    expected = sorted(
        expected_ids(lambda r: r.latency is not None and r.latency > 300)
        + expected_ids(lambda r: r.id < 4)
    )
    assert [row["id"] for row in rows] == expected
    share = run.rows("* | select count(*) * 100.0 / (select count(*)) as share where status = 500")
    in_range_count = len(expected_ids(lambda r: True))
    expected_share = len(expected_ids(lambda r: r.status == 500)) * 100.0 / in_range_count
    assert share == [{"share": pytest.approx(expected_share)}]


def test_limit_wraps_sql_and_keeps_the_users_order(run: Runner) -> None:
    sql = "* | select id order by id desc"
    every = list(reversed(expected_ids(lambda r: True)))
    assert run.ids(sql, limit=5) == every[:5]
    assert run.ids(sql + " limit 10", limit=3) == every[:3]
    assert run.ids(sql + " limit 2", limit=30) == every[:2]
    assert run.ids("* | select id from log where id < 6 union all select 100 order by 1", limit=2)


def test_order_does_not_override_the_users_order_by(run: Runner) -> None:
    ascending = run.ids("* | select id order by id", order=Order.DESC)
    assert ascending == sorted(ascending)


def test_count_counts_the_rows_the_sql_yields(run: Runner) -> None:
    assert run.count("* | select host, count(*) group by host") == len(host_counts())
    assert run.count("status:500 | select * from log") == len(
        expected_ids(lambda r: r.status == 500)
    )
    assert run.count("* | with a as (select 1 as x) select * from a") == len(
        expected_ids(lambda r: True)
    )


def test_mysql_and_presto_flavoured_sql_runs(run: Runner) -> None:
    rows = run.rows(
        "id:10 | select `host`, date_format(`timestamp`, '%Y-%m-%d %H:%i') as minute from log"
    )
    assert rows == [{"host": RECORDS[10].host, "minute": "2024-03-01 01:10"}]
    rows = run.rows("* | select approx_distinct(host) as hosts, from_unixtime(0) is not null as t")
    assert rows[0]["hosts"] == len({r.host for r in RECORDS if in_range(r) and r.host})


def test_unusual_names_from_other_readings_stay_names(run: Runner) -> None:
    with pytest.raises(Exception, match=r"\$name"):
        run.rows("* | select `$name` from log")


ALLOWED_EXPRESSIONS = [
    "count(*)",
    "count(distinct host)",
    "count_if(status >= 500)",
    "sum(latency)",
    "avg(latency)",
    "mean(latency)",
    "min(latency)",
    "max(latency)",
    "approx_count_distinct(host)",
    "quantile_cont(latency, 0.9)",
    "quantile_disc(latency, 0.5)",
    "median(latency)",
    "approx_quantile(latency, 0.99)",
    "percentile_cont(0.5) within group (order by latency)",
    "mode(host)",
    "stddev(latency)",
    "variance(latency)",
    "bool_and(ok)",
    "bool_or(ok)",
    "any_value(host)",
    "arg_max(host, latency)",
    "arg_min(host, latency)",
    "string_agg(host, ',')",
    "list(host)",
    "histogram(status)",
    "entropy(host)",
    "count(*) filter (where status = 500)",
    "max(date_trunc('hour', timestamp))",
    "max(time_bucket(interval 5 minute, timestamp))",
    "max(strftime(timestamp, '%Y-%m-%d %H:%M'))",
    "max(epoch(timestamp))",
    "max(epoch_ms(timestamp))",
    "max(epoch_us(timestamp))",
    "max(extract(hour from timestamp))",
    "max(date_part('minute', timestamp))",
    "max(hour(timestamp))",
    "max(date_diff('minute', timestamp, timestamp + interval 1 hour))",
    "max(timestamp - interval 1 day)",
    "max(to_timestamp(1700000000))",
    "max(lower(message))",
    "max(upper(message))",
    "max(length(message))",
    "max(substr(message, 1, 3))",
    "max(substring(message, 2))",
    "bool_or(regexp_matches(message, 'err.r'))",
    "max(regexp_extract(message, '([0-9]+)', 1))",
    "max(regexp_replace(message, '[0-9]', '#', 'g'))",
    "bool_or(contains(message, 'disk'))",
    "bool_or(starts_with(message, 'GET'))",
    "bool_or(ends_with(message, 'full'))",
    "max(split_part(message, ' ', 1))",
    "max(string_split(message, ' '))",
    "max(concat(host, '-', logstream))",
    "max(concat_ws('/', host, logstream))",
    "max(trim(message))",
    "max(replace(message, 'a', 'b'))",
    "max(strpos(message, 'e'))",
    "max(left(message, 2))",
    "max(right(message, 2))",
    "max(reverse(host))",
    "max(lpad(host, 10, '*'))",
    "max(md5(message))",
    "max(coalesce(host, 'none'))",
    "max(nullif(host, 'web-1'))",
    "max(if(status >= 500, 'bad', 'good'))",
    "max(case when status >= 500 then 'bad' when status >= 400 then 'client' else 'ok' end)",
    "max(cast(status as varchar))",
    "max(try_cast(host as integer))",
    "max(status::double)",
    "max(round(latency, 1))",
    "max(floor(latency))",
    "max(ceil(latency))",
    "max(abs(latency))",
    "max(greatest(status, 300))",
    "max(least(status, 300))",
    "max(ln(latency + 1))",
    "max(sqrt(latency))",
    "max(pow(latency, 2))",
    "max(status % 7)",
    "max(status // 100)",
    "max(host || '!')",
    "bool_or(host like 'web%')",
    "bool_or(host ilike 'WEB%')",
    "bool_or(host in ('web-1', 'db-1'))",
    "bool_or(status between 200 and 299)",
    "bool_or(host is null)",
    "max(json_extract_string('{\"a\": 1}', '$.a'))",
    "max(url_decode('a%20b'))",
    "max(len(list_distinct([1, 1, 2])))",
    "max(list_contains([1, 2], status))",
    "max([1, 2, 3][1])",
    "max(array_length([1, 2]))",
    "max({'a': 1}.a)",
    "max(list_transform([1, 2], x -> x + 1)[1])",
    "var_pop(latency)",
    "var_samp(latency)",
    "covar_pop(latency, status)",
    "corr(latency, status)",
    "kurtosis(latency)",
    "skewness(latency)",
    "product(status)",
    "first(host)",
    "last(host)",
    "min_by(host, latency)",
    "max_by(host, latency)",
    "stddev_pop(latency)",
    "array_agg(host)",
    "quantile(latency, 0.5)",
    "max(week(timestamp))",
    "max(quarter(timestamp))",
    "max(dayofyear(timestamp))",
    "max(dayofweek(timestamp))",
    "max(strptime('2024-01-01', '%Y-%m-%d'))",
    "max(epoch_ns(timestamp))",
    "max(date_add(timestamp, interval 1 hour))",
    "max(date_sub('hour', timestamp, timestamp + interval 2 hour))",
    "max(age(timestamp, timestamp))",
    "max(now())",
    "max(current_timestamp)",
    "max(current_date)",
    "max(to_hours(1))",
    "max(to_seconds(1))",
    "max(date(timestamp))",
    "max(lcase(host))",
    "max(strlen(host))",
    "max(regexp_full_match(host, 'web.*'))",
    "max(regexp_split_to_array(host, '-'))",
    "max(prefix(host, 'w'))",
    "max(ltrim(host))",
    "max(instr(host, 'b'))",
    "max(position('b' in host))",
    "max(rpad(host, 9, '.'))",
    "max(repeat(host, 2))",
    "max(initcap(host))",
    "max(levenshtein(host, 'web'))",
    "max(sha256(host))",
    "max(hash(host))",
    "max(hex(host))",
    "max(printf('%s!', host))",
    "max(json_value('{\"a\": 1}', '$.a'))",
    "max('{\"a\": 1}'->>'$.a')",
    "max(json_keys('{\"a\": 1}'))",
    "max(ifnull(host, 'x'))",
    "max(log10(latency + 1))",
    "max(trunc(latency))",
    "max(isnan(latency))",
    "max(typeof(host))",
    "max(list_filter([1, 2, 3], x -> x > 1))",
    "max(list_aggregate([1, 2], 'sum'))",
    "max(list_slice([1, 2, 3], 1, 2))",
    "max(array_slice([1, 2, 3], 1, 2))",
    "max(cardinality(map([1], [2])))",
    "max(struct_extract({'a': 1}, 'a'))",
    "max(array_to_string([1, 2], ','))",
]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("date_format(timestamp, '%Y-%m-%d %H:%i')", "2024-03-01 01:10"),
        ("from_unixtime(0) = '1970-01-01 00:00:00+00'::timestamptz", True),
        ("to_unixtime(timestamp)", RECORDS[10].timestamp.timestamp()),
        ("approx_percentile(id, 0.5)", 10),
        ("arbitrary(host)", RECORDS[10].host),
    ],
)
def test_presto_functions_are_translated(run: Runner, expression: str, expected: object) -> None:
    rows = run.rows(f"id:10 | select {expression} as value")
    assert rows == [{"value": expected}]


def test_duckdb_functions_keep_their_duckdb_meaning(run: Runner) -> None:
    rows = run.rows("id:10 | select date_sub('hour', timestamp, timestamp + interval 2 hour) as v")
    assert rows == [{"v": 2}]


@pytest.mark.parametrize(
    "sql",
    [
        "select host, count(*) as n group by rollup (host)",
        "select host, count(*) as n group by cube (host)",
        "select host, count(*) as n group by grouping sets ((host), ())",
        "select host qualify row_number() over (partition by host order by id) = 1",
        "select host, sum(latency) over w as s window w as (partition by host)",
        "select * where exists (select 1)",
        "select distinct host offset 1",
        "select host from log intersect select host from records",
        "select host from log except select 'web-1'",
        "select * exclude (message)",
        "select x from (select host as x) as s",
        "select host from log group by all order by all",
        "select unnest([1, 2]) as x",
    ],
)
def test_allowed_clauses_run_on_duckdb(run: Runner, sql: str) -> None:
    assert run.rows(f"* | {sql}")


@pytest.mark.parametrize("expression", ALLOWED_EXPRESSIONS)
def test_allowed_functions_run_on_duckdb(run: Runner, expression: str) -> None:
    rows = run.rows(f"* | select {expression} as value from log")
    assert len(rows) == 1


@pytest.mark.parametrize(
    "expression",
    [
        "row_number() over (order by id)",
        "rank() over (partition by host order by latency)",
        "dense_rank() over (order by status)",
        "lag(id) over (order by id)",
        "lead(id, 2) over (order by id)",
        "first_value(id) over (partition by host order by id)",
        "ntile(4) over (order by id)",
        "sum(latency) over (order by id rows between 2 preceding and current row)",
    ],
)
def test_window_functions_run_on_duckdb(run: Runner, expression: str) -> None:
    rows = run.rows(f"* | select id, {expression} as value order by id")
    assert [row["id"] for row in rows] == expected_ids(lambda r: True)


def test_row_number_values(run: Runner) -> None:
    rows = run.rows("status:200 | select id, row_number() over (order by id desc) as n order by n")
    assert [row["id"] for row in rows] == list(reversed(expected_ids(lambda r: r.status == 200)))
    assert [row["n"] for row in rows] == list(range(1, len(rows) + 1))


def test_parsed_tree_is_not_changed_by_emitting(run: Runner) -> None:
    parsed = parse_query("* | select id from log order by id")
    before = parsed.sql_tree
    run.emitter.select(parsed, run.target, order=Order.ASC, limit=5)
    assert parsed.sql_tree == before
