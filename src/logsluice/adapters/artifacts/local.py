"""``LocalArtifactStore``: artifacts as files under one directory, for the embedded deployment.

Published artifacts live at ``<root>/<key>``; staging objects at ``<root>/.staging/<key>`` on the
same file system, so publishing is one ``os.replace`` after an ``fsync`` of the file, followed by an
``fsync`` of the directory. A published path therefore never shows a half-written file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from logsluice.adapters.disk_space import DirectorySpace
from logsluice.domain.errors import ArtifactNotFoundError, ArtifactStagingError, InvalidInputError
from logsluice.pipeline.protocols import Chunk

STAGING_DIRECTORY = ".staging"
READ_CHUNK_BYTES = 1 << 20


def _check_key(key: str) -> list[str]:
    segments = key.split("/")
    if not key or key.startswith("/") or any(s in ("", ".", "..") for s in segments):
        raise InvalidInputError(f"invalid artifact key {key!r}", key=key)
    if segments[0] == STAGING_DIRECTORY or "\x00" in key:
        raise InvalidInputError(f"invalid artifact key {key!r}", key=key)
    return segments


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _read_open_file(file: BinaryIO, start_bytes: int, end_bytes: int | None) -> Iterator[bytes]:
    """Yield ``[start_bytes, end_bytes)`` of an open file (to its end when None), then close it."""
    with file:
        size_bytes = os.fstat(file.fileno()).st_size
        end = size_bytes if end_bytes is None else min(end_bytes, size_bytes)
        file.seek(start_bytes)
        remaining = end - start_bytes
        while remaining > 0:
            chunk = file.read(min(READ_CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _open_for_reading(path: Path, key: str) -> BinaryIO:
    """Open now, so a missing artifact fails at the call and a later replace cannot mix versions."""
    try:
        return path.open("rb")
    except FileNotFoundError as error:
        raise ArtifactNotFoundError(f"no artifact {key!r}", key=key) from error


class LocalStagingObject:
    """An open staging file, appended to by the artifact writer; each write checks the space."""

    def __init__(self, file: BinaryIO, space: DirectorySpace) -> None:
        self._file = file
        self._space = space

    def write(self, data: Chunk) -> None:
        self._space.ensure_room(len(data))
        with self._space.translated():
            self._file.write(data)

    def sync(self) -> None:
        with self._space.translated():
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


class LocalArtifactStore:
    """Artifacts as files under ``root_directory`` (created when missing).

    Writes leave ``min_free_bytes`` free on its disk, or fail with DiskFullError (ADR 0015).
    """

    def __init__(self, root_directory: Path | str, *, min_free_bytes: int = 0) -> None:
        self._root = Path(root_directory)
        self._root.mkdir(parents=True, exist_ok=True)
        self._space = DirectorySpace(self._root, min_free_bytes)

    def _published_path(self, key: str) -> Path:
        return self._root.joinpath(*_check_key(key))

    def _staging_path(self, key: str) -> Path:
        return self._root.joinpath(STAGING_DIRECTORY, *_check_key(key))

    def open_staging(self, key: str, offset_bytes: int = 0) -> LocalStagingObject:
        path = self._staging_path(key)
        if offset_bytes == 0:
            with self._space.translated():
                path.parent.mkdir(parents=True, exist_ok=True)
                return LocalStagingObject(path.open("wb"), self._space)
        size_bytes = path.stat().st_size if path.exists() else -1
        if size_bytes < offset_bytes:
            raise ArtifactStagingError(
                f"staging artifact {key!r} has {max(size_bytes, 0)} bytes, fewer than the "
                f"checkpoint's {offset_bytes}",
                key=key,
                offset_bytes=offset_bytes,
            )
        file = path.open("r+b")
        file.truncate(offset_bytes)
        file.seek(offset_bytes)
        return LocalStagingObject(file, self._space)

    def staging_size(self, key: str) -> int:
        return self._stat(self._staging_path(key), key).st_size

    def read_staging(self, key: str, start_bytes: int, end_bytes: int) -> Iterator[bytes]:
        file = _open_for_reading(self._staging_path(key), key)
        return _read_open_file(file, start_bytes, end_bytes)

    def publish(self, key: str) -> int:
        staging = self._staging_path(key)
        size_bytes = self._stat(staging, key).st_size
        published = self._published_path(key)
        with self._space.translated():
            with staging.open("rb") as file:
                os.fsync(file.fileno())
            published.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, published)
            _sync_directory(published.parent)
        self._remove_if_empty(staging.parent)
        return size_bytes

    def put(self, key: str, data: bytes) -> None:
        staging = self.open_staging(key)
        try:
            staging.write(data)
            staging.sync()
        except BaseException:
            staging.close()
            self._staging_path(key).unlink(missing_ok=True)  # no empty file left on a full disk
            raise
        staging.close()
        self.publish(key)

    def read(self, key: str, start_bytes: int = 0, end_bytes: int | None = None) -> Iterator[bytes]:
        file = _open_for_reading(self._published_path(key), key)
        return _read_open_file(file, start_bytes, end_bytes)

    def size(self, key: str) -> int:
        return self._stat(self._published_path(key), key).st_size

    def exists(self, key: str) -> bool:
        return self._published_path(key).is_file()

    def delete(self, key: str) -> None:
        for path in (self._published_path(key), self._staging_path(key)):
            path.unlink(missing_ok=True)
            self._remove_if_empty(path.parent)

    def _remove_if_empty(self, directory: Path) -> None:
        """Remove a key's directory (a task's) once its last file went, so none pile up empty."""
        if directory in (self._root, self._root / STAGING_DIRECTORY):
            return
        with contextlib.suppress(OSError):  # not empty (or already gone)
            directory.rmdir()

    @staticmethod
    def _stat(path: Path, key: str) -> os.stat_result:
        try:
            return path.stat()
        except FileNotFoundError as error:
            raise ArtifactNotFoundError(f"no artifact {key!r}", key=key) from error
