"""Reading ``ducklake:`` URLs: the catalog, the data path, S3 access from the URL or ``AWS_*``."""

from __future__ import annotations

import pytest

from logsluice.adapters.duckdb.lake_location import S3Access, parse_lake_url
from logsluice.adapters.duckdb.lake_store import lake_extensions
from logsluice.adapters.log_stores import is_shared_log_store
from logsluice.domain.errors import InvalidInputError

ENVIRONMENT = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
    "AWS_ACCESS_KEY_ID": "env-key",
    "AWS_SECRET_ACCESS_KEY": "env-secret",
    "AWS_REGION": "eu-west-1",
}


def test_a_postgresql_catalog_with_s3_data_takes_aws_variables() -> None:
    location = parse_lake_url(
        "ducklake:postgresql://postgres:p%40ss@127.0.0.1:5432/lake?data_path=s3://logs/prefix",
        ENVIRONMENT,
    )
    assert location.metadata == (
        "postgres:host='127.0.0.1' port='5432' user='postgres' password='p@ss' dbname='lake'"
    )
    assert location.data_path == "s3://logs/prefix/"
    assert location.s3 == S3Access("http://127.0.0.1:9000", "eu-west-1", "env-key", "env-secret")
    assert not location.local_catalog


def test_url_parameters_win_over_the_environment() -> None:
    location = parse_lake_url(
        "ducklake:postgresql://h/db?data_path=s3://b/p&endpoint=https://s3.example:443"
        "&region=us-west-2&access_key_id=k&secret_access_key=s&sslmode=require&inline_rows=50",
        ENVIRONMENT,
    )
    assert location.s3 == S3Access("https://s3.example:443", "us-west-2", "k", "s")
    assert "sslmode='require'" in location.metadata
    assert location.inline_rows == 50
    secret = location.s3.secret_statement("name", "s3://b")
    assert "ENDPOINT 's3.example:443'" in secret
    assert "USE_SSL true" in secret
    assert "KEY_ID 'k'" in secret


def test_local_catalogs_duckdb_and_sqlite() -> None:
    duckdb_form = parse_lake_url("ducklake:///srv/lake/catalog.ducklake?data_path=/srv/data", {})
    assert duckdb_form.metadata == "/srv/lake/catalog.ducklake"
    assert duckdb_form.s3 is None
    assert duckdb_form.local_catalog
    sqlite_form = parse_lake_url("ducklake:sqlite:///srv/lake/c.sqlite?data_path=/srv/data", {})
    assert sqlite_form.metadata == "sqlite:/srv/lake/c.sqlite"
    assert sqlite_form.attach_statement("lake") == (
        "ATTACH 'ducklake:sqlite:/srv/lake/c.sqlite' AS lake "
        "(DATA_PATH '/srv/data/', DATA_INLINING_ROW_LIMIT 0)"
    )


@pytest.mark.parametrize(
    "url",
    [
        "ducklake:postgresql://h/db",  # no data_path
        "ducklake:postgresql://h/db?data_path=relative/dir",
        "ducklake:relative/catalog.ducklake?data_path=/srv/data",
        "ducklake:mysql://h/db?data_path=/srv/data",
        "ducklake:///srv/c.ducklake?data_path=/srv/data&inline_rows=many",
        "duckdb:///srv/c.ducklake?data_path=/srv/data",
    ],
)
def test_malformed_urls_are_refused_with_the_forms_to_use(url: str) -> None:
    with pytest.raises(InvalidInputError, match=r"DuckLake URL"):
        parse_lake_url(url, {})


@pytest.mark.parametrize(
    ("url", "shared"),
    [
        ("duckdb:///srv/logs.duckdb", False),
        ("ducklake:///srv/c.ducklake?data_path=/srv/data", False),  # a DuckDB catalog: one process
        ("ducklake:sqlite:///srv/c.sqlite?data_path=/srv/data", True),
        ("ducklake:postgresql://h/db?data_path=s3://b/p", True),
    ],
)
def test_workers_read_directly_only_from_lakes_many_processes_open(url: str, shared: bool) -> None:
    assert is_shared_log_store(url) is shared


@pytest.mark.parametrize(
    ("url", "extensions"),
    [
        (
            "ducklake:postgresql://u@h/lake?data_path=s3://logs",
            ["ducklake", "postgres_scanner", "httpfs"],
        ),
        ("ducklake:postgresql://u@h/lake?data_path=/srv/data", ["ducklake", "postgres_scanner"]),
        (
            "ducklake:sqlite:///srv/lake.sqlite?data_path=s3://logs",
            ["ducklake", "sqlite_scanner", "httpfs"],
        ),
        ("ducklake:///srv/catalog.ducklake?data_path=/srv/data", ["ducklake"]),
    ],
)
def test_a_lake_loads_only_the_extensions_its_catalog_and_data_need(
    url: str, extensions: list[str]
) -> None:
    location = parse_lake_url(url, ENVIRONMENT)
    assert [extension.name for extension in lake_extensions(location)] == extensions
