"""A slice's part and the artifact's running hash: a part that starts the artifact (an empty
head before it) is hashed once, by its writer, with the artifact's hash; any other part is hashed
for itself and again into the artifact's hash. Either way the part's checksums are the part's and
the running hash is the artifact's through the part."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from logsluice.adapters.artifacts import LocalArtifactStore
from logsluice.adapters.artifacts.duckdb_jsonl import DuckDBJsonlEncoder
from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.compressors import NoCompressor
from logsluice.pipeline.export_part import export_part
from logsluice.pipeline.protocols import PartWriter
from logsluice.pipeline.resumable_hash import ResumableHashes
from logsluice.pipeline.slices import Slice

T0 = datetime(2024, 3, 1, tzinfo=UTC)
KEY = "web/0123abcd/export.jsonl"


def records(rows: int) -> pa.Table:
    return pa.table(
        {
            "ts": pa.array(
                [T0 + timedelta(seconds=index) for index in range(rows)], pa.timestamp("us", "UTC")
            ),
            "message": [f"record {index}" for index in range(rows)],
        }
    )


def sums(data: bytes) -> tuple[str, str]:
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.mark.parametrize("before", [b"", b"a head, or the parts before\n"])
def test_the_part_and_the_artifacts_running_hash_are_both_right(
    tmp_path: Path, before: bytes
) -> None:
    store = LocalArtifactStore(tmp_path)
    table = records(5000)
    file_hash = ResumableHashes()
    file_hash.update(before)
    given: list[ResumableHashes | None] = []

    def open_writer(hashes: ResumableHashes | None) -> PartWriter:
        given.append(hashes)
        return store.open_part(KEY, 1, hashes=hashes)

    result = export_part(
        Slice(0, TimeRange(T0, T0 + timedelta(days=1))),
        lambda item: pa.RecordBatchReader.from_batches(table.schema, table.to_batches(1000)),
        DuckDBJsonlEncoder(),
        NoCompressor(),
        open_writer,
        file_hash=file_hash,
    )

    assert result is not None
    assert result.part is not None
    assert result.rows == 5000
    part = b"".join(store.read_part(KEY, 1))
    assert part.count(b"\n") == 5000
    assert (result.part.sha256, result.part.md5) == sums(part)
    assert file_hash.hexdigests() == sums(before + part)
    # the first part after an empty head is hashed once, by its writer, with the file's hash
    assert given == ([file_hash] if not before else [None])
