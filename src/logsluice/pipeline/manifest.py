"""The manifest of an artifact: a JSON document saying exactly what the file holds.

It records the task's spec, the compiled query (SQL text), the time range, every slice with its
rows and byte range, the totals and checksums, the format and compression, whether the export is
complete, truncated at a limit, or incomplete with its missing ranges, when it was created and
finished, and the logsluice version that wrote it.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from logsluice import __version__
from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.artifact_writer import ArtifactSummary

MANIFEST_VERSION = 1


class ManifestStatus(enum.StrEnum):
    COMPLETE = "complete"
    TRUNCATED = "truncated"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class ManifestSlice:
    """One slice as the manifest lists it: rows and byte range ``[start, end)`` in the artifact."""

    index: int
    time_range: TimeRange
    rows: int
    start_offset_bytes: int
    end_offset_bytes: int


@dataclass(frozen=True, kw_only=True)
class ManifestInput:
    """Everything a manifest says, gathered by the task runner at finalize."""

    task_id: str
    project: str
    spec: Mapping[str, Any]
    compiled_query: str
    time_range: TimeRange
    export_format: str
    compression: str
    artifact: ArtifactSummary
    slices: Sequence[ManifestSlice]
    truncated: bool = False
    missing_ranges: Sequence[TimeRange] = ()
    created_at: datetime
    finished_at: datetime


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _range(time_range: TimeRange) -> dict[str, str]:
    return {"start": _time(time_range.start), "end": _time(time_range.end)}


def manifest_status(truncated: bool, missing_ranges: Sequence[TimeRange]) -> ManifestStatus:
    """Return INCOMPLETE when ranges are missing, else TRUNCATED at a limit, else COMPLETE."""
    if missing_ranges:
        return ManifestStatus.INCOMPLETE
    return ManifestStatus.TRUNCATED if truncated else ManifestStatus.COMPLETE


def build_manifest(source: ManifestInput) -> dict[str, Any]:
    """Return the manifest as a JSON-ready dict (times RFC 3339 UTC, sizes in bytes)."""
    artifact = source.artifact
    return {
        "manifest_version": MANIFEST_VERSION,
        "task_id": source.task_id,
        "project": source.project,
        "status": str(manifest_status(source.truncated, source.missing_ranges)),
        "spec": dict(source.spec),
        "compiled_query": source.compiled_query,
        "time_range": _range(source.time_range),
        "format": source.export_format,
        "compression": source.compression,
        "artifact": {"key": artifact.key, "size_bytes": artifact.size_bytes},
        "rows": artifact.rows,
        "bytes": artifact.size_bytes,
        "sha256": artifact.sha256,
        "md5": artifact.md5,
        "slices": [
            {
                "index": item.index,
                "time_range": _range(item.time_range),
                "rows": item.rows,
                "bytes": item.end_offset_bytes - item.start_offset_bytes,
                "byte_range": [item.start_offset_bytes, item.end_offset_bytes],
            }
            for item in source.slices
        ],
        "missing_ranges": [_range(item) for item in source.missing_ranges],
        "created_at": _time(source.created_at),
        "finished_at": _time(source.finished_at),
        "logsluice_version": __version__,
    }


def manifest_bytes(source: ManifestInput) -> bytes:
    """Return the manifest as UTF-8 JSON, indented for people, keys in a stable order."""
    return json.dumps(build_manifest(source), indent=2, ensure_ascii=False).encode() + b"\n"
