"""The select of a plain ``*`` slice given a lake's skipped files: the files left out by name (rows
without a file name kept), the time range checked after the scan through a volatile term DuckDB
does not push into it; any other search keeps the range in the scan and skips no file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from logsluice.adapters.duckdb.emitter import DuckDBQueryEmitter, QueryTarget
from logsluice.adapters.duckdb.query_language import parse_duckdb_query
from logsluice.domain.catalog import Field, FieldType, LogstoreSchema
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange

START = datetime(2026, 3, 1, tzinfo=UTC)
SCHEMA = LogstoreSchema("t", (Field("t", FieldType.TIMESTAMP), Field("level", FieldType.VARCHAR)))
RANGE = TimeRange(START, START + timedelta(hours=1))
FILES = ("s3://b/lake/f1.parquet", "s3://b/lake/it's.parquet")


def select(text: str, skipped: tuple[str, ...]) -> str:
    target = QueryTarget('lake."shop"."web"', "t", SCHEMA, RANGE, skipped_files=skipped)
    return DuckDBQueryEmitter().select(
        parse_duckdb_query(text), target, order=Order.ASC, limit=None, sort=False
    )


def test_a_plain_slice_skips_the_files_and_checks_the_range_after_the_scan() -> None:
    sql = select("*", FILES)
    assert (
        "(filename IS NULL OR NOT filename IN ('s3://b/lake/f1.parquet', "
        "'s3://b/lake/it''s.parquet'))" in sql
    )
    assert "OR RANDOM() < 0)" in sql
    assert '"t" >= ' in sql


def test_without_skipped_files_or_with_a_search_the_range_stays_in_the_scan() -> None:
    assert "filename" not in select("*", ())
    assert "RANDOM" not in select("*", ())
    searched = select("level:ERROR", FILES)
    assert "filename" not in searched
    assert "RANDOM" not in searched
