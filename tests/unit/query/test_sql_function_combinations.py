"""Every pair of allowed functions works in one query, whichever SQL flavour each comes from.

Single functions were always accepted, but a DuckDB function beside a Presto/MySQL one (SLS
users' ``approx_percentile`` next to ``quantile_cont``) was refused: each reading of the SQL knew
only one of them. Each pair is checked and then run on the real DuckDB table.
"""

from __future__ import annotations

import itertools

import pytest
from query_records import Runner

from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.domain.errors import InvalidQueryError

AGGREGATES = (
    # DuckDB's own
    "count(*)", "sum(latency)", "avg(latency)", "mean(latency)", "min(latency)", "max(latency)",
    "quantile_cont(latency, 0.5)", "quantile_disc(latency, 0.9)", "median(latency)",
    "approx_quantile(latency, 0.5)", "approx_count_distinct(host)", "mode(host)",
    "stddev(latency)", "var_pop(latency)", "corr(latency, status)", "arg_max(host, latency)",
    "string_agg(host, ',')", "list(host)", "bool_and(ok)", "any_value(host)",
    "histogram(status)", "entropy(status)", "count(*) filter (where status >= 500)",
    # Presto / MySQL flavoured, as SLS users write them
    "approx_percentile(latency, 0.5)", "arbitrary(host)", "approx_distinct(host)",
)  # fmt: skip
SCALARS = (
    # DuckDB's own
    "lower(host)", "length(message)", "date_trunc('hour', timestamp)",
    "strftime(timestamp, '%Y-%m-%d')", "epoch_us(timestamp)", "regexp_matches(message, 'err')",
    "split_part(host, '-', 1)", "coalesce(host, '?')", "round(latency, 1)",
    "list_slice([1, 2, 3], 1, 2)", "json_valid('{}')", "list_aggregate([1, 2, 3], 'sum')",
    "strlen(host)", "to_seconds(5)", "dayofweek(timestamp)",
    # Presto / MySQL flavoured
    "date_format(timestamp, '%Y-%m-%d')", "from_unixtime(1700000000)", "to_unixtime(timestamp)",
    "day_of_week(timestamp)", "date_parse('2024-03-01', '%Y-%m-%d')",
    "str_to_date('2024-03-01', '%Y-%m-%d')", "from_iso8601_timestamp('2024-03-01T00:00:00Z')",
)  # fmt: skip


@pytest.mark.parametrize("function", AGGREGATES + SCALARS)
def test_each_sample_is_allowed_on_its_own(run: Runner, function: str) -> None:
    run.rows(f"* | select {function} as value")


def _pairs(samples: tuple[str, ...]) -> list[tuple[str, str]]:
    return list(itertools.combinations(samples, 2))


def test_every_pair_of_aggregates_works_in_one_query(run: Runner) -> None:
    failures = []
    for first, second in _pairs(AGGREGATES):
        try:
            rows = run.rows(f"* | select {first} as a, {second} as b")
        except InvalidQueryError as error:
            failures.append(f"{first} + {second}: {error.message}")
            continue
        assert len(rows) == 1
    assert failures == []


def test_every_pair_of_scalars_works_in_one_query(run: Runner) -> None:
    failures = []
    for first, second in _pairs(SCALARS):
        try:
            run.rows(f"* | select {first} as a, {second} as b limit 2")
        except InvalidQueryError as error:
            failures.append(f"{first} + {second}: {error.message}")
    assert failures == []


def test_a_foreign_function_takes_the_meaning_of_its_flavour() -> None:
    parsed = parse_query(
        "* | select approx_percentile(latency, 0.5) as p, quantile_cont(latency, 0.5) as q, "
        "date_format(timestamp, '%Y-%m') as month group by month"
    )
    assert parsed.sql_tree is not None
    sql = parsed.sql_tree.sql("duckdb")
    assert "APPROX_QUANTILE(latency, 0.5)" in sql
    assert "QUANTILE_CONT(latency, 0.5)" in sql
    assert "STRFTIME(timestamp, '%Y-%m')" in sql


@pytest.mark.parametrize(
    "sql",
    [
        "select approx_percentile(latency, 0.5) as p, read_csv('/etc/passwd') as x",
        "select date_format(timestamp, '%Y') as d, getenv('HOME') as x",
        "select `host`, read_text('/etc/passwd') as x",
    ],
)
def test_mixing_never_lets_a_forbidden_function_through(sql: str) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        parse_query(f"* | {sql}")
    assert raised.value.details["reason"] == "forbidden_function"
