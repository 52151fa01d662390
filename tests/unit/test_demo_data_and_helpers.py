"""Demo data, histogram buckets, chunk widening and CLI record files: pure functions on tmp_path."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from logsluice.cli.record_files import RecordFile, RecordFileError, detect_format
from logsluice.domain.errors import InvalidInputError
from logsluice.domain.timerange import TimeRange
from logsluice.services.demo_data import DEMO_LOGSTORES, DemoDataSpec, generate_demo_records
from logsluice.services.ingest import combine_tables, sniff_format
from logsluice.services.query import choose_bucket

END = datetime(2026, 3, 1, tzinfo=UTC)
SPEC = DemoDataSpec(
    start=END - timedelta(days=2), end=END, records=2500, seed=3, batch_records=1000
)


@pytest.mark.parametrize("logstore", DEMO_LOGSTORES)
def test_demo_data_is_reproducible_sorted_and_in_range(logstore: str) -> None:
    first = pa.concat_tables(generate_demo_records(logstore, SPEC))
    second = pa.concat_tables(generate_demo_records(logstore, SPEC))
    assert first.equals(second)
    assert first.num_rows == 2500
    times = first.column("timestamp").to_pylist()
    assert times == sorted(times)
    assert SPEC.start <= times[0]
    assert times[-1] < SPEC.end
    other_seed = DemoDataSpec(SPEC.start, SPEC.end, SPEC.records, seed=4, batch_records=1000)
    assert not first.equals(pa.concat_tables(generate_demo_records(logstore, other_seed)))


def test_cdn_demo_fields_are_exactly_the_vendor_ones() -> None:
    table = next(generate_demo_records("cdn", SPEC))
    assert table.column_names == [
        "timestamp",
        "domain",
        "url",
        "status",
        "bytes_sent",
        "client_ip",
        "isp",
        "country",
        "province",
        "user_agent",
        "referer",
    ]
    rows = table.to_pylist()
    assert {row["country"] for row in rows} >= {"cn", "us"}
    assert all(row["province"] for row in rows if row["country"] == "cn")
    assert all(row["url"].startswith(f"https://{row['domain']}/") for row in rows)


def test_app_demo_messages_hold_searchable_words() -> None:
    messages = " ".join(next(generate_demo_records("app", SPEC)).column("message").to_pylist())
    for word in ("timeout", "refused", "deadlock"):
        assert word in messages


def test_demo_data_refuses_unknown_logstores_and_empty_ranges() -> None:
    with pytest.raises(InvalidInputError):
        next(generate_demo_records("nope", SPEC))
    with pytest.raises(InvalidInputError):
        next(generate_demo_records("app", DemoDataSpec(start=END, end=END, records=1)))


@pytest.mark.parametrize(
    ("duration", "bucket"),
    [
        (timedelta(minutes=15), timedelta(seconds=15)),
        (timedelta(hours=1), timedelta(minutes=1)),
        (timedelta(hours=6), timedelta(minutes=10)),
        (timedelta(days=1), timedelta(minutes=30)),
        (timedelta(days=7), timedelta(hours=3)),
        (timedelta(seconds=10), timedelta(seconds=1)),
        (timedelta(days=3650), timedelta(days=90)),
    ],
)
def test_histogram_bucket_sizes(duration: timedelta, bucket: timedelta) -> None:
    assert choose_bucket(TimeRange(END - duration, END), 60) == bucket


def test_combine_tables_widens_clashing_columns() -> None:
    first = pa.table({"code": [1, 2], "ratio": [1, 2], "flag": [True, False]})
    second = pa.table({"code": ["E42"], "ratio": [0.5], "extra": ["x"]})
    combined = combine_tables([first, second])
    assert combined.schema.field("code").type == pa.string()
    assert combined.column("code").to_pylist() == ["1", "2", "E42"]
    assert combined.schema.field("ratio").type == pa.float64()
    assert combined.column("extra").to_pylist() == [None, None, "x"]


def test_sniff_format_looks_inside_compression() -> None:
    array = b'  [{"a": 1}]'
    assert sniff_format(array, None) == "json"
    assert sniff_format(gzip.compress(array), "gzip") == "json"
    assert sniff_format(zstandard.ZstdCompressor().compress(b'{"a": 1}\n'), "zstd") == "jsonl"
    assert sniff_format(b"garbage", "gzip") == "jsonl"


def test_record_file_formats_from_names(tmp_path: Path) -> None:
    assert detect_format(Path("a.jsonl.zst")) == ("jsonl", "zstd")
    assert detect_format(Path("a.csv.gz")) == ("csv", "gzip")
    assert detect_format(Path("a.parquet")) == ("parquet", None)
    assert detect_format(Path("a.log"), "jsonl") == ("jsonl", None)
    with pytest.raises(RecordFileError):
        detect_format(Path("a.log"))


def test_jsonl_chunks_keep_file_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(b'{"n": %d}\n' % n for n in range(5))))
    chunks = list(RecordFile(path, "jsonl", "gzip").chunks(2))
    assert [(chunk.first_line, chunk.records) for chunk in chunks] == [(1, 2), (3, 2), (5, 1)]
    assert chunks[1].file_line(2) == 4
    assert chunks[1].body == b'{"n": 2}\n{"n": 3}\n'


def test_csv_and_parquet_chunks(tmp_path: Path) -> None:
    csv_path = tmp_path / "a.csv"
    csv_path.write_text("timestamp,n\n2026-03-01T00:00:00Z,1\n2026-03-01T00:00:01Z,2\n")
    chunks = list(RecordFile(csv_path, "csv", None).chunks(1))
    assert [chunk.first_line for chunk in chunks] == [2, 3]
    assert json.loads(chunks[1].body) == {"timestamp": "2026-03-01T00:00:01Z", "n": 2}
    parquet_path = tmp_path / "a.parquet.zst"
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"n": [1, 2, 3]}), buffer)
    parquet_path.write_bytes(zstandard.ZstdCompressor().compress(buffer.getvalue().to_pybytes()))
    parquet_chunks = list(RecordFile(parquet_path, "parquet", "zstd").chunks(2))
    assert [(chunk.first_line, chunk.records) for chunk in parquet_chunks] == [(1, 2), (3, 1)]


def test_json_array_file_numbers_elements(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"n": n} for n in range(3)]))
    chunks = list(RecordFile(path, "jsonl", None).chunks(2))
    assert [(chunk.first_line, chunk.records) for chunk in chunks] == [(1, 2), (3, 1)]
