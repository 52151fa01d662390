"""The artifact writer: streams encoded, compressed bytes into an artifact store's staging object.

It counts rows and bytes and computes sha256 and md5 as the bytes pass. ``checkpoint`` makes the
written bytes durable and returns where a resumed run continues; ``resume`` cuts the staging object
back to a checkpoint and re-hashes the kept prefix (hash states cannot be persisted); ``finalize``
publishes the artifact atomically, so a half-written file is never visible.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from logsluice.pipeline.protocols import ArtifactStaging, Chunk, StagingObject


@dataclass(frozen=True)
class WriterCheckpoint:
    """Where the artifact can be cut and continued: its size and the rows in it."""

    offset_bytes: int
    rows: int


@dataclass(frozen=True)
class ArtifactSummary:
    """A published artifact: its key, size, rows and checksums (lowercase hex)."""

    key: str
    size_bytes: int
    rows: int
    sha256: str
    md5: str


class ArtifactWriter:
    """Appends to the staging object of ``key``; create with :meth:`create` or :meth:`resume`."""

    def __init__(self, store: ArtifactStaging, key: str, staging: StagingObject) -> None:
        self._store = store
        self._key = key
        self._staging: StagingObject | None = staging
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.offset_bytes = 0
        self.rows = 0

    @classmethod
    def create(cls, store: ArtifactStaging, key: str) -> ArtifactWriter:
        """Start an empty staging object for ``key`` (replacing any earlier one)."""
        return cls(store, key, store.open_staging(key, 0))

    @classmethod
    def resume(
        cls, store: ArtifactStaging, key: str, checkpoint: WriterCheckpoint
    ) -> ArtifactWriter:
        """Cut the staging object back to ``checkpoint`` and continue after it.

        Raises ArtifactStagingError when the staging object is missing or shorter.
        """
        writer = cls(store, key, store.open_staging(key, checkpoint.offset_bytes))
        for piece in store.read_staging(key, 0, checkpoint.offset_bytes):
            writer._hash(piece)
        writer.offset_bytes = checkpoint.offset_bytes
        writer.rows = checkpoint.rows
        return writer

    def write(self, data: Chunk, rows: int = 0) -> None:
        """Append ``data`` holding ``rows`` more records."""
        self.rows += rows
        if not len(data):
            return
        assert self._staging is not None, "the artifact writer is closed"
        self._staging.write(data)
        self._hash(data)
        self.offset_bytes += len(data)

    def read_range(self, start_bytes: int, end_bytes: int) -> bytes:
        """Return bytes ``[start_bytes, end_bytes)`` already written to the staging object."""
        return b"".join(self._store.read_staging(self._key, start_bytes, end_bytes))

    def checkpoint(self) -> WriterCheckpoint:
        """Make everything written durable and return the cut point after it."""
        assert self._staging is not None, "the artifact writer is closed"
        self._staging.sync()
        return WriterCheckpoint(self.offset_bytes, self.rows)

    def finalize(self) -> ArtifactSummary:
        """Publish the artifact atomically and return its summary."""
        self.close()
        size_bytes = self._store.publish(self._key)
        return ArtifactSummary(
            key=self._key,
            size_bytes=size_bytes,
            rows=self.rows,
            sha256=self._sha256.hexdigest(),
            md5=self._md5.hexdigest(),
        )

    def close(self) -> None:
        """Close the staging object without publishing (a later run may resume it)."""
        if self._staging is not None:
            self._staging.close()
            self._staging = None

    def _hash(self, data: Chunk) -> None:
        self._sha256.update(data)
        self._md5.update(data)
