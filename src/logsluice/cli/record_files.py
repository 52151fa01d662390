"""Reads record files (JSON Lines, CSV, Parquet; optionally ``.gz``/``.zst``) as JSON Lines chunks.

Each chunk remembers the file line of its first record, so a line number the server reports in a
chunk maps back to the file: JSON Lines keep their lines verbatim; for CSV the header is line 1
and each record one line after it; for Parquet the "line" is the row number.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import zstandard

from logsluice.pipeline.decode_tabular import typed_text_column
from logsluice.pipeline.decode_types import MAX_NESTING_DEPTH

_COMPRESSION_BY_SUFFIX = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_FORMAT_BY_SUFFIX = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
RECORD_FORMATS = ("jsonl", "csv", "parquet")
_CSV_BLOCK_BYTES = 8 * 1024 * 1024
_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_APPEND_NEWLINE


JSON_LINES_TYPE = "application/x-ndjson"
PARQUET_TYPE = "application/vnd.apache.parquet"


class RecordFileError(Exception):
    """A file that cannot be read as records (unknown format, corrupt content)."""


@dataclass(frozen=True)
class RecordChunk:
    """Up to N records as JSON Lines (or as Parquet, ``content_type`` says which);
    ``first_line`` is the file line of the first one."""

    body: bytes
    first_line: int
    records: int
    content_type: str = JSON_LINES_TYPE

    def file_line(self, chunk_line: int) -> int:
        """Return the file line of the chunk's 1-based line ``chunk_line``."""
        return self.first_line + chunk_line - 1


def detect_format(path: Path, record_format: str | None = None) -> tuple[str, str | None]:
    """Return the record format and compression (None, ``gzip`` or ``zstd``) of ``path``.

    The format comes from ``record_format`` when given, else from the name (``.jsonl``, ``.csv``,
    ``.parquet``, each optionally followed by ``.gz`` or ``.zst``). Raises RecordFileError.
    """
    suffixes = [suffix.lower() for suffix in path.suffixes]
    compression = _COMPRESSION_BY_SUFFIX.get(suffixes[-1]) if suffixes else None
    if compression is not None:
        suffixes.pop()
    detected = record_format or (_FORMAT_BY_SUFFIX.get(suffixes[-1]) if suffixes else None)
    if detected not in RECORD_FORMATS:
        raise RecordFileError(
            f"{path}: cannot tell the format from the name; use --format jsonl|csv|parquet"
        )
    return detected, compression


