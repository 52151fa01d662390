"""Dotted leaf columns become objects again in JSON Lines and Parquet exports; CSV stays flat."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from logsluice.adapters.artifacts.encoders import build_encoder
from logsluice.domain.export import ExportFormat
from logsluice.pipeline.nesting import Nesting

T0 = datetime(2026, 11, 6, 0, 4, 20, tzinfo=UTC)
FLAT = pa.record_batch(
    {
        "timestamp": pa.array([T0, T0], pa.timestamp("us", "UTC")),
        "level": ["ERROR", "INFO"],
        "http.status": pa.array([503, None], pa.int32()),
        "http.route": ["/api/cart", None],
        "user.geo.country": ["cn", "us"],
        "tags": pa.array([["web", "canary"], []], pa.list_(pa.string())),
    }
)


def _encoded(export_format: ExportFormat, batch: pa.RecordBatch = FLAT) -> bytes:
    encoder = build_encoder(export_format)
    pieces = [
        encoder.begin(batch.schema),
        encoder.encode(batch),
        encoder.end_slice(),
        encoder.end(),
    ]
    return b"".join(bytes(piece) for piece in pieces)


def test_json_lines_write_objects_and_arrays() -> None:
    lines = [json.loads(line) for line in _encoded(ExportFormat.JSONL).splitlines()]
    assert lines[0] == {
        "timestamp": "2026-11-06T00:04:20.000000Z",
        "level": "ERROR",
        "http": {"status": 503, "route": "/api/cart"},
        "user": {"geo": {"country": "cn"}},
        "tags": ["web", "canary"],
    }
    assert lines[1]["http"] is None  # no leaf of the object: no object
    assert lines[1]["tags"] == []
    frame = pd.read_json(io.BytesIO(_encoded(ExportFormat.JSONL)), lines=True)
    assert frame.loc[0, "http"] == {"status": 503, "route": "/api/cart"}


def test_parquet_keeps_structs_lists_and_int32() -> None:
    table = pq.read_table(io.BytesIO(_encoded(ExportFormat.PARQUET)))
    assert table.schema.field("http").type == pa.struct(
        [pa.field("status", pa.int32()), pa.field("route", pa.string())]
    )
    assert table.schema.field("tags").type == pa.list_(pa.string())
    assert table.schema.field("timestamp").type == pa.timestamp("us", "UTC")
    assert table.column("user").to_pylist() == [
        {"geo": {"country": "cn"}},
        {"geo": {"country": "us"}},
    ]
    database = duckdb.connect()
    database.register("export", table)
    assert database.sql("select http.status, tags[1] from export").fetchall() == [
        (503, "web"), (None, None)
    ]  # fmt: skip


def test_csv_stays_flat_with_lists_as_json() -> None:
    frame = pd.read_csv(io.BytesIO(_encoded(ExportFormat.CSV)))
    assert list(frame.columns) == ["timestamp", "level", "http.status", "http.route",
                                   "user.geo.country", "tags"]  # fmt: skip
    assert json.loads(frame.loc[0, "tags"]) == ["web", "canary"]


def test_names_that_cannot_nest_stay_as_they_are() -> None:
    schema = pa.schema([("a", pa.int64()), ("a.b", pa.int64()), ("x..y", pa.int64()),
                        ("z.", pa.int64()), ("p.q", pa.int64())])  # fmt: skip
    nesting = Nesting.of(schema)
    assert nesting.nested_schema.names == ["a", "a.b", "x..y", "z.", "p"]
    batch = pa.record_batch([pa.array([1])] * 5, schema=schema)
    assert nesting.apply(batch).to_pylist() == [
        {"a": 1, "a.b": 1, "x..y": 1, "z.": 1, "p": {"q": 1}}
    ]


def test_a_flat_schema_passes_through_untouched() -> None:
    batch = pa.record_batch({"timestamp": [1], "message": ["x"]})
    nesting = Nesting.of(batch.schema)
    assert not nesting.changes_anything
    assert nesting.apply(batch) is batch
