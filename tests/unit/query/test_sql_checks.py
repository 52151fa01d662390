"""The SQL after ``|`` is refused unless it is a single SELECT over the records.

Each forbidden construct gets its own case; every refusal must be an InvalidQueryError with the
reason and the 0-based offset (in the full query text) of the offending token.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from logsluice.adapters.duckdb.query_language import parse_duckdb_query as parse_query
from logsluice.adapters.duckdb.sql_functions import DUCKDB_SQL_RULES
from logsluice.domain.errors import InvalidQueryError
from logsluice.query import parse_query as parse_query_with


def refusal(text: str) -> InvalidQueryError:
    with pytest.raises(InvalidQueryError) as caught:
        parse_query(text)
    return caught.value


def assert_refused(text: str, reason: str, marker: str) -> None:
    """Refused with ``reason`` at the first occurrence of ``marker`` after the ``|``."""
    error = refusal(text)
    assert error.reason == reason, error.message
    assert error.position == text.index(marker, text.index("|")), error.message
    assert str(error.position) in error.message


TABLE_FUNCTIONS = [
    "read_csv('/etc/passwd')",
    "read_csv_auto('/etc/passwd')",
    "read_parquet('x.parquet')",
    "parquet_scan('x.parquet')",
    "read_json('x.json')",
    "read_json_auto('x.json')",
    "read_ndjson('x.json')",
    "read_json_objects('x.json')",
    "read_text('/etc/passwd')",
    "read_blob('/etc/passwd')",
    "glob('/etc/*')",
    "sqlite_scan('x.db', 't')",
    "postgres_scan('host=127.0.0.1', 'public', 't')",
    "query('select 1')",
    "query_table('secret')",
    "range(10)",
    "generate_series(1, 10)",
    "duckdb_tables()",
    "duckdb_settings()",
    "pragma_table_info('secret')",
    "iceberg_scan('s3://x')",
    "delta_scan('s3://x')",
]


@pytest.mark.parametrize("function", TABLE_FUNCTIONS)
def test_table_functions_and_file_readers_are_refused(function: str) -> None:
    assert_refused(f"* | select * from {function}", "forbidden_function", function.split("(")[0])


@pytest.mark.parametrize("function", TABLE_FUNCTIONS[:6])
def test_table_functions_are_refused_in_joins_and_subqueries(function: str) -> None:
    name = function.split("(")[0]
    assert_refused(f"* | select * from log, {function}", "forbidden_function", name)
    assert_refused(f"* | select (select count(*) from {function}) as n", "forbidden_function", name)


@pytest.mark.parametrize(
    "call",
    [
        "getenv('HOME')",
        "current_setting('threads')",
        "version()",
        "current_database()",
        "current_schema()",
        "duckdb_extensions()",
        "read_text('/etc/passwd')",
        "list_transform([1], x -> getenv('HOME'))",
        "nosuchfunction(1)",
        "set_config('x', 'y')",
        "sleep_ms(100000)",
    ],
)
def test_scalar_functions_off_the_allow_list_are_refused(call: str) -> None:
    refused_name = "getenv" if "getenv" in call else call.split("(")[0]
    assert_refused(f"* | select {call} as value", "forbidden_function", refused_name)


@pytest.mark.parametrize(
    ("sql", "marker"),
    [
        ("select * from secret", "secret"),
        ("select * from other_logstore", "other_logstore"),
        ("select * from main.secret", "main.secret"),
        ('select * from "proj"."app"', '"proj"'),
        ("select * from information_schema.tables", "information_schema"),
        ("select * from system.main.secret", "system"),
        ("select * from 'data.csv'", "'data.csv'"),
        ('select * from "data.parquet"', '"data.parquet"'),
        ("select * from log join secret on true", "secret"),
        ("select * from log where id in (select value from secret)", "secret"),
        ("select 1 union all select value from secret", "secret"),
        ("with a as (select * from secret) select * from a", "secret"),
    ],
)
def test_other_tables_and_schemas_are_refused(sql: str, marker: str) -> None:
    assert_refused(f"* | {sql}", "forbidden_table", marker)


def test_a_cte_is_visible_only_in_its_scope() -> None:
    # ``a`` is defined inside the subquery only; outside it would name a real table.
    text = "* | select * from (with a as (select 1 as x) select * from a) as s, a"
    error = refusal(text)
    assert (error.reason, error.position) == ("forbidden_table", len(text) - 1)


def test_a_cte_cannot_read_a_later_cte() -> None:
    text = "* | with a as (select * from b), b as (select 1 as x) select * from a"
    error = refusal(text)
    assert (error.reason, error.position) == ("forbidden_table", text.index("b)"))


def test_recursive_cte_is_refused() -> None:
    text = "* | with recursive t(n) as (select 1 union all select n + 1 from t) select * from t"
    assert refusal(text).reason == "forbidden_syntax"


@pytest.mark.parametrize("name", ["log", "records", "RECORDS"])
def test_cte_cannot_shadow_the_records(name: str) -> None:
    assert_refused(
        f"* | with {name} as (select 1 as x) select * from {name}", "reserved_name", name
    )


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH 'other.db' AS other",
        "DETACH other",
        "COPY records TO '/tmp/out.csv'",
        "PRAGMA version",
        "SET threads = 1",
        "INSTALL httpfs",
        "LOAD httpfs",
        "EXPORT DATABASE '/tmp/x'",
        "IMPORT DATABASE '/tmp/x'",
        "CALL pragma_version()",
        "CREATE TABLE t AS SELECT 1",
        "DROP TABLE proj.app",
        "ALTER TABLE proj.app ADD COLUMN x INT",
        "INSERT INTO proj.app VALUES (1)",
        "UPDATE proj.app SET message = 'x'",
        "DELETE FROM proj.app",
        "VALUES (1)",
        "DESCRIBE proj.app",
        "SHOW TABLES",
        "USE proj",
        "CHECKPOINT",
        "VACUUM",
        "FROM records SELECT *",
    ],
)
def test_statements_other_than_select_are_refused(statement: str) -> None:
    text = f"* | {statement}"
    error = refusal(text)
    assert (error.reason, error.position) == ("forbidden_statement", 4)


@pytest.mark.parametrize(
    ("sql", "marker"),
    [
        ("select 1; drop table proj.app", "drop"),
        ("select 1;drop table proj.app;", "drop"),
        ("select 1; select 2", "select 2"),
        ("select 1;\n attach 'x.db'", "attach"),
        ("select ';'; delete from proj.app", "delete"),
    ],
)
def test_several_statements_are_refused(sql: str, marker: str) -> None:
    assert_refused(f"* | {sql}", "multiple_statements", marker)


def test_a_trailing_semicolon_is_fine() -> None:
    assert parse_query("* | select count(*) as n;").has_sql


@pytest.mark.parametrize(
    ("sql", "reason", "marker"),
    [
        ("select 1 /* ; drop table proj.app */", "forbidden_comment", "/*"),
        ("select 1 -- ; drop table proj.app", "forbidden_comment", "--"),
        ("select 1 --\n; drop table proj.app", "forbidden_comment", "--"),
        ("select 1 /* */ */ drop", "forbidden_comment", "/*"),
        ("/* hi */ select 1", "forbidden_comment", "/*"),
        # only the MySQL reading takes "#" for a comment: it must not drop the WHERE silently
        ("select count(*) as n # where level = 'ERROR'", "forbidden_comment", "#"),
        # DuckDB nests block comments, so this one never ends: refused as unreadable.
        ("select /*/ 1; attach 'x'; /*/ 2", "syntax", "2"),
    ],
)
def test_comments_smuggling_statements_are_refused(sql: str, reason: str, marker: str) -> None:
    text = f"* | {sql}"
    error = refusal(text)
    assert error.reason == reason
    expected = len(text) if reason == "syntax" else text.index(marker)
    assert error.position == expected


def test_plain_comment_is_refused_with_its_position() -> None:
    assert_refused("* | select 1 -- just a note", "forbidden_comment", "--")


@pytest.mark.parametrize(
    ("sql", "marker"),
    [
        ("select 1 limit ?", "?"),
        ("select $1", "$1"),
        ("select * into other from log", "into"),
        ("select * from log using sample 10", "10"),
        ("select * from log, lateral (select 1)", "lateral"),
        ("select * from (values (1), (2)) as v(x)", "values"),
    ],
)
def test_other_syntax_off_the_allow_list_is_refused(sql: str, marker: str) -> None:
    assert_refused(f"* | {sql}", "forbidden_syntax", marker)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("* | select (1", 12),
        ("* | select 'unterminated", 11),
        ("* |", 3),
        ("* |   ", 6),
        ("error | select count( from log", 27),
        ("* | select 1 from", 13),
    ],
)
def test_sql_syntax_errors_point_into_the_full_text(text: str, position: int) -> None:
    error = refusal(text)
    assert error.reason == "syntax"
    assert error.position == position


def test_multiline_sql_error_position_counts_earlier_lines() -> None:
    text = "* | select host,\n  count(*) as n\n  group by by host"
    error = refusal(text)
    assert error.reason == "syntax"
    assert text.index("by host") <= error.position <= text.index("host", text.index("by by"))


@pytest.mark.parametrize(
    "sql",
    [
        "select host, count(*) as n group by host order by n desc",
        "SELECT host, COUNT(*) n FROM log GROUP BY host ORDER BY n DESC LIMIT 10",
        "select * from records where status >= 500",
        "with per_host as (select host, count(*) as n group by host) select * from per_host",
        "select host from log union select logstream from records",
        "select count(*) * 100.0 / (select count(*)) as share where status = 500",
        "select `host`, date_format(timestamp, '%Y-%m-%d %H:%i') as minute from log",
        "select approx_percentile(latency, 0.9) as p90, approx_distinct(host) as hosts",
        "select l.host from log as l join log as r on l.id = r.id",
        "select host, row_number() over (partition by host order by timestamp) as n",
        "(select 1 as x)",
    ],
)
def test_typical_log_analysis_sql_is_accepted(sql: str) -> None:
    parsed = parse_query(f"status:* | {sql}")
    assert parsed.has_sql
    assert parsed.sql_tree is not None


# --- the lake: DuckLake and Iceberg catalogs, secrets, object storage -------------------------


@pytest.mark.parametrize(
    "function",
    [
        "ducklake_snapshots('lake')",
        "ducklake_table_info('lake')",
        "ducklake_table_changes('lake', 'main', 'app', 0, 1)",
        "ducklake_list_files('lake', 'app')",
        "ducklake_expire_snapshots('lake', dry_run => true)",
        "ducklake_merge_adjacent_files('lake')",
        "ducklake_cleanup_old_files('lake', cleanup_all => true)",
        "iceberg_metadata('s3://bucket/t')",
        "iceberg_snapshots('s3://bucket/t')",
        "read_parquet('s3://bucket/prefix/data.parquet')",
        "read_csv('https://127.0.0.1/x.csv')",
        "parquet_metadata('s3://bucket/x.parquet')",
        "duckdb_secrets()",
        "which_secret('s3://bucket/x', 's3')",
        "postgres_query('lake', 'select 1')",
        "postgres_scan('dbname=x', 'public', 'ducklake_data_file')",
        "sqlite_scan('/tmp/catalog.sqlite', 'ducklake_data_file')",
        "glob('s3://bucket/**')",
        "query_table('lake.main.app')",
    ],
)
def test_lake_catalog_secret_and_storage_functions_are_refused(function: str) -> None:
    name = function.split("(")[0]
    assert_refused(f"* | select * from {function}", "forbidden_function", name)
    assert_refused(f"* | select count(*) as n from log, {function}", "forbidden_function", name)


@pytest.mark.parametrize(
    "call",
    ["ducklake_snapshots('lake')", "which_secret('s3://b/x', 's3')", "read_blob('s3://b/x')"],
)
def test_lake_functions_are_refused_as_scalars_too(call: str) -> None:
    assert_refused(f"* | select {call} as value", "forbidden_function", call.split("(")[0])


@pytest.mark.parametrize(
    ("sql", "marker"),
    [
        ("select * from lake.main.app", "lake.main.app"),
        ('select * from "lake"."main"."app"', '"lake"'),
        ("select * from __ducklake_metadata_lake.main.ducklake_data_file", "__ducklake"),
        ("select * from lake.proj.app", "lake.proj.app"),
        ("select * from 's3://bucket/prefix/main/app/data.parquet'", "'s3://"),
        ("select * from '/var/lib/logsluice/lake/data.parquet'", "'/var"),
        ('select * from "s3://bucket/x.parquet"', '"s3://'),
        ("select * from log join lake.main.other as o on true", "lake.main.other"),
    ],
)
def test_other_catalogs_schemas_and_files_are_refused(sql: str, marker: str) -> None:
    assert_refused(f"* | {sql}", "forbidden_table", marker)


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH 'ducklake:postgres:dbname=other' AS other (DATA_PATH 's3://other/')",
        "ATTACH 'ducklake:/tmp/catalog.ducklake' AS other",
        "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')",
        "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')",
        "DROP SECRET s",
        "SET s3_endpoint = '127.0.0.1:9000'",
        "SET GLOBAL enable_external_access = true",
        "RESET memory_limit",
        "PRAGMA enable_profiling",
        "COPY (SELECT * FROM records) TO 's3://bucket/out.parquet'",
        "INSTALL ducklake",
        "LOAD postgres_scanner",
        "DETACH lake",
        "USE lake",
    ],
)
def test_lake_statements_are_refused(statement: str) -> None:
    error = refusal(f"* | {statement}")
    assert (error.reason, error.position) == ("forbidden_statement", 4)


def test_a_forbidden_pattern_wins_over_an_allow_list_entry() -> None:
    careless = replace(
        DUCKDB_SQL_RULES,
        function_names=DUCKDB_SQL_RULES.function_names | {"read_text", "ducklake_snapshots"},
    )
    for call in ("read_text('/etc/passwd')", "ducklake_snapshots('lake')"):
        text = f"* | select {call} as value"
        with pytest.raises(InvalidQueryError) as caught:
            parse_query_with(text, careless)
        assert (caught.value.reason, caught.value.position) == ("forbidden_function", 11)
