"""Shared pieces of the export pipeline tests: sample records, slice readers, artifact decoding."""
# Imported by the test modules beside it (pytest puts this directory on sys.path).

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import lz4.frame
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

from logsluice.domain.export import Compression, ExportFormat, Order
from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.slices import Slice, plan_slices

START = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # spans the US switch to summer time
RANGE = TimeRange(START, START + timedelta(days=2))
TRICKY_MESSAGES = [
    "plain text",
    "=SUM(A1:A9)",
    "+1 plus",
    "-minus",
    "@at",
    "\tleading tab",
    "\rleading cr",
    'comma, "quotes" and \\ backslash',
    "line\nbreak",
    "unicode: 日本語 ✓",
    None,
]


def sample_table(rows: int = 1200) -> pa.Table:
    """Records spread over RANGE, with nulls, tricky strings and several column types."""
    step_us = int(RANGE.duration / timedelta(microseconds=1)) // rows
    base_us = int(START.timestamp() * 1_000_000)
    times = [base_us + index * step_us + index % 7 for index in range(rows)]
    return pa.table(
        {
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "level": pa.array([["INFO", "WARN", "ERROR"][i % 3] for i in range(rows)]),
            "status": pa.array([None if i % 17 == 0 else 200 + i % 400 for i in range(rows)]),
            "latency": pa.array([i / 8 for i in range(rows)], pa.float64()),
            "ok": pa.array([i % 2 == 0 for i in range(rows)]),
            "message": pa.array([TRICKY_MESSAGES[i % len(TRICKY_MESSAGES)] for i in range(rows)]),
        }
    )


def make_slices(order: Order = Order.ASC, parts: int = 3, rows: int = 1200) -> list[Slice]:
    return plan_slices(RANGE, order, target_rows_per_slice=rows // parts, estimated_rows=rows)


def reader_factory(
    table: pa.Table, order: Order = Order.ASC, batch_rows: int = 100
) -> Callable[[Slice], pa.RecordBatchReader]:
    """Return an ``open_reader`` serving the table's rows of a slice, sorted, in small batches."""

    def open_reader(item: Slice) -> pa.RecordBatchReader:
        start = pa.scalar(item.time_range.start, pa.timestamp("us", tz="UTC"))
        end = pa.scalar(item.time_range.end, pa.timestamp("us", tz="UTC"))
        mask = pc.and_(pc.greater_equal(table["ts"], start), pc.less(table["ts"], end))
        part = table.filter(mask).sort_by(
            [("ts", "descending" if order is Order.DESC else "ascending")]
        )
        return pa.RecordBatchReader.from_batches(table.schema, part.to_batches(batch_rows))

    return open_reader


def expected_rows(table: pa.Table, order: Order = Order.ASC) -> list[dict[str, Any]]:
    direction = "descending" if order is Order.DESC else "ascending"
    return table.sort_by([("ts", direction)]).to_pylist()  # type: ignore[no-any-return]


def decompress(data: bytes, compression: Compression) -> bytes:
    """Decode every concatenated frame/member with the codec's Python library."""
    if compression is Compression.GZIP:
        return gzip.decompress(data)
    if compression is Compression.ZSTD:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=True
        )
        return reader.read()  # type: ignore[no-any-return]
    if compression is Compression.LZ4:
        out = []
        while data:
            decompressor = lz4.frame.LZ4FrameDecompressor()
            out.append(decompressor.decompress(data))
            data = decompressor.unused_data
        return b"".join(out)
    return data


def rfc3339(moment: datetime, time_zone: str) -> str:
    from zoneinfo import ZoneInfo

    text = moment.astimezone(ZoneInfo(time_zone)).isoformat(timespec="microseconds")
    return text.removesuffix("+00:00") + ("Z" if text.endswith("+00:00") else "")


def parse_csv(
    data: bytes, delimiter: str = ",", header: bool = True
) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(data.decode(), newline=""), delimiter=delimiter))
    return (rows[0], rows[1:]) if header else ([], rows)


def numeric_latency(cells: list[str]) -> list[Any]:
    return [*cells[:3], float(cells[3]), *cells[4:]]


def parse_jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def escaped(value: str | None) -> str | None:
    if value is not None and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_expectation(row: dict[str, Any], time_zone: str, escape: bool = True) -> list[Any]:
    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    message = escaped(row["message"]) if escape else row["message"]
    return [
        rfc3339(row["ts"], time_zone),
        row["level"],
        text(row["status"]),
        row["latency"],
        text(row["ok"]),
        text(message),
    ]


def check_rows(
    data: bytes, export_format: ExportFormat, rows: list[dict[str, Any]], time_zone: str = "UTC"
) -> None:
    """Assert the decoded artifact holds exactly ``rows``, in order."""
    if export_format is ExportFormat.PARQUET:
        assert pq.read_table(io.BytesIO(data)).to_pylist() == rows
    elif export_format is ExportFormat.CSV:
        header, cells = parse_csv(data)
        assert header == ["ts", "level", "status", "latency", "ok", "message"]
        assert [numeric_latency(cell) for cell in cells] == [
            csv_expectation(row, time_zone) for row in rows
        ]
    else:
        expected = [{**row, "ts": rfc3339(row["ts"], time_zone)} for row in rows]
        assert parse_jsonl(data) == expected
