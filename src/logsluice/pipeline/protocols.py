"""The roles of the export pipeline as Protocols: Encoder, Compressor, ArtifactStore, StagingObject,
PartWriter (and the PartInfo record of a committed part).

They live here, below ``ports.py`` in the layer order, because the pipeline itself (the artifact
writer and the export driver) is written against them and may not import ``ports``; ``ports.py``
re-exports them so services keep seeing every role in one place. Chunks of output are any bytes-like
object (``bytes``, ``memoryview`` over an Arrow buffer), so encoders hand their buffers on without a
copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    import pyarrow as pa

    from logsluice.pipeline.resumable_hash import ResumableHashes

Chunk = bytes | bytearray | memoryview
"""A piece of encoded or compressed output."""

ReadRange = Callable[[int, int], bytes]
"""Reads ``[start_bytes, end_bytes)`` of the artifact written so far (used when resuming)."""


class Encoder(Protocol):
    """Turns Arrow record batches into the bytes of one file format, batch by batch.

    The output is a sequence of slices: ``begin`` once per artifact, then for each slice any
    number of ``encode`` calls and one ``end_slice``; ``end`` once at the very end. The bytes
    returned up to and including an ``end_slice`` form a prefix a resumed run may continue after.
    """

    @property
    def file_extension(self) -> str:
        """Return the extension of the format without a dot (``csv``, ``jsonl``, ``parquet``)."""
        ...

    @property
    def independent_batches(self) -> bool:
        """Return True if ``encode`` keeps no state between batches and may run on several threads
        at once (the driver then encodes a few batches ahead, in parallel, keeping their order)."""
        ...

    def begin(self, schema: pa.Schema) -> Chunk:
        """Start an artifact of rows of ``schema``; return its leading bytes (a CSV header)."""
        ...

    def encode(self, batch: pa.RecordBatch) -> Chunk:
        """Encode one batch of the current slice and return the bytes ready so far."""
        ...

    def end_slice(self) -> Chunk:
        """Finish the current slice and return its last bytes; after them the output can be cut."""
        ...

    def end(self) -> Chunk:
        """Finish the artifact and return its trailing bytes (a Parquet footer)."""
        ...

    def resume(self, prefix_bytes: int, read_range: ReadRange) -> None:
        """Continue an artifact whose first ``prefix_bytes`` (ending at a slice end) were kept.

        ``read_range`` reads the kept prefix as the encoder wrote it (only formats without an
        outer compressor need it). Raises ArtifactStagingError if the prefix is not one this
        encoder can continue.
        """
        ...


class Compressor(Protocol):
    """Compresses a stream into independently decodable frames (zstd frame, gzip member, lz4 frame).

    Concatenated frames decode as the concatenation of their contents, so the output can be cut at
    any ``end_frame`` and continued by a new frame.
    """

    @property
    def file_suffix(self) -> str:
        """Return the suffix added to the file name (``.zst``, ``.gz``, ``.lz4``, or empty)."""
        ...

    def compress(self, data: Chunk) -> Chunk:
        """Feed ``data`` into the current frame and return whatever compressed output is ready."""
        ...

    def end_frame(self) -> Chunk:
        """Close the current frame and return its last bytes; the next ``compress`` opens one."""
        ...


class StagingObject(Protocol):
    """An artifact being written: append-only until it is closed."""

    def write(self, data: Chunk) -> None:
        """Append ``data``."""
        ...

    def sync(self) -> None:
        """Make everything written so far durable (called at every checkpoint)."""
        ...

    def close(self) -> None:
        """Release the handle; the staging object stays for a later resume or publish."""
        ...


@dataclass(frozen=True, slots=True)
class PartInfo:
    """A committed part of an artifact: its number, size and checksums (lowercase hex).

    Part ``N`` holds the encoded, compressed bytes of slice ``N - 1``.
    """

    number: int
    size_bytes: int
    sha256: str
    md5: str


class PartWriter(Protocol):
    """One attempt at writing part ``N`` of an artifact: invisible until committed."""

    def write(self, data: Chunk) -> None:
        """Append ``data`` to this attempt. Raises DiskFullError when the store is full."""
        ...

    def commit(self) -> PartInfo:
        """Make the part durable and listed, replacing an earlier committed part ``N``; return its
        info. The writer is closed afterwards."""
        ...

    def abort(self) -> None:
        """Discard this attempt; an earlier committed part ``N`` (if any) stays as it was.
        A no-op after ``commit`` or a previous ``abort``."""
        ...


class ArtifactParts(Protocol):
    """An artifact written as parts by many workers, then put together (the slice runs and
    completion)."""

    def open_part(
        self,
        key: str,
        number: int,
        head: bytes | None = None,
        hashes: ResumableHashes | None = None,
    ) -> PartWriter:
        """Start writing part ``number`` (1-based) of the artifact ``key``.

        ``head`` is given for the file's first part: the artifact's head, which ``complete``
        and ``assemble`` will be given. A store may keep it with the part so as to put the file
        together without copying that part (the local store); it is never part of the part's
        bytes, size or checksums. ``hashes``, a running hash that has hashed nothing yet, is
        the one the writer hashes the part's bytes with for its sha256 and md5, so the caller
        can go on with it (a part that starts the artifact starts the artifact's hash; ADR
        0018). Raises InvalidInputError for a number below 1, ValueError when ``hashes`` has
        hashed bytes already.
        """
        ...

    def list_parts(self, key: str) -> list[PartInfo]:
        """Return the committed parts of ``key`` in ascending number (none: an empty list)."""
        ...

    def read_part(self, key: str, number: int) -> Iterator[bytes]:
        """Yield the committed bytes of part ``number`` in chunks.

        Raises ArtifactNotFoundError when that part is not committed.
        """
        ...

    def assemble(self, key: str, numbers: Sequence[int], head: bytes = b"") -> None:
        """Start publishing early, while other parts are still being written: put ``head`` and
        the committed parts ``numbers`` — the first parts of the file, in its order — together
        now, so that ``complete`` (with the same head and a list starting with ``numbers``) has
        only the rest to do. Any process may call it, any number of times, with a growing list.
        Publishes nothing; parts put together are no longer listed or readable. A store that
        gains nothing from it (an object store, which completes on the server) does nothing.
        Raises ArtifactNotFoundError if a listed part is not committed.
        """
        ...

    def complete(
        self, key: str, numbers: Sequence[int], head: bytes = b"", tail: bytes = b""
    ) -> int:
        """Publish ``head``, the given parts in that order and ``tail`` as the artifact ``key``.

        Atomic: before, nothing is visible under ``key``; after, the whole file is. Return its
        size. The parts are removed after publishing. Idempotent: completing a key already
        published (and with no parts left) returns its size. Raises ArtifactNotFoundError if a
        listed part is not committed.
        """
        ...

    def abort_parts(self, key: str) -> None:
        """Drop every part of ``key``, committed or being written; nothing there is fine."""
        ...


class ArtifactStaging(Protocol):
    """An artifact written in order into one staging object, then published (``ArtifactWriter``)."""

    def open_staging(self, key: str, offset_bytes: int = 0) -> StagingObject:
        """Open the staging object of ``key`` for appending at ``offset_bytes``.

        Anything after the offset is cut away; offset 0 starts an empty object. Raises
        ArtifactStagingError when the staging object is missing or shorter than ``offset_bytes``.
        """
        ...

    def staging_size(self, key: str) -> int:
        """Return the staging object's size in bytes. Raises ArtifactNotFoundError if absent."""
        ...

    def read_staging(self, key: str, start_bytes: int, end_bytes: int) -> Iterator[bytes]:
        """Yield the staging object's bytes ``[start_bytes, end_bytes)`` in chunks.

        Raises ArtifactNotFoundError if there is no staging object.
        """
        ...

    def publish(self, key: str) -> int:
        """Atomically make the staging object of ``key`` the published artifact; return its size.

        The content is durable before it becomes visible; a previous artifact of the key is
        replaced. Raises ArtifactNotFoundError if there is no staging object.
        """
        ...


