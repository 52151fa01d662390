"""The writers of the S3 artifact store: a part being written and the staged artifact of the
single-writer path. Both spool to a local temporary file (memory up to 1 MiB, then disk), hash as
they go, and hand the spool to the store to upload as one object, so memory never holds a file.
"""

from __future__ import annotations

import tempfile
from typing import IO, TYPE_CHECKING

from logsluice.adapters.artifacts.checksums import PartChecksums
from logsluice.domain.errors import ArtifactStagingError
from logsluice.pipeline.protocols import Chunk, PartInfo

if TYPE_CHECKING:
    from logsluice.adapters.artifacts.s3 import S3ArtifactStore
    from logsluice.pipeline.resumable_hash import ResumableHashes

SPOOL_MEMORY_BYTES = 1024 * 1024


class Spool:
    """Bytes written locally before they go up as one object, with their checksums when asked
    (a part's; a staged segment needs none)."""

    def __init__(self, checksums: PartChecksums | None = None) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
        self.size_bytes = 0
        self.checksums = checksums

    def write(self, data: Chunk) -> None:
        self.file.write(data)
        if self.checksums is not None:
            self.checksums.update(data)
        self.size_bytes += len(data)

    def rewind(self) -> IO[bytes]:
        self.file.seek(0)
        return self.file

    def close(self) -> None:
        self.file.close()


class S3PartWriter:
    """One attempt at part ``N``: spooled locally, uploaded (replacing the old part) on commit."""

    def __init__(
        self,
        store: S3ArtifactStore,
        key: str,
        number: int,
        hashes: ResumableHashes | None = None,
    ) -> None:
        self._store = store
        self._key = key
        self._number = number
        self._checksums = PartChecksums(hashes)
        self._spool: Spool | None = Spool(self._checksums)

    def write(self, data: Chunk) -> None:
        if self._spool is None:
            raise ArtifactStagingError("this part was already committed or aborted", key=self._key)
        self._spool.write(data)

    def commit(self) -> PartInfo:
        if self._spool is None:
            raise ArtifactStagingError("this part was already committed or aborted", key=self._key)
        spool, self._spool = self._spool, None
        try:
            sha256, md5 = self._checksums.hexdigests()
            info = PartInfo(self._number, spool.size_bytes, sha256, md5)
            metadata = {"sha256": info.sha256, "md5": info.md5}
            self._store.upload(self._store.part_key(self._key, self._number), spool, metadata)
            return info
        finally:
            spool.close()

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


class S3StagingObject:
    """The staged artifact of the single-writer path: each ``sync`` uploads one more segment."""

    def __init__(self, store: S3ArtifactStore, key: str, next_index: int) -> None:
        self._store = store
        self._key = key
        self._next_index = next_index
        self._spool = Spool()

    def write(self, data: Chunk) -> None:
        self._spool.write(data)

    def sync(self) -> None:
        if self._spool.size_bytes == 0:
            return
        spool, self._spool = self._spool, Spool()
        try:
            self._store.upload(self._store.segment_key(self._key, self._next_index), spool, {})
        finally:
            spool.close()
        self._next_index += 1

    def close(self) -> None:
        self.sync()
        self._spool.close()
