"""Where a download task's files live in the artifact store, and which codec wraps them.

Everything of one task sits under ``<project>/<task_id>/``: the artifact (named after the task, with
the format's extension and the compression's suffix), its ``manifest.json`` and ``columns.json``
(the column list pinned by the first run, so a resumed run writes the same columns).
"""

from __future__ import annotations

from logsluice.domain.export import Compression, ExportFormat
from logsluice.domain.tasks import Task, TaskSpec

MANIFEST_FILE_NAME = "manifest.json"
COLUMNS_FILE_NAME = "columns.json"
_SUFFIXES = {
    Compression.NONE: "",
    Compression.GZIP: ".gz",
    Compression.ZSTD: ".zst",
    Compression.LZ4: ".lz4",
}


def outer_compression(spec: TaskSpec) -> Compression:
    """Return the stream compression wrapped around the file (none for Parquet's own codec)."""
    return Compression.NONE if spec.format is ExportFormat.PARQUET else spec.compression


def artifact_file_name(spec: TaskSpec) -> str:
    """Return the artifact's file name, e.g. ``errors.csv.zst``."""
    return f"{spec.name}.{spec.format.value}{_SUFFIXES[outer_compression(spec)]}"


def task_prefix(task: Task) -> str:
    """Return the key prefix holding every file of ``task``."""
    return f"{task.project}/{task.id}"


def artifact_key(task: Task) -> str:
    """Return the key of the task's artifact."""
    return f"{task_prefix(task)}/{artifact_file_name(task.spec)}"


def manifest_key(task: Task) -> str:
    """Return the key of the task's manifest."""
    return f"{task_prefix(task)}/{MANIFEST_FILE_NAME}"


def columns_key(task: Task) -> str:
    """Return the key of the task's pinned column list."""
    return f"{task_prefix(task)}/{COLUMNS_FILE_NAME}"


def all_keys(task: Task) -> tuple[str, ...]:
    """Return every key a task may have written (artifact, manifest, pinned columns)."""
    return (artifact_key(task), manifest_key(task), columns_key(task))
