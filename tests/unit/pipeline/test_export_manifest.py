"""The manifest JSON: totals, checksums, slices with byte ranges, status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from logsluice import __version__
from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.artifact_writer import ArtifactSummary
from logsluice.pipeline.manifest import (
    ManifestInput,
    ManifestSlice,
    ManifestStatus,
    manifest_bytes,
    manifest_status,
)

START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def manifest_input(**changes: object) -> ManifestInput:
    values: dict[str, object] = {
        "task_id": "t1",
        "project": "p1",
        "spec": {"query": "level:ERROR", "format": "csv"},
        "compiled_query": "SELECT * FROM records WHERE level = 'ERROR'",
        "time_range": TimeRange(START, START + 2 * HOUR),
        "export_format": "csv",
        "compression": "zstd",
        "artifact": ArtifactSummary(
            key="p1/t1/out.csv.zst", size_bytes=300, rows=7, sha256="a" * 64, md5="b" * 32
        ),
        "slices": [
            ManifestSlice(0, TimeRange(START, START + HOUR), 5, 0, 200),
            ManifestSlice(1, TimeRange(START + HOUR, START + 2 * HOUR), 2, 200, 300),
        ],
        "created_at": START,
        "finished_at": START + timedelta(minutes=3),
    }
    values.update(changes)
    return ManifestInput(**values)  # type: ignore[arg-type]


def test_manifest_lists_totals_checksums_and_slices() -> None:
    document = json.loads(manifest_bytes(manifest_input()))
    assert document["status"] == "complete"
    assert (document["rows"], document["bytes"], document["sha256"], document["md5"]) == (
        7,
        300,
        "a" * 64,
        "b" * 32,
    )
    assert document["compiled_query"].startswith("SELECT")
    assert document["time_range"] == {
        "start": "2026-03-01T00:00:00Z",
        "end": "2026-03-01T02:00:00Z",
    }
    assert document["slices"][1] == {
        "index": 1,
        "time_range": {"start": "2026-03-01T01:00:00Z", "end": "2026-03-01T02:00:00Z"},
        "rows": 2,
        "bytes": 100,
        "byte_range": [200, 300],
    }
    assert document["logsluice_version"] == __version__
    assert document["finished_at"] == "2026-03-01T00:03:00Z"


def test_status_is_incomplete_with_missing_ranges_else_truncated_at_a_limit() -> None:
    missing = [TimeRange(START, START + HOUR)]
    assert manifest_status(True, missing) is ManifestStatus.INCOMPLETE
    assert manifest_status(True, []) is ManifestStatus.TRUNCATED
    document = json.loads(manifest_bytes(manifest_input(missing_ranges=missing)))
    assert document["status"] == "incomplete"
    assert document["missing_ranges"] == [
        {"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T01:00:00Z"}
    ]
