"""Publishing one object made of byte strings and other objects, atomically, by multipart upload.

An artifact is published from pieces: a head (a CSV header), the objects holding its parts or
staged segments, a tail (a Parquet footer). S3 publishes the concatenation atomically with
``CompleteMultipartUpload``, but every upload part but the last must hold at least 5 MiB, and
slices may be smaller. So the pieces are walked in order with a buffer: a stretch of at least 5 MiB
of one object, met with an empty buffer, becomes an ``UploadPartCopy`` of that byte range (the
server copies; nothing passes through logsluice); smaller stretches and the byte strings gather in
the buffer, which is topped up from the next object and sent as an ``UploadPart`` once it holds
5 MiB (more for a very large object, so it stays within S3's 10,000 parts). Memory stays
below two parts. Servers without ``UploadPartCopy`` (rclone) get the
streaming copy instead: every piece passes through the buffer. An object smaller than one part is
written with one ``PutObject``. A failure aborts the upload, so nothing is left half-published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from logsluice.adapters.artifacts.s3_client import error_code

MINIMUM_PART_BYTES = 5 * 1024 * 1024
# S3 allows 10,000 parts; the part size grows with the object so it stays below that
MOST_PARTS = 9000
MAXIMUM_COPY_BYTES = 5 * 1024 * 1024 * 1024
BUFFER_TARGET_BYTES = 8 * 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ObjectPiece:
    """The whole of an existing object of ``size_bytes`` bytes."""

    object_key: str
    size_bytes: int


Piece = bytes | ObjectPiece
ReadObject = Callable[[str, int, int], Iterator[bytes]]
"""Reads ``[start, end)`` of an object (by its object key)."""


@dataclass
class _Upload:
    client: Any
    bucket: str
    object_key: str
    upload_id: str
    parts: list[dict[str, Any]] = field(default_factory=list)

    def send(self, data: bytes) -> None:
        number = len(self.parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket,
            Key=self.object_key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def copy(self, source_key: str, start: int, end: int) -> None:
        """Copy ``[start, end)`` of ``source_key`` as the next part.

        Raises _CopyUnsupportedError when the server cannot (the upload is then started over).
        """
        number = len(self.parts) + 1
        try:
            answer = self.client.upload_part_copy(
                Bucket=self.bucket,
                Key=self.object_key,
                UploadId=self.upload_id,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": source_key},
                CopySourceRange=f"bytes={start}-{end - 1}",
            )
            etag = answer["CopyPartResult"]["ETag"]
        except KeyError as error:
            # the server took the request for a plain UploadPart (rclone): that part number now
            # holds nothing useful, so the whole upload starts over, streamed
            raise _CopyUnsupportedError from error
        except Exception as error:
            if _status(error) == 501 or error_code(error) == "NotImplemented":
                raise _CopyUnsupportedError from error
            raise
        self.parts.append({"PartNumber": number, "ETag": etag})


class _CopyUnsupportedError(Exception):
    """The server has no ``UploadPartCopy``."""


def _status(error: Exception) -> int:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return 0


class Assembly:
    """Writes one object from pieces; ``copy_parts`` False never asks for ``UploadPartCopy``."""

    def __init__(
        self, client: Any, bucket: str, read_object: ReadObject, *, copy_parts: bool = True
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._read_object = read_object
        self.copy_parts = copy_parts
        self._part_bytes = MINIMUM_PART_BYTES

    def publish(self, object_key: str, pieces: Sequence[Piece]) -> int:
        """Write the concatenation of ``pieces`` as ``object_key`` at once; return its size."""
        total = sum(len(p) if isinstance(p, bytes) else p.size_bytes for p in pieces)
        if total < MINIMUM_PART_BYTES:
            body = b"".join(self._bytes_of(piece) for piece in pieces)
            self._client.put_object(Bucket=self._bucket, Key=object_key, Body=body)
            return total
        self._part_bytes = max(MINIMUM_PART_BYTES, -(-total // MOST_PARTS))
        try:
            return self._multipart(object_key, pieces, total)
        except _CopyUnsupportedError:
            self.copy_parts = False
            return self._multipart(object_key, pieces, total)

    def _multipart(self, object_key: str, pieces: Sequence[Piece], total: int) -> int:
        answer = self._client.create_multipart_upload(Bucket=self._bucket, Key=object_key)
        upload = _Upload(self._client, self._bucket, object_key, answer["UploadId"])
        try:
            self._upload(upload, pieces)
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=object_key,
                UploadId=upload.upload_id,
                MultipartUpload={"Parts": upload.parts},
            )
        except BaseException:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=object_key, UploadId=upload.upload_id
            )
            raise
        return total

    def _bytes_of(self, piece: Piece) -> bytes:
        if isinstance(piece, bytes):
            return piece
        return b"".join(self._read_object(piece.object_key, 0, piece.size_bytes))

    def _upload(self, upload: _Upload, pieces: Sequence[Piece]) -> None:
        buffer = bytearray()
        for piece in pieces:
            if isinstance(piece, bytes):
                buffer += piece
                self._flush_full(upload, buffer)
            else:
                self._add_object(upload, buffer, piece)
        if buffer:
            upload.send(bytes(buffer))

    def _flush_full(self, upload: _Upload, buffer: bytearray) -> None:
        if len(buffer) >= self._part_bytes:
            upload.send(bytes(buffer))
            buffer.clear()

    def _add_object(self, upload: _Upload, buffer: bytearray, piece: ObjectPiece) -> None:
        position = 0
        while position < piece.size_bytes:
            remaining = piece.size_bytes - position
            if not buffer and remaining >= self._part_bytes and self.copy_parts:
                length = min(remaining, MAXIMUM_COPY_BYTES)
                upload.copy(piece.object_key, position, position + length)
                position += length
                continue
            if not self.copy_parts:
                wanted = max(BUFFER_TARGET_BYTES, self._part_bytes) - len(buffer)
            else:  # top the buffer up to one part, then copy the rest
                wanted = self._part_bytes - len(buffer) if buffer else remaining
            length = min(remaining, max(wanted, 1))
            for chunk in self._read_object(piece.object_key, position, position + length):
                buffer += chunk
            position += length
            self._flush_full(upload, buffer)