class PublishedArtifacts(Protocol):
    """Published artifacts and small objects: read, sized, linked, deleted (downloads, links,
    manifests, the janitor)."""

    def put(self, key: str, data: bytes) -> None:
        """Publish a small object (a manifest) in one atomic step."""
        ...

    def read(self, key: str, start_bytes: int = 0, end_bytes: int | None = None) -> Iterator[bytes]:
        """Yield the published artifact's bytes ``[start_bytes, end_bytes)`` in chunks.

        ``end_bytes`` None reads to the end; a range past the end is clipped. Raises
        ArtifactNotFoundError if nothing is published under ``key``.
        """
        ...

    def size(self, key: str) -> int:
        """Return the published artifact's size in bytes. Raises ArtifactNotFoundError."""
        ...

    def exists(self, key: str) -> bool:
        """Return whether an artifact is published under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the published artifact, the staging object and the parts of ``key``; absent ones
        are fine."""
        ...

    def link(self, key: str, *, filename: str, expires_at: datetime) -> str | None:
        """Return a direct download URL of ``key`` valid until ``expires_at`` (an object store's
        presigned GET naming ``filename``), or None when downloads go through logsluice's own
        signed link (the local store)."""
        ...


class ArtifactStore(ArtifactParts, ArtifactStaging, PublishedArtifacts, Protocol):
    """Keeps artifacts by key (``<project>/<task_id>/<filename>``): staged while written, then
    published atomically, then read by byte ranges until deleted.

    An artifact is written either as one staging object (``open_staging`` … ``publish``) or as
    numbered parts written independently, by any process, in any order (``open_part`` …
    ``complete``), which is how the slices of one task are written in parallel.

    Invalid keys (absolute, with ``..`` or empty segments) raise InvalidInputError.
    """
