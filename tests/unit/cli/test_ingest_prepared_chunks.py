"""``logsluice ingest`` makes the next chunk (read, compressed, keyed) while it sends one: the
chunks, bodies and keys are exactly those of reading the file chunk by chunk, in order."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard

from logsluice.cli.ingest import chunk_key, prepared_chunks
from logsluice.cli.record_files import RecordFile, RecordFileError


def _write_lines(path: Path, count: int) -> None:
    lines = (f'{{"timestamp": "2026-03-01T00:00:{n % 60:02d}Z", "n": {n}}}\n' for n in range(count))
    path.write_text("".join(lines))


def test_prepared_chunks_are_the_files_chunks_compressed_and_keyed_in_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.jsonl"
    _write_lines(path, 1_050)
    expected = list(RecordFile(path, "jsonl", None).chunks(100))
    prepared = list(prepared_chunks(RecordFile(path, "jsonl", None), 100))
    assert [ready.chunk for ready in prepared] == expected
    assert len(prepared) == 11
    decompressor = zstandard.ZstdDecompressor()
    assert [decompressor.decompress(ready.body) for ready in prepared] == [
        chunk.body for chunk in expected
    ]
    assert [ready.key for ready in prepared] == [chunk_key(chunk) for chunk in expected]
    positions = [ready.position for ready in prepared]
    assert positions == sorted(positions)
    assert positions[-1] == path.stat().st_size


def test_an_unreadable_file_fails_as_before(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"n": 1}\n' * 10)[:-12])  # cut off: no gzip trailer
    with pytest.raises(RecordFileError):
        list(prepared_chunks(RecordFile(path, "jsonl", "gzip"), 5))


def test_a_file_without_records_prepares_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert list(prepared_chunks(RecordFile(path, "jsonl", None), 5)) == []
