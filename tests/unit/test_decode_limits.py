"""Bounds of JSON ingest decoding: distinct fields, nesting depth, bytes that are not UTF-8."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime

import duckdb
import orjson
import pytest
import zstandard

from logsluice.adapters.duckdb.errors import translate_errors
from logsluice.adapters.http.wire import error_from_envelope
from logsluice.domain.errors import (
    EngineOutOfMemoryError,
    PayloadTooLargeError,
    TooManyFieldsError,
)
from logsluice.pipeline.decode import MAX_JSON_ARRAY_BYTES, decode_records
from logsluice.pipeline.decode_json import JsonLinesDecoder
from logsluice.pipeline.decode_types import DecodeOptions

NOW = datetime(2026, 11, 5, tzinfo=UTC)
TIME = "2026-11-05T12:00:00Z"


def _decoder(max_fields: int | None = 50) -> JsonLinesDecoder:
    return JsonLinesDecoder(DecodeOptions("time", None, NOW, max_fields=max_fields))


def _lines(records: list[dict[str, object]]) -> bytes:
    return b"\n".join(orjson.dumps(record) for record in records)


def test_a_record_past_the_field_limit_is_refused() -> None:
    with pytest.raises(TooManyFieldsError) as raised:
        _decoder().decode_block(_lines([{f"f{index}": index for index in range(60)}]), 1)
    assert raised.value.details == {"limit": 50, "setting": "LOGSLUICE_INGEST_MAX_FIELDS"}


def test_nested_leaves_count_as_fields() -> None:
    record = {"time": TIME, "http": {f"h{index}": index for index in range(60)}}
    with pytest.raises(TooManyFieldsError):
        _decoder().decode_block(_lines([record]), 1)


def test_fields_spread_over_many_records_count_together() -> None:
    records = [{"time": TIME, f"only_in_{index}": index} for index in range(5000)]
    with pytest.raises(TooManyFieldsError):
        _decoder().decode_block(_lines(records), 1)


def test_fields_spread_over_chunks_count_together() -> None:
    records = [{"time": TIME, f"only_in_{index}": index} for index in range(60)]
    chunks = decode_records(
        _lines(records),
        format="jsonl",
        content_encoding=None,
        time_field="time",
        logstream=None,
        arrival_time=NOW,
        strict=False,
        chunk_records=7,
        max_fields=50,
    )
    with pytest.raises(TooManyFieldsError):
        list(chunks)


def test_records_within_the_limit_decode_as_before() -> None:
    records = [{"time": TIME, "n": index, "tags": ["a"], "http": {"s": 200}} for index in range(9)]
    chunk = _decoder().decode_block(_lines(records), 1)
    assert chunk.table.num_rows == 9
    assert chunk.table.column_names == ["time", "logstream", "n", "tags", "http.s"]


def test_no_limit_accepts_wide_records() -> None:
    chunk = _decoder(None).decode_block(_lines([{f"f{index}": 1 for index in range(600)}]), 1)
    assert chunk.table.num_columns == 602


@pytest.mark.parametrize("depth", [65, 100, 1000, 10_000, 100_000])
def test_records_nested_too_deep_are_refused_per_line(depth: int) -> None:
    deep = b'{"time": "' + TIME.encode() + b'", "v": ' + b"[" * depth + b"]" * depth + b"}"
    chunk = _decoder().decode_block(deep + b"\n" + _lines([{"time": TIME, "m": "kept"}]), 1)
    assert chunk.accepted == 1
    assert [error.line for error in chunk.errors] == [1]


def test_nesting_up_to_the_limit_is_kept() -> None:
    value: object = 1
    for _ in range(63):
        value = [value]
    chunk = _decoder().decode_block(_lines([{"time": TIME, "v": value}]), 1)
    assert chunk.accepted == 1
    assert not chunk.errors


def test_a_json_array_element_nested_too_deep_is_refused_by_its_index() -> None:
    element = b'{"v": ' + b"[" * 500 + b"]" * 500 + b"}"
    body = b"[" + element + b', {"m": "kept"}]'
    chunks = list(
        decode_records(
            body,
            format="json",
            content_encoding=None,
            time_field="time",
            logstream=None,
            arrival_time=NOW,
            strict=False,
        )
    )
    assert sum(chunk.accepted for chunk in chunks) == 1
    assert [error.line for chunk in chunks for error in chunk.errors] == [1]


def test_lines_that_are_not_utf8_are_refused_alone() -> None:
    block = b"\n".join(
        [
            b'{"m": "kept"}',
            b'{"\xff": 1}',
            b'{"m": "\xe9"}',
            b'{"m": "\xc0\x80"}',
            b'{"nul\\u0000": 1}',
            b'{"m": "kept too"}',
        ]
    )
    chunk = _decoder().decode_block(block, 1)
    assert chunk.accepted == 2
    assert [error.line for error in chunk.errors] == [2, 3, 4, 5]
    assert "NUL" in chunk.errors[-1].message


def test_engine_out_of_memory_is_not_retryable() -> None:
    out_of_memory = duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
    translated = translate_errors(project="p", logstore="l")
    with pytest.raises(EngineOutOfMemoryError) as raised, translated:
        raise out_of_memory
    assert raised.value.retryable is False
    assert raised.value.code == "out_of_memory"
    assert "LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES" in raised.value.message


def _bomb(codec: str, size_bytes: int) -> bytes:
    line = b'{"time": "2026-11-05T12:00:00Z", "message": "' + b"a" * 200 + b'"}\n'
    plain = line * (size_bytes // len(line))
    if codec == "gzip":
        return gzip.compress(plain, compresslevel=9)
    return zstandard.ZstdCompressor(level=19).compress(plain)


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
@pytest.mark.parametrize("input_format", ["jsonl", "json"])
def test_decompression_stops_at_the_limit(codec: str, input_format: str) -> None:
    bomb = _bomb(codec, 64 * 1024 * 1024)

    def decode() -> None:
        chunks = decode_records(
            io.BytesIO(bomb),
            format=input_format,  # type: ignore[arg-type]
            content_encoding=codec,
            time_field="time",
            logstream=None,
            arrival_time=NOW,
            strict=False,
            max_input_bytes=2 * 1024 * 1024,
        )
        list(chunks)

    with pytest.raises(PayloadTooLargeError) as raised:
        decode()
    assert "LOGSLUICE_INGEST_MAX_DECODED_BYTES" in raised.value.message
    assert "2,097,152 bytes" in raised.value.message


def test_input_within_the_limit_decompresses_whole() -> None:
    body = _bomb("zstd", 1024 * 1024)
    chunks = decode_records(
        body,
        format="jsonl",
        content_encoding="zstd",
        time_field="time",
        logstream=None,
        arrival_time=NOW,
        strict=False,
        max_input_bytes=2 * 1024 * 1024,
    )
    assert sum(chunk.accepted for chunk in chunks) == 1024 * 1024 // 248


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"time": "2026-11-05T12:00:00Z", "nul\\u0000name": 1}', "NUL"),
        (b'{"time": "2026-11-05T12:00:00Z", "": 1}', "empty"),
        (b'{"time": "2026-11-05T12:00:00Z", "http": {"": 1}}', None),
    ],
)
def test_field_names_that_cannot_be_stored_are_refused_per_line(
    line: bytes, reason: str | None
) -> None:
    """A valid UTF-8 block (Arrow's path) with one such line refuses that line alone."""
    good = _lines([{"time": TIME, "m": "kept"}] * 3)
    chunk = _decoder().decode_block(good + b"\n" + line, 1)
    if reason is None:  # a nested empty key is the leaf "http.", a usable name
        assert chunk.accepted == 4
        return
    assert chunk.accepted == 3
    assert [error.line for error in chunk.errors] == [4]
    assert reason in chunk.errors[0].message


def test_an_epoch_past_any_timestamp_is_refused_per_line() -> None:
    block = b'{"time": 1e300}\n' + _lines([{"time": 1_762_344_000}])
    chunk = _decoder().decode_block(block, 1)
    assert chunk.accepted == 1
    assert [error.line for error in chunk.errors] == [1]
    assert "years 1 to 9999" in chunk.errors[0].message


def test_out_of_memory_from_a_serving_node_stays_not_retryable() -> None:
    envelope = {"error": {"code": "out_of_memory", "message": "the log store ran out of memory"}}
    error = error_from_envelope(503, envelope)
    assert isinstance(error, EngineOutOfMemoryError)
    assert error.retryable is False


def test_a_json_array_past_its_bound_is_refused_before_parsing() -> None:
    record = orjson.dumps({"time": TIME, "message": "m" * 100})
    body = b"[" + b",".join([record] * (MAX_JSON_ARRAY_BYTES // len(record) + 1)) + b"]"

    def decode() -> None:
        chunks = decode_records(
            gzip.compress(body),
            format="json",
            content_encoding="gzip",
            time_field="time",
            logstream=None,
            arrival_time=NOW,
            strict=False,
        )
        list(chunks)

    with pytest.raises(PayloadTooLargeError) as raised:
        decode()
    assert "send larger batches as JSON Lines" in raised.value.message