class RecordFile:
    """One file opened for reading in chunks; ``position``/``size`` measure progress in bytes."""

    def __init__(
        self,
        path: Path,
        record_format: str,
        compression: str | None,
        *,
        csv_block_bytes: int = _CSV_BLOCK_BYTES,
    ) -> None:
        self.path = path
        self.record_format = record_format
        self.compression = compression
        self.csv_block_bytes = csv_block_bytes
        self.size = path.stat().st_size
        self._raw: IO[bytes] | None = None

    @property
    def position(self) -> int:
        """Return how many bytes of the file have been read."""
        return self.size if self._raw is None or self._raw.closed else self._raw.tell()

    def chunks(self, chunk_records: int) -> Generator[RecordChunk]:
        """Yield the file's records as JSON Lines chunks of at most ``chunk_records`` records.

        Raises RecordFileError when the content cannot be read.
        """
        readers = {"jsonl": self._jsonl_chunks, "csv": self._csv_chunks}
        reader = readers.get(self.record_format, self._parquet_chunks)
        with self.path.open("rb") as raw:
            self._raw = raw
            try:
                yield from reader(chunk_records)
            except (pa.ArrowException, OSError, zstandard.ZstdError, EOFError) as error:
                raise RecordFileError(f"{self.path}: {error}") from error

    def _decompressed(self) -> IO[bytes]:
        assert self._raw is not None
        if self.compression == "gzip":
            return cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="rb"))
        if self.compression == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(self._raw)
            return io.BufferedReader(reader)
        return self._raw

    def _jsonl_chunks(self, chunk_records: int) -> Iterator[RecordChunk]:
        stream = self._decompressed()
        if _starts_json_array(stream):
            yield from _json_array_chunks(stream.read(), chunk_records)
            return
        first_line = 1
        while lines := list(itertools.islice(stream, chunk_records)):
            body = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
            yield RecordChunk(body=body, first_line=first_line, records=len(lines))
            first_line += len(lines)

    def _csv_chunks(self, chunk_records: int) -> Iterator[RecordChunk]:
        # Every column is read as text and typed block by block, as the server's CSV decoder
        # does: a column that changes type mid-file must not stop the read, and an empty cell is
        # a missing value (a missing time is arrival time), not the text "".
        stream = self._decompressed()
        names = next(csv.reader([stream.readline().decode("utf-8-sig")]), [])
        if not names:
            raise RecordFileError(f"{self.path}: a CSV file must start with a header line")
        reader = pa_csv.open_csv(
            pa.PythonFile(stream, mode="r"),
            read_options=pa_csv.ReadOptions(block_size=self.csv_block_bytes, column_names=names),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
            ),
        )
        yield from _table_chunks(map(_typed_batch, reader), chunk_records, first_line=2)

    def _parquet_chunks(self, chunk_records: int) -> Iterator[RecordChunk]:
        assert self._raw is not None
        source: Any = (
            self._raw if self.compression is None else pa.BufferReader(self._decompressed().read())
        )
        # sent as Parquet, so its types (int32, lists, structs, timestamps) reach the server
        first_line = 1
        for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk_records):
            sink = pa.BufferOutputStream()
            pq.write_table(pa.Table.from_batches([batch]), sink, compression="zstd")
            body = sink.getvalue().to_pybytes()
            yield RecordChunk(body, first_line, batch.num_rows, content_type=PARQUET_TYPE)
            first_line += batch.num_rows


def _table_chunks(
    batches: Iterator[pa.RecordBatch] | Any, chunk_records: int, *, first_line: int
) -> Iterator[RecordChunk]:
    for batch in batches:
        for offset in range(0, batch.num_rows, chunk_records):
            rows = batch.slice(offset, chunk_records).to_pylist()
            yield RecordChunk(body=records_as_jsonl(rows), first_line=first_line, records=len(rows))
            first_line += len(rows)


def _typed_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = [typed_text_column(column) for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _starts_json_array(stream: IO[bytes]) -> bool:
    peek = getattr(stream, "peek", None)
    return peek is not None and bytes(peek(1))[:1] == b"["


def _json_array_chunks(data: bytes, chunk_records: int) -> Iterator[RecordChunk]:
    # A JSON array file: the "line" of a record is its 1-based position in the array.
    try:
        elements = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise RecordFileError(f"not a JSON array: {error}") from error
    if not isinstance(elements, list):
        raise RecordFileError("a .json file must hold JSON Lines or one JSON array of records")
    for offset in range(0, len(elements), chunk_records):
        rows = elements[offset : offset + chunk_records]
        yield RecordChunk(
            body=_array_rows_as_jsonl(rows, offset), first_line=offset + 1, records=len(rows)
        )


def _array_rows_as_jsonl(rows: list[Any], offset: int) -> bytes:
    try:
        return records_as_jsonl(rows)
    except TypeError:  # orjson writes at most 254 levels of nesting: name the element
        pass
    for index, row in enumerate(rows, start=offset + 1):
        try:
            orjson.dumps(row, default=str)
        except TypeError as error:
            raise RecordFileError(
                f"element {index} cannot be sent: it nests too deep ({error}); records may nest "
                f"at most {MAX_NESTING_DEPTH} levels of objects and arrays"
            ) from error
    return records_as_jsonl(rows)


def records_as_jsonl(rows: list[dict[str, Any]]) -> bytes:
    """Return ``rows`` as JSON Lines (times as RFC 3339 UTC)."""
    return b"".join(orjson.dumps(row, default=str, option=_JSON_OPTIONS) for row in rows)
