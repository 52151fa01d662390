"""Ingest decoding: time forms, line errors, strict mode, widening, nesting, encodings, formats."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from logsluice.domain.errors import InvalidInputError, InvalidRecordsError
from logsluice.pipeline.decode import DecodedChunk, LineError, decode_file, decode_records

ARRIVAL = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
MOMENT = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
TIME_TYPE = pa.timestamp("us", "UTC")


def _decode(data: bytes, input_format: str = "jsonl", **options: object) -> list[DecodedChunk]:
    arguments: dict[str, object] = {
        "format": input_format,
        "content_encoding": None,
        "time_field": "timestamp",
        "logstream": None,
        "arrival_time": ARRIVAL,
        "strict": False,
    }
    arguments.update(options)
    return list(decode_records(data, **arguments))  # type: ignore[arg-type]


def _rows(chunks: list[DecodedChunk]) -> list[dict[str, object]]:
    return [row for chunk in chunks for row in chunk.table.to_pylist()]


def _errors(chunks: list[DecodedChunk]) -> list[LineError]:
    return [error for chunk in chunks for error in chunk.errors]


def _lines(*records: object) -> bytes:
    return b"\n".join(orjson.dumps(record) for record in records) + b"\n"


# --- time -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T00:00:00Z", MOMENT),
        ("2026-03-01T02:00:00+02:00", MOMENT),
        ("2026-03-01T00:00:00.123456Z", MOMENT + timedelta(microseconds=123456)),
        ("2026-03-01T00:00:00.123456789Z", MOMENT + timedelta(microseconds=123456)),
        ("2026-03-01 00:00:00", MOMENT),
        ("2026-03-01T00:00:00", MOMENT),
        (1772323200, MOMENT),
        (1772323200.25, MOMENT + timedelta(milliseconds=250)),
        (1772323200123, MOMENT + timedelta(milliseconds=123)),
        (1772323200123456, MOMENT + timedelta(microseconds=123456)),
        (1772323200123456789, MOMENT + timedelta(microseconds=123457)),
        ("1772323200", MOMENT),
    ],
)
def test_every_time_form_is_read_as_utc(value: object, expected: datetime) -> None:
    chunks = _decode(_lines({"timestamp": value, "message": "m"}) * 3)
    assert chunks[0].table.schema.field(0) == pa.field("timestamp", TIME_TYPE)
    assert [row["timestamp"] for row in _rows(chunks)] == [expected] * 3
    assert _errors(chunks) == []


def test_mixed_time_forms_in_one_chunk_are_each_read() -> None:
    data = _lines(
        {"timestamp": "2026-03-01T00:00:00Z"},
        {"timestamp": 1772323200000},
        {"timestamp": "2026-03-01T01:00:00+01:00"},
    )
    assert [row["timestamp"] for row in _rows(_decode(data))] == [MOMENT] * 3


def test_a_missing_time_is_the_arrival_time() -> None:
    data = _lines({"message": "no time"}, {"timestamp": None, "message": "null time"})
    assert [row["timestamp"] for row in _rows(_decode(data))] == [ARRIVAL, ARRIVAL]


def test_a_custom_time_field_is_read() -> None:
    chunks = _decode(_lines({"ts": 1772323200, "a": 1}), time_field="ts")
    assert chunks[0].table.column_names[:2] == ["ts", "logstream"]
    assert _rows(chunks)[0]["ts"] == MOMENT


def test_an_unreadable_time_refuses_the_record_with_its_line() -> None:
    data = _lines(
        {"timestamp": "2026-03-01T00:00:00Z", "n": 1},
        {"timestamp": "yesterday", "n": 2},
        {"timestamp": True, "n": 3},
        {"timestamp": 1772323200, "n": 4},
    )
    chunks = _decode(data)
    assert [row["n"] for row in _rows(chunks)] == [1, 4]
    assert [error.line for error in _errors(chunks)] == [2, 3]
    assert "yesterday" in _errors(chunks)[0].message
    assert sum(chunk.accepted for chunk in chunks) == 2


# --- bad lines and strict mode --------------------------------------------------------------------


def test_bad_lines_are_reported_with_exact_line_numbers() -> None:
    data = b"\n".join(
        [
            b'{"timestamp": 1772323200, "n": 1}',
            b"{not json",
            b"",
            b"[1, 2]",
            b'{"timestamp": 1772323200, "n": 5}',
            b'"just text"',
        ]
    )
    chunks = _decode(data)
    assert [row["n"] for row in _rows(chunks)] == [1, 5]
    assert [error.line for error in _errors(chunks)] == [2, 4, 6]
    assert "invalid JSON" in _errors(chunks)[0].message
    assert "object" in _errors(chunks)[1].message


def test_strict_mode_refuses_everything_on_one_bad_record() -> None:
    data = _lines({"timestamp": 1772323200}) + b"oops\n" + _lines({"timestamp": "never"})
    with pytest.raises(InvalidRecordsError) as raised:
        _decode(data, strict=True)
    assert [entry["line"] for entry in raised.value.details["errors"]] == [2, 3]


def test_strict_mode_returns_every_record_when_all_are_good() -> None:
    chunks = _decode(_lines(*({"timestamp": 1772323200 + i} for i in range(5))), strict=True)
    assert len(_rows(chunks)) == 5


# --- types ----------------------------------------------------------------------------------------


def test_types_are_kept_and_logstream_comes_second() -> None:
    chunks = _decode(_lines({"timestamp": 1772323200, "b": True, "i": 3, "f": 1.5, "s": "x"}))
    assert chunks[0].table.schema == pa.schema(
        [
            ("timestamp", TIME_TYPE),
            ("logstream", pa.string()),
            ("b", pa.bool_()),
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("s", pa.string()),
        ]
    )


def test_clashing_values_in_a_chunk_widen_and_keep_every_value() -> None:
    data = _lines(
        {"timestamp": 1772323200, "num": 1, "code": 404, "flag": True},
        {"timestamp": 1772323200, "num": 2.5, "code": "E42", "flag": 1},
    )
    chunks = _decode(data)
    table = pa.concat_tables([chunk.table for chunk in chunks])
    assert table.schema.field("num").type == pa.float64()
    assert table.column("num").to_pylist() == [1.0, 2.5]
    assert table.column("code").to_pylist() == ["404", "E42"]
    assert table.column("flag").to_pylist() == ["true", "1"]


def test_a_clash_deep_in_a_big_block_keeps_lines_and_values() -> None:
    records = [{"timestamp": 1772323200 + i, "status": 200, "n": i} for i in range(5000)]
    records[3333]["status"] = "timeout"
    lines = _lines(*records[:4000]) + b"broken\n" + _lines(*records[4000:])
    chunks = _decode(lines, chunk_records=10_000)
    rows = _rows(chunks)
    assert [row["n"] for row in rows] == list(range(5000))
    assert [row["status"] for row in rows if row["n"] == 3333] == ["timeout"]
    assert {row["status"] for row in rows if row["n"] != 3333} == {"200"}
    assert [error.line for error in _errors(chunks)] == [4001]


def test_nested_objects_become_dotted_leaf_fields_and_lists_stay_lists() -> None:
    data = _lines(
        {"timestamp": 1772323200, "user": {"id": 7, "tags": ["a"], "geo": {"cc": "cn"}},
         "list": [1, 2], "objects": [{"a": 1}], "mixed": [1, "a"]},
        {"timestamp": 1772323200, "user": {"id": 8}, "list": []},
    )  # fmt: skip
    chunks = _decode(data)
    table = chunks[0].table
    assert table.schema.field("user.id").type == pa.int64()
    assert table.schema.field("user.tags").type == pa.list_(pa.string())
    assert table.schema.field("list").type == pa.list_(pa.int64())
    first, second = _rows(chunks)
    assert (first["user.id"], first["user.tags"], first["user.geo.cc"]) == (7, ["a"], "cn")
    assert (first["list"], second["list"], second["user.tags"]) == ([1, 2], [], None)
    assert orjson.loads(first["objects"]) == [{"a": 1}]  # a list of objects is JSON text
    assert orjson.loads(first["mixed"]) == [1, "a"]
    assert "user" not in table.column_names


def test_text_that_looks_like_a_time_stays_text() -> None:
    data = _lines({"timestamp": 1772323200, "created": "2026-03-01", "at": "2026-03-01 10:00:00"})
    row = _rows(_decode(data))[0]
    assert (row["created"], row["at"]) == ("2026-03-01", "2026-03-01 10:00:00")


def test_all_null_fields_are_left_out() -> None:
    chunks = _decode(_lines({"timestamp": 1772323200, "empty": None, "a": 1}))
    assert "empty" not in chunks[0].table.column_names


def test_fields_differing_only_by_case_are_merged() -> None:
    chunks = _decode(_lines({"timestamp": 1772323200, "Host": "a"}, {"host": "b"}))
    table = chunks[0].table
    assert [name for name in table.column_names if name.lower() == "host"] == ["Host"]
    assert table.column("Host").to_pylist() == ["a", "b"]


def test_logstream_comes_from_the_record_else_the_argument() -> None:
    data = _lines({"timestamp": 1772323200, "logstream": "api"}, {"timestamp": 1772323200})
    assert [row["logstream"] for row in _rows(_decode(data, logstream="web"))] == ["api", "web"]
    assert [row["logstream"] for row in _rows(_decode(data))] == ["api", ""]


# --- chunking, encodings and formats --------------------------------------------------------------


def test_chunks_keep_line_numbers_across_boundaries() -> None:
    records = [{"timestamp": 1772323200 + i, "n": i} for i in range(200)]
    data = b"".join(
        b"oops\n" if i % 37 == 5 else orjson.dumps(record) + b"\n"
        for i, record in enumerate(records)
    )
    chunks = _decode(data, chunk_records=16)
    assert len(chunks) > 3
    assert [error.line for error in _errors(chunks)] == [i + 1 for i in range(200) if i % 37 == 5]
    assert [row["n"] for row in _rows(chunks)] == [i for i in range(200) if i % 37 != 5]


def test_a_last_line_without_newline_is_read() -> None:
    chunks = _decode(b'{"timestamp": 1772323200, "n": 1}\n{"timestamp": 1772323200, "n": 2}')
    assert [row["n"] for row in _rows(chunks)] == [1, 2]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("zstd", zstandard.ZstdCompressor().compress)],
)
def test_compressed_bodies_are_decoded(encoding: str, compress: object) -> None:
    data = _lines(*({"timestamp": 1772323200, "n": i} for i in range(100)))
    chunks = _decode(compress(data), content_encoding=encoding)  # type: ignore[operator]
    assert [row["n"] for row in _rows(chunks)] == list(range(100))


def test_corrupt_or_unknown_encodings_are_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        _decode(b"not gzip at all", content_encoding="gzip")
    with pytest.raises(InvalidInputError):
        _decode(b"{}", content_encoding="brotli")


def test_a_json_array_reports_element_index_plus_one() -> None:
    body = orjson.dumps([{"timestamp": 1772323200, "n": 1}, 5, {"timestamp": "bad", "n": 3}])
    chunks = _decode(body, "json")
    assert [row["n"] for row in _rows(chunks)] == [1]
    assert [error.line for error in _errors(chunks)] == [2, 3]


def test_a_json_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(InvalidRecordsError):
        _decode(b"[{", "json")


def test_csv_is_typed_per_column_with_line_numbers() -> None:
    data = (
        b"timestamp,status,latency,message\n"
        b"2026-03-01T00:00:00Z,200,1.5,hello\n"
        b'2026-03-01T00:00:00Z,500,2,"quoted, with comma"\n'
        b"2026-03-01T00:00:00Z,1,2,3,4\n"
        b"never,404,3.5,late\n"
    )
    chunks = _decode(data, "csv")
    rows = _rows(chunks)
    assert [(row["status"], row["latency"], row["message"]) for row in rows] == [
        (200, 1.5, "hello"),
        (500, 2.0, "quoted, with comma"),
    ]
    assert rows[0]["timestamp"] == MOMENT
    assert [error.line for error in _errors(chunks)] == [4, 5]


def test_parquet_is_read_batch_by_batch(tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array([MOMENT] * 10, pa.timestamp("ms", "UTC")),
            "n": pa.array(range(10), pa.int32()),
            "tags": pa.array([["a", "b"]] * 10),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    chunks = _decode(sink.getvalue(), "parquet", chunk_records=4)
    assert len(chunks) == 3
    rows = _rows(chunks)
    assert [row["n"] for row in rows] == list(range(10))
    assert rows[0]["timestamp"] == MOMENT
    assert rows[0]["tags"] == ["a", "b"]
    assert chunks[0].table.schema.field("n").type == pa.int32()  # narrow integers stay narrow


def test_decode_file_reads_format_and_compression_from_the_name(tmp_path: Path) -> None:
    path = tmp_path / "logs.jsonl.zst"
    data = _lines(*({"timestamp": 1772323200, "n": i} for i in range(10)))
    path.write_bytes(zstandard.ZstdCompressor().compress(data))
    chunks = list(
        decode_file(
            path, time_field="timestamp", logstream=None, arrival_time=ARRIVAL, strict=False
        )
    )
    assert [row["n"] for row in _rows(chunks)] == list(range(10))
    with pytest.raises(InvalidInputError):
        list(
            decode_file(
                tmp_path / "logs.txt",
                time_field="timestamp",
                logstream=None,
                arrival_time=ARRIVAL,
                strict=False,
            )
        )


@pytest.mark.parametrize(
    ("body", "input_format"),
    [
        (b"null", "jsonl"),
        (b"null\n{}", "jsonl"),
        (b"[null, null]", "json"),
        (b"[null, {}]", "json"),
    ],
)
def test_a_batch_starting_with_null_is_rejected_by_line_not_a_crash(
    body: bytes, input_format: str
) -> None:
    """Arrow's JSON reader crashed the server on a first value `null` (found by schemathesis)."""
    chunks = _decode(body, input_format)
    assert 1 in [error.line for error in _errors(chunks)]
