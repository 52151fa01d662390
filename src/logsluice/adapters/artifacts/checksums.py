"""The sha256 and md5 a writer keeps of the bytes written into a part.

The writer hashes with ``hashlib``, or, when the caller hands it a running hash that has hashed
nothing yet (``ArtifactStore.open_part(..., hashes=...)``), with that one: the part is then the
start of the artifact, and the artifact's running hash is the part's, hashed once (ADR 0018).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from logsluice.pipeline.protocols import Chunk
    from logsluice.pipeline.resumable_hash import ResumableHashes


class _Hashes(Protocol):
    def update(self, data: Chunk) -> None: ...

    def hexdigests(self) -> tuple[str, str]: ...


class _HashlibHashes:
    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)

    def update(self, data: Chunk) -> None:
        self._sha256.update(data)
        self._md5.update(data)

    def hexdigests(self) -> tuple[str, str]:
        return self._sha256.hexdigest(), self._md5.hexdigest()


class PartChecksums:
    """sha256 and md5 of the bytes given to :meth:`update`, in order."""

    def __init__(self, hashes: ResumableHashes | None = None) -> None:
        """Hash with ``hashes`` (which must have hashed nothing yet) or with ``hashlib``.

        Raises ValueError when ``hashes`` has hashed bytes already: the checksums would not be
        the part's."""
        if hashes is not None and hashes.size_bytes:
            raise ValueError("a part's checksums start from no bytes")
        self._hashes: _Hashes = _HashlibHashes() if hashes is None else hashes

    def update(self, data: Chunk) -> None:
        """Hash ``data`` after the bytes hashed so far."""
        self._hashes.update(data)

    def hexdigests(self) -> tuple[str, str]:
        """Return ``(sha256, md5)`` in lowercase hex; hashing can go on afterwards."""
        return self._hashes.hexdigests()
