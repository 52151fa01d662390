"""Ingest decoding: bytes or a stream of JSON, JSON Lines, CSV or Parquet into append-ready tables.

Public API::

    decode_records(data, *, format, content_encoding, time_field, logstream, arrival_time,
                   strict, chunk_records=65_536) -> Iterator[DecodedChunk]
    decode_file(path, *, time_field, logstream, arrival_time, strict, chunk_records=65_536)
        -> Iterator[DecodedChunk]
    DecodedChunk(table: pa.Table, accepted: int, errors: list[LineError])
    LineError(line: int, message: str)

Each ``DecodedChunk.table`` satisfies ``LogStore.append``: the time field first as
``timestamp[us, UTC]``, then ``logstream``, then boolean/int64/float64/string fields (nested
values as JSON text; values whose types clash within a chunk widened: int+float to float, anything
with text to text). A record's time is a timestamp, an epoch number in s/ms/us/ns, or text in one
of the common log formats (``pipeline.time_formats``: RFC 3339, ISO 8601, nginx/Apache, syslog)
or the caller's ``time_format``; a missing time is ``arrival_time``; an unreadable one refuses the
record with its 1-based line (for a JSON array: element index + 1). ``logstream`` comes from the
record's field, else the argument, else ``""``. Input is decompressed (``gzip`` or ``zstd``) and
decoded ``chunk_records`` records at a time, so memory stays bounded on files of any size. With
``strict`` any refused record raises InvalidRecordsError and nothing is returned; strict decoding
keeps the whole input in memory before returning, so it is meant for request bodies, not large
files.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Literal, Protocol

import zstandard

from logsluice.domain.errors import InvalidInputError, InvalidRecordsError, PayloadTooLargeError
from logsluice.pipeline.decode_framing import line_blocks
from logsluice.pipeline.decode_json import JsonLinesDecoder, decode_json_array
from logsluice.pipeline.decode_tabular import decode_csv, decode_parquet
from logsluice.pipeline.decode_types import (
    MAX_REPORTED_ERRORS,
    DecodedChunk,
    DecodeOptions,
    LineError,
)

InputFormat = Literal["json", "jsonl", "csv", "parquet"]
DEFAULT_CHUNK_RECORDS = 131_072
# The most one read asks a decompressor for: a bomb is stopped within this of its limit.
_READ_BYTES = 1024 * 1024
MAX_JSON_ARRAY_BYTES = 8 * 1024 * 1024
"""Largest JSON array body (decompressed): an array is parsed whole, at 50-65 times its size
in Python objects, where JSON Lines are read a block at a time."""
_READ_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError)
_FILE_FORMATS: dict[str, InputFormat] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
_FILE_ENCODINGS = {".gz": "gzip", ".zst": "zstd"}

__all__ = [
    "DEFAULT_CHUNK_RECORDS",
    "MAX_JSON_ARRAY_BYTES",
    "DecodedChunk",
    "InputFormat",
    "LineError",
    "decode_file",
    "decode_records",
]


def decode_records(
    data: bytes | IO[bytes],
    *,
    format: InputFormat,
    content_encoding: str | None,
    time_field: str,
    logstream: str | None,
    arrival_time: datetime,
    strict: bool,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
    time_format: str | None = None,
    max_fields: int | None = None,
    max_input_bytes: int | None = None,
) -> Iterator[DecodedChunk]:
    """Return the decoded chunks of ``data`` (see the module docstring); ``time_format`` is the
    strptime format of text times (default: the formats of ``pipeline.time_formats``);
    ``max_fields`` bounds the distinct fields of JSON input (TooManyFieldsError past it);
    ``max_input_bytes`` bounds the input after decompression: past it decompression stops and
    PayloadTooLargeError is raised, so a compression bomb costs no more than that.

    Raises InvalidInputError for an unknown format or content encoding, or input that does not
    decompress; InvalidRecordsError when nothing can be decoded (a JSON body that is not JSON, a
    CSV without header) and, with ``strict``, when any record is refused.
    """
    if chunk_records < 1:
        raise InvalidInputError("chunk_records must be at least 1")
    options = DecodeOptions(time_field, logstream, arrival_time, time_format, max_fields)
    stream = _decompressed(_as_stream(data), content_encoding, max_input_bytes)
    chunks = _decode(stream, format, options, chunk_records)
    return _strictly(chunks) if strict else chunks


def decode_file(
    path: Path,
    *,
    time_field: str,
    logstream: str | None,
    arrival_time: datetime,
    strict: bool,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
) -> Iterator[DecodedChunk]:
    """Decode a file whose name tells its format and compression (``logs.jsonl.zst``, ``a.csv``).

    Raises InvalidInputError for a name with no known format, and what decode_records raises.
    """
    suffixes = [suffix.lower() for suffix in path.suffixes]
    encoding = _FILE_ENCODINGS.get(suffixes[-1]) if suffixes else None
    format_suffix = suffixes[-2] if encoding and len(suffixes) > 1 else (suffixes or [""])[-1]
    if format_suffix not in _FILE_FORMATS:
        raise InvalidInputError(
            f"cannot tell the format of {path.name!r}: use .jsonl, .json, .csv or .parquet"
        )
    with path.open("rb") as file:
        yield from decode_records(
            file,
            format=_FILE_FORMATS[format_suffix],
            content_encoding=encoding,
            time_field=time_field,
            logstream=logstream,
            arrival_time=arrival_time,
            strict=strict,
            chunk_records=chunk_records,
        )


def _decode(
    stream: IO[bytes], input_format: str, options: DecodeOptions, chunk_records: int
) -> Iterator[DecodedChunk]:
    if input_format == "jsonl":
        return _decode_json_lines(stream, options, chunk_records)
    if input_format == "json":
        return decode_json_array(_read_json_array(stream), options, chunk_records)
    if input_format == "csv":
        return decode_csv(stream, options, chunk_records)
    if input_format == "parquet":
        return decode_parquet(stream, options, chunk_records)
    raise InvalidInputError(
        f"unknown input format {input_format!r}: use json, jsonl, csv or parquet"
    )


def _decode_json_lines(
    stream: IO[bytes], options: DecodeOptions, chunk_records: int
) -> Iterator[DecodedChunk]:
    decoder = JsonLinesDecoder(options)
    for first_line, line_count, block in line_blocks(stream, chunk_records):
        yield decoder.decode_block(block, first_line, line_count)


def _strictly(chunks: Iterator[DecodedChunk]) -> Iterator[DecodedChunk]:
    decoded = list(chunks)
    errors = [error for chunk in decoded for error in chunk.errors]
    if errors:
        raise InvalidRecordsError(
            f"{len(errors)} records refused; nothing was stored",
            errors=[error.as_detail() for error in errors[:MAX_REPORTED_ERRORS]],
            refused=len(errors),
        )
    return iter(decoded)


def _as_stream(data: bytes | IO[bytes]) -> IO[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        return io.BytesIO(data)
    return data


def _decompressed(
    stream: IO[bytes], content_encoding: str | None, max_input_bytes: int | None
) -> IO[bytes]:
    encoding = (content_encoding or "identity").strip().lower()
    inner: _Decompressor
    if encoding == "identity":
        inner = stream  # type: ignore[assignment]  # every binary stream has readinto
    elif encoding in ("gzip", "x-gzip"):
        inner = gzip.GzipFile(fileobj=stream, mode="rb")
    elif encoding == "zstd":
        inner = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    else:
        raise InvalidInputError(
            f"unsupported content encoding {content_encoding!r}: use gzip or zstd"
        )
    return io.BufferedReader(_CheckedReader(inner, max_input_bytes), buffer_size=_READ_BYTES)


class _Decompressor(Protocol):
    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...


class _CheckedReader(io.RawIOBase):
    """A raw stream over a decompressor that reports corrupt input as InvalidInputError and
    stops with PayloadTooLargeError once more than ``limit_bytes`` came out of it.

    Reads are at most ``_READ_BYTES`` each, so the decompressor never makes more at once."""

    def __init__(self, inner: _Decompressor, limit_bytes: int | None) -> None:
        super().__init__()
        self._inner = inner
        self._limit_bytes = limit_bytes
        self._read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer)[:_READ_BYTES]
        try:
            count = self._inner.readinto(view)
        except _READ_ERRORS as error:
            raise InvalidInputError(f"input does not decompress: {error}") from error
        self._read_bytes += count
        if self._limit_bytes is not None and self._read_bytes > self._limit_bytes:
            raise PayloadTooLargeError(
                f"the body decompresses to more than {self._limit_bytes:,} bytes "
                "(LOGSLUICE_INGEST_MAX_DECODED_BYTES); send the records in smaller batches",
                limit_bytes=self._limit_bytes,
                setting="LOGSLUICE_INGEST_MAX_DECODED_BYTES",
            )
        return count


def _read_json_array(stream: IO[bytes]) -> bytes:
    """Return a JSON array body, at most MAX_JSON_ARRAY_BYTES of it (a 57 MiB array parsed whole
    took ``serve`` to 1.7 GB). Raises PayloadTooLargeError past it."""
    data = stream.read(MAX_JSON_ARRAY_BYTES + 1)
    if len(data) > MAX_JSON_ARRAY_BYTES:
        raise PayloadTooLargeError(
            f"a JSON array body may hold at most {MAX_JSON_ARRAY_BYTES:,} bytes (after "
            "decompression); send larger batches as JSON Lines, one record per line",
            limit_bytes=MAX_JSON_ARRAY_BYTES,
        )
    return data
