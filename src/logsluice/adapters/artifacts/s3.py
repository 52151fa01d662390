"""``S3ArtifactStore``: artifacts as objects in a bucket of any S3-compatible object store.

Layout under the store's prefix: the published artifact at ``<key>``; a committed part ``N`` at
``.staging/parts/<key>/<N>`` (its sha256 and md5 in the object's metadata); a staged artifact of
the single-writer path as numbered segments ``.staging/file/<key>/<i>``, one per ``sync``.
Writers spool to a local temporary file and upload it when the part commits (or the segment syncs),
with boto3's bounded multipart transfer, so memory never holds a file. Publishing (``complete`` and
``publish``) is one multipart upload stitched from those objects (see ``s3_assembly``), made
visible by ``CompleteMultipartUpload``; the parts and segments are deleted after. ``delete`` removes
the artifact, its parts and segments and aborts unfinished uploads of the key;
:meth:`unfinished_uploads` lists the others for the janitor. Links are presigned GETs (with
``Content-Disposition``, honouring Range), unless the store is told to leave links to logsluice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from logsluice.adapters.artifacts.checksums import PartChecksums
from logsluice.adapters.artifacts.s3_assembly import Assembly, ObjectPiece, Piece
from logsluice.adapters.artifacts.s3_client import (
    S3Location,
    build_s3_client,
    call,
    translated,
)
from logsluice.adapters.artifacts.s3_objects import ObjectReader
from logsluice.adapters.artifacts.s3_writers import S3PartWriter, S3StagingObject, Spool
from logsluice.domain.errors import ArtifactNotFoundError, ArtifactStagingError, InvalidInputError
from logsluice.domain.uploads import UnfinishedUpload
from logsluice.pipeline.protocols import PartInfo

if TYPE_CHECKING:
    from logsluice.pipeline.resumable_hash import ResumableHashes

STAGING_DIRECTORY = ".staging"
MAXIMUM_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit


def _check_key(key: str) -> str:
    segments = key.split("/")
    if not key or key.startswith("/") or any(s in ("", ".", "..") for s in segments):
        raise InvalidInputError(f"invalid artifact key {key!r}", key=key)
    if segments[0] == STAGING_DIRECTORY or "\x00" in key:
        raise InvalidInputError(f"invalid artifact key {key!r}", key=key)
    return key


def _check_number(number: int) -> int:
    if number < 1:
        raise InvalidInputError(f"part numbers start at 1, not {number}", number=number)
    return number


class S3ArtifactStore:
    """Artifacts in ``location`` (a bucket and prefix); ``direct_links`` False leaves links to
    logsluice's own signed URLs."""

    def __init__(
        self, location: S3Location, *, client: Any = None, direct_links: bool = True
    ) -> None:
        self.location = location
        self._client = client if client is not None else build_s3_client(location)
        self._reader = ObjectReader(self._client, location)
        self._assembly = Assembly(self._client, location.bucket, self._reader.read_object)
        self._direct_links = direct_links

    # --- object keys -------------------------------------------------------------------------

    def _object_key(self, key: str) -> str:
        return self.location.object_key(_check_key(key))

    def part_key(self, key: str, number: int) -> str:
        """Return the object key of committed part ``number`` of ``key``."""
        return f"{self._parts_prefix(key)}{_check_number(number):08d}"

    def segment_key(self, key: str, index: int) -> str:
        """Return the object key of staged segment ``index`` of ``key``."""
        return f"{self._segments_prefix(key)}{index:08d}"

    def _parts_prefix(self, key: str) -> str:
        return self.location.object_key(f"{STAGING_DIRECTORY}/parts/{_check_key(key)}/")

    def _segments_prefix(self, key: str) -> str:
        return self.location.object_key(f"{STAGING_DIRECTORY}/file/{_check_key(key)}/")

    def upload(self, object_key: str, spool: Spool, metadata: dict[str, str]) -> None:
        """Upload a spool as ``object_key`` (one atomic replace), streaming from its file."""
        with translated(self.location, object_key):
            self._client.upload_fileobj(
                spool.rewind(),
                self.location.bucket,
                object_key,
                ExtraArgs={"Metadata": metadata},
                Config=self._reader.transfer_config(),
            )

    # --- parts -------------------------------------------------------------------------------

    def open_part(
        self,
        key: str,
        number: int,
        head: bytes | None = None,
        hashes: ResumableHashes | None = None,
    ) -> S3PartWriter:
        """Start part ``number``; a ``head`` is not kept (completing copies nothing here)."""
        self.part_key(key, number)  # checks the key and the number now
        return S3PartWriter(self, key, number, hashes)

    def list_parts(self, key: str) -> list[PartInfo]:
        prefix = self._parts_prefix(key)
        infos = []
        for object_key, _ in self._reader.list_objects(prefix):
            number = int(object_key[len(prefix) :])
            head = self._reader.head(object_key)
            if head is None:  # replaced or removed since the listing
                continue
            infos.append(self._part_info(object_key, number, head))
        return sorted(infos, key=lambda info: info.number)

    def _part_info(self, object_key: str, number: int, head: dict[str, Any]) -> PartInfo:
        size_bytes = int(head["ContentLength"])
        metadata = head.get("Metadata", {})
        if "sha256" in metadata and "md5" in metadata:
            return PartInfo(number, size_bytes, str(metadata["sha256"]), str(metadata["md5"]))
        # a server that keeps no user metadata (rclone on a plain directory): hash the bytes
        checksums = PartChecksums()
        for chunk in self._reader.read_object(object_key, 0, size_bytes):
            checksums.update(chunk)
        return PartInfo(number, size_bytes, *checksums.hexdigests())

    def read_part(self, key: str, number: int) -> Iterator[bytes]:
        object_key = self.part_key(key, number)
        size_bytes = self._reader.size_of(object_key, key)
        return self._reader.read_object(object_key, 0, size_bytes)

    def assemble(self, key: str, numbers: Sequence[int], head: bytes = b"") -> None:
        """Nothing: ``complete`` copies the parts on the server (``UploadPartCopy``)."""

    def complete(
        self, key: str, numbers: Sequence[int], head: bytes = b"", tail: bytes = b""
    ) -> int:
        prefix = self._parts_prefix(key)  # sizes from the listing: no HEAD per part
        sizes = {int(name[len(prefix) :]): size for name, size in self._reader.list_objects(prefix)}
        missing = [number for number in numbers if number not in sizes]
        if (missing or not sizes) and self.exists(key):
            # completed before, its parts removed (some only, when the store failed half-way)
            self._reader.delete_prefix(prefix)
            return self.size(key)
        if missing:
            raise ArtifactNotFoundError(
                f"part {missing[0]} of {key!r} is not committed", key=key, part=missing[0]
            )
        pieces: list[Piece] = [head] if head else []
        pieces += [ObjectPiece(self.part_key(key, n), sizes[n]) for n in numbers if sizes[n]]
        pieces += [tail] if tail else []
        size_bytes = self._publish(key, pieces)
        self._reader.delete_prefix(self._parts_prefix(key))
        # uploads an outage cut off before they could be aborted: of the file, or of a big part
        self._abort_uploads_of(key)
        return size_bytes

    def abort_parts(self, key: str) -> None:
        self._reader.delete_prefix(self._parts_prefix(key))
        self._abort_uploads_of(key)

    def _publish(self, key: str, pieces: Sequence[Piece]) -> int:
        object_key = self._object_key(key)
        with translated(self.location, key):
            return self._assembly.publish(object_key, pieces)

    # --- the single-writer path: staging, then publish ---------------------------------------

    def open_staging(self, key: str, offset_bytes: int = 0) -> S3StagingObject:
        prefix = self._segments_prefix(key)
        segments = self._reader.list_objects(prefix)
        if offset_bytes == 0:
            self._reader.delete_prefix(prefix)
            # an empty first segment: the staged artifact exists, with 0 bytes
            call(self.location, key, lambda: self._put(self.segment_key(key, 0), b""))
            return S3StagingObject(self, key, 1)
        total = sum(size for _, size in segments)
        if not segments or total < offset_bytes:
            raise ArtifactStagingError(
                f"staging artifact {key!r} has {total} bytes, fewer than the checkpoint's "
                f"{offset_bytes}",
                key=key,
                offset_bytes=offset_bytes,
            )
        last_index = self._cut_segments(segments, offset_bytes, prefix)
        return S3StagingObject(self, key, last_index + 1)

    def _cut_segments(self, segments: list[tuple[str, int]], offset_bytes: int, prefix: str) -> int:
        """Keep the segments' first ``offset_bytes``; return the index of the last one kept."""
        position, last_index = 0, 0
        for object_key, size_bytes in segments:
            if position >= offset_bytes and position > 0:
                self._reader.delete(object_key)
                continue
            last_index = int(object_key[len(prefix) :])
            if position + size_bytes > offset_bytes:
                self._shorten(object_key, offset_bytes - position)
            position += size_bytes
        return last_index

    def _shorten(self, object_key: str, keep_bytes: int) -> None:
        spool = Spool()
        try:
            for chunk in self._reader.read_object(object_key, 0, keep_bytes):
                spool.write(chunk)
            self.upload(object_key, spool, {})
        finally:
            spool.close()

    def staging_size(self, key: str) -> int:
        segments = self._reader.list_objects(self._segments_prefix(key))
        if not segments:
            raise ArtifactNotFoundError(f"no staged artifact {key!r}", key=key)
        return sum(size for _, size in segments)

    def read_staging(self, key: str, start_bytes: int, end_bytes: int) -> Iterator[bytes]:
        segments = self._reader.list_objects(self._segments_prefix(key))
        if not segments:
            raise ArtifactNotFoundError(f"no staged artifact {key!r}", key=key)
        return self._read_segments(segments, start_bytes, end_bytes)

    def _read_segments(
        self, segments: list[tuple[str, int]], start_bytes: int, end_bytes: int
    ) -> Iterator[bytes]:
        position = 0
        for object_key, size_bytes in segments:
            low, high = max(start_bytes - position, 0), min(end_bytes - position, size_bytes)
            if low < high:
                yield from self._reader.read_object(object_key, low, high)
            position += size_bytes

    def publish(self, key: str) -> int:
        prefix = self._segments_prefix(key)
        segments = self._reader.list_objects(prefix)
        if not segments:
            raise ArtifactNotFoundError(f"no staged artifact {key!r}", key=key)
        pieces: list[Piece] = [ObjectPiece(name, size) for name, size in segments if size]
        size_bytes = self._publish(key, pieces)
        self._reader.delete_prefix(prefix)
        return size_bytes

    def put(self, key: str, data: bytes) -> None:
        object_key = self._object_key(key)
        call(self.location, key, lambda: self._put(object_key, data))

    def _put(self, object_key: str, data: bytes) -> None:
        self._client.put_object(Bucket=self.location.bucket, Key=object_key, Body=data)

    def check_access(self) -> None:
        """List one key under the prefix, to learn now whether the bucket and credentials work.

        Raises ArtifactStoreDeniedError (refused, no such bucket) or BackendUnavailableError.
        """
        prefix = self.location.object_key("")
        with translated(self.location, prefix or "/"):
            self._client.list_objects_v2(Bucket=self.location.bucket, Prefix=prefix, MaxKeys=1)

    # --- reading, links, removal -------------------------------------------------------------

    def read(self, key: str, start_bytes: int = 0, end_bytes: int | None = None) -> Iterator[bytes]:
        return self._reader.open_published(self._object_key(key), key, start_bytes, end_bytes)

    def size(self, key: str) -> int:
        return self._reader.size_of(self._object_key(key), key)

    def exists(self, key: str) -> bool:
        return self._reader.head(self._object_key(key)) is not None

    def link(self, key: str, *, filename: str, expires_at: datetime) -> str | None:
        """Return a presigned GET of ``key`` until ``expires_at`` (at most 7 days, SigV4's limit)
        that names ``filename`` for the browser; None when links go through logsluice."""
        if not self._direct_links:
            return None
        seconds = int((expires_at - datetime.now(UTC)).total_seconds())
        quoted = filename.replace("\\", "_").replace('"', "_")
        parameters = {
            "Bucket": self.location.bucket,
            "Key": self._object_key(key),
            "ResponseContentDisposition": f'attachment; filename="{quoted}"',
        }
        url: str = self._client.generate_presigned_url(
            "get_object",
            Params=parameters,
            ExpiresIn=min(max(seconds, 1), MAXIMUM_PRESIGN_SECONDS),
        )
        return url

    def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        call(self.location, key, lambda: self._reader.delete(object_key))
        self._reader.delete_prefix(self._segments_prefix(key))
        self.abort_parts(key)

    def unfinished_uploads(self, older_than: datetime) -> list[UnfinishedUpload]:
        """Return the multipart uploads under the store's prefix started before ``older_than``
        and never completed or aborted (a worker died while publishing)."""
        prefix = self.location.object_key("")
        strip = len(prefix)
        return [
            UnfinishedUpload(object_key[strip:], upload_id, initiated_at)
            for object_key, upload_id, initiated_at in self._reader.list_uploads(prefix)
            if initiated_at < older_than and not object_key[strip:].startswith(STAGING_DIRECTORY)
        ]

    def abort_upload(self, upload: UnfinishedUpload) -> None:
        """Abort one unfinished upload; one finished or aborted meanwhile is fine."""
        self._reader.abort_upload(self.location.object_key(upload.key), upload.upload_id)

    def _abort_uploads_of(self, key: str) -> None:
        """Abort the unfinished uploads of ``key``'s file and of its parts (a part over 8 MiB
        goes up as a multipart upload, which an outage may leave behind)."""
        object_key = self._object_key(key)
        for found_key, upload_id, _ in self._reader.list_uploads(object_key):
            if found_key == object_key:
                self._reader.abort_upload(found_key, upload_id)
        for found_key, upload_id, _ in self._reader.list_uploads(self._parts_prefix(key)):
            self._reader.abort_upload(found_key, upload_id)
