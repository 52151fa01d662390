"""The object operations the S3 artifact store is built from: ranged reads, heads, listings,
batch deletes and the listing and aborting of multipart uploads, each with the client's errors
translated.

A ranged read is one GET streamed in chunks, so a reader sees one version of an object even while
it is replaced. Some servers (rclone) answer a ranged GET with the whole object and status 200;
the bytes before the range are then skipped here, so callers always get exactly the range.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from logsluice.adapters.artifacts.s3_client import S3Location, error_code, translated

READ_CHUNK_BYTES = 1024 * 1024
TRANSFER_CHUNK_BYTES = 8 * 1024 * 1024
TRANSFER_THREADS = 4
DELETE_BATCH = 1000


class ObjectReader:
    """Reads, lists and removes objects of one bucket."""

    def __init__(self, client: Any, location: S3Location) -> None:
        self._client = client
        self._location = location
        self._bucket = location.bucket

    def transfer_config(self) -> Any:
        """Return boto3's transfer settings: 8 MiB parts, 4 at a time (32 MiB in flight at most)."""
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=TRANSFER_CHUNK_BYTES,
            multipart_chunksize=TRANSFER_CHUNK_BYTES,
            max_concurrency=TRANSFER_THREADS,
        )

    def head(self, object_key: str) -> dict[str, Any] | None:
        """Return the object's HEAD answer, or None when there is no such object."""
        with translated(self._location, object_key):
            try:
                answer: dict[str, Any] = self._client.head_object(
                    Bucket=self._bucket, Key=object_key
                )
            except Exception as error:
                if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
        return answer

    def size_of(self, object_key: str, key: str) -> int:
        """Return the object's size. Raises ArtifactNotFoundError naming ``key``."""
        with translated(self._location, key):
            answer = self._client.head_object(Bucket=self._bucket, Key=object_key)
        return int(answer["ContentLength"])

    def open_published(
        self, object_key: str, key: str, start_bytes: int, end_bytes: int | None
    ) -> Iterator[bytes]:
        """Start reading ``[start_bytes, end_bytes)`` now (so a missing object fails here)."""
        if end_bytes is not None and end_bytes <= start_bytes:
            self.size_of(object_key, key)
            return iter(())
        answer = self._get(object_key, key, start_bytes, end_bytes)
        if answer is None:  # the range starts past the end
            return iter(())
        return self._stream(answer, start_bytes, end_bytes)

    def read_object(self, object_key: str, start_bytes: int, end_bytes: int) -> Iterator[bytes]:
        """Yield ``[start_bytes, end_bytes)`` of an object in chunks."""
        if end_bytes <= start_bytes:
            return
        answer = self._get(object_key, object_key, start_bytes, end_bytes)
        if answer is not None:
            yield from self._stream(answer, start_bytes, end_bytes)

    def _get(
        self, object_key: str, key: str, start_bytes: int, end_bytes: int | None
    ) -> dict[str, Any] | None:
        last = "" if end_bytes is None else str(end_bytes - 1)
        with translated(self._location, key):
            try:
                answer: dict[str, Any] = self._client.get_object(
                    Bucket=self._bucket, Key=object_key, Range=f"bytes={start_bytes}-{last}"
                )
            except Exception as error:
                if error_code(error) == "InvalidRange":
                    self.size_of(object_key, key)  # missing: not found; else an empty range
                    return None
                raise
        return answer

    def _stream(
        self, answer: dict[str, Any], start_bytes: int, end_bytes: int | None
    ) -> Iterator[bytes]:
        body = answer["Body"]
        skip = 0 if answer.get("ContentRange") else start_bytes  # the server sent it all
        remaining = None if end_bytes is None else end_bytes - start_bytes
        with translated(self._location, "(read)"):
            try:
                for chunk in body.iter_chunks(READ_CHUNK_BYTES):
                    if skip:
                        cut = min(skip, len(chunk))
                        chunk, skip = chunk[cut:], skip - cut
                    if remaining is not None:
                        chunk = chunk[:remaining]
                        remaining -= len(chunk)
                    if chunk:
                        yield chunk
                    if remaining == 0:
                        return
            finally:
                body.close()

    def list_objects(self, prefix: str) -> list[tuple[str, int]]:
        """Return the keys and sizes of the objects under ``prefix``, in key order."""
        found: list[tuple[str, int]] = []
        paginator = self._client.get_paginator("list_objects_v2")
        with translated(self._location, prefix):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                found += [(item["Key"], int(item["Size"])) for item in page.get("Contents", [])]
        return sorted(found)

    def delete(self, object_key: str) -> None:
        """Remove one object; an absent one is fine."""
        with translated(self._location, object_key):
            self._client.delete_object(Bucket=self._bucket, Key=object_key)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under ``prefix``, a thousand per request."""
        names = [name for name, _ in self.list_objects(prefix)]
        for first in range(0, len(names), DELETE_BATCH):
            batch = [{"Key": name} for name in names[first : first + DELETE_BATCH]]
            with translated(self._location, prefix):
                self._client.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True}
                )

    def list_uploads(self, prefix: str) -> list[tuple[str, str, datetime]]:
        """Return (object key, upload id, initiated) of the unfinished uploads under ``prefix``."""
        found = []
        paginator = self._client.get_paginator("list_multipart_uploads")
        with translated(self._location, prefix):
            try:
                for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                    for upload in page.get("Uploads", []):
                        initiated = upload["Initiated"]
                        found.append((upload["Key"], upload["UploadId"], initiated.astimezone(UTC)))
            except Exception as error:
                if error_code(error) != "NoSuchUpload":  # rclone's answer when there are none
                    raise
        return found

    def abort_upload(self, object_key: str, upload_id: str) -> None:
        """Abort an unfinished upload; one already gone is fine."""
        with translated(self._location, object_key):
            try:
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=object_key, UploadId=upload_id
                )
            except Exception as error:
                if error_code(error) not in ("NoSuchUpload", "404"):
                    raise
