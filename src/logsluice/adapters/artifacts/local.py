"""``LocalArtifactStore``: artifacts as files under one directory, for the embedded deployment.

Published artifacts live at ``<root>/<key>``; staging objects at ``<root>/.staging/<key>`` on the
same file system, so publishing is one ``os.replace`` after an ``fsync`` of the file, followed by an
``fsync`` of the directory. A published path therefore never shows a half-written file.

Parts (:meth:`LocalArtifactStore.open_part`) live in ``<root>/.staging/<key>.parts/``: an attempt
writes ``<number>.<random>.tmp`` and its commit appends a 72-byte trailer (sha256, md5, size, the
length of a head in front of the part, magic) and renames it to ``<number>.part`` in one
``os.replace``, so a part and its checksums are committed together and listing reads only
trailers. ``assemble`` (while the export runs) and ``complete`` move head and parts into the
staging file (``local_assembly``: ``copy_file_range`` under a journal), and ``complete`` adds the
tail and publishes it.

The first part of a file may be written with the artifact's head in front of it (``open_part``'s
``head``): putting the file together then starts by renaming that part's file into the staging
file, which the journal records first (*adopting* it), instead of copying it and making the copy
durable a second time. A task of one slice, the most common, is published without its bytes being
copied or synced twice.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from logsluice.adapters.artifacts.checksums import PartChecksums
from logsluice.adapters.artifacts.local_assembly import (
    ASSEMBLY_JOURNAL,
    READ_CHUNK_BYTES,
    Journal,
    assembly_lock,
    copy_into,
    read_journal,
    sync_directory,
    write_journal,
)
from logsluice.adapters.disk_space import DirectorySpace
from logsluice.domain.errors import ArtifactNotFoundError, ArtifactStagingError, InvalidInputError
from logsluice.pipeline.protocols import Chunk, PartInfo

if TYPE_CHECKING:
    from logsluice.pipeline.resumable_hash import ResumableHashes

STAGING_DIRECTORY = ".staging"
PARTS_SUFFIX = ".parts"
PART_MAGIC = b"LSPART02"
_TRAILER = struct.Struct("<32s16sQQ8s")  # sha256, md5, part size, head size in front, magic
_OLD_MAGIC = b"LSPART01"  # parts committed before heads could go in front: no head size
_OLD_TRAILER = struct.Struct("<32s16sQ8s")


def _check_key(key: str) -> list[str]:
    segments = key.split("/")
    if not key or key.startswith("/") or any(s in ("", ".", "..") for s in segments):
        raise InvalidInputError(f"invalid artifact key {key!r}", key=key)
    if segments[0] == STAGING_DIRECTORY or "\x00" in key:
        raise InvalidInputError(f"invalid artifact key {key!r}", key=key)
    return segments


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

    @property
    def file(self) -> BinaryIO:
        """The open file (for copies the kernel makes)."""
        return self._file

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


class LocalPartWriter:
    """One attempt at a part: a temporary file renamed into place, with its trailer, on commit.

    ``head`` (the artifact's head, for the file's first part) is written in front of the part's
    bytes; it is not part of the part (its size and checksums) and lets ``assemble`` adopt the
    file as the staging file."""

    def __init__(
        self,
        directory: Path,
        number: int,
        space: DirectorySpace,
        head: bytes = b"",
        hashes: ResumableHashes | None = None,
    ) -> None:
        self._directory = directory
        self._number = number
        self._space = space
        self._head_bytes = len(head)
        self._path = directory / f"{number:08d}.{secrets.token_hex(4)}.tmp"
        with space.translated():
            directory.mkdir(parents=True, exist_ok=True)
            self._file: BinaryIO | None = self._path.open("wb")
            self._file.write(head)
        self._checksums = PartChecksums(hashes)
        self._size_bytes = 0

    def write(self, data: Chunk) -> None:
        file = self._open_file()
        self._space.ensure_room(len(data))
        with self._space.translated():
            file.write(data)
        self._checksums.update(data)
        self._size_bytes += len(data)

    def commit(self) -> PartInfo:
        file = self._open_file()
        sha256, md5 = self._checksums.hexdigests()
        info = PartInfo(self._number, self._size_bytes, sha256, md5)
        with self._space.translated():
            file.write(
                _TRAILER.pack(
                    bytes.fromhex(sha256),
                    bytes.fromhex(md5),
                    self._size_bytes,
                    self._head_bytes,
                    PART_MAGIC,
                )
            )
            file.flush()
            os.fsync(file.fileno())
            file.close()
            self._file = None
            os.replace(self._path, self._directory / _part_name(self._number))
            sync_directory(self._directory)
        return info

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._path.unlink(missing_ok=True)

    def _open_file(self) -> BinaryIO:
        if self._file is None:
            raise ArtifactStagingError("the part writer is closed", number=self._number)
        return self._file


def _part_name(number: int) -> str:
    return f"{number:08d}.part"


@dataclass(frozen=True, slots=True)
class _Trailer:
    """What a committed part file's trailer says."""

    size_bytes: int
    sha256: bytes
    md5: bytes
    head_bytes: int = 0  # the artifact's head, in front of the part's bytes


def _read_trailer(path: Path) -> _Trailer:
    """Return what the trailer of the committed part file at ``path`` says."""
    with path.open("rb") as file:
        file.seek(-_TRAILER.size, os.SEEK_END)
        data = file.read(_TRAILER.size)
    if data[-len(PART_MAGIC) :] == PART_MAGIC:
        sha256, md5, size_bytes, head_bytes, _ = _TRAILER.unpack(data)
        return _Trailer(size_bytes, sha256, md5, head_bytes)
    if data[-len(_OLD_MAGIC) :] == _OLD_MAGIC:
        sha256, md5, size_bytes, _ = _OLD_TRAILER.unpack(data[-_OLD_TRAILER.size :])
        return _Trailer(size_bytes, sha256, md5)
    raise ArtifactStagingError(f"part file {path.name} has no valid trailer")


def _starts_with(path: Path, head: bytes, head_bytes: int) -> bool:
    """Return whether the part file at ``path`` holds exactly ``head`` in front of its part."""
    if head_bytes != len(head):
        return False
    with path.open("rb") as file:
        return file.read(head_bytes) == head


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
            sync_directory(published.parent)
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

    # --- parts -------------------------------------------------------------------------------

    def _parts_directory(self, key: str) -> Path:
        segments = _check_key(key)
        segments[-1] += PARTS_SUFFIX
        return self._root.joinpath(STAGING_DIRECTORY, *segments)

    def open_part(
        self,
        key: str,
        number: int,
        head: bytes | None = None,
        hashes: ResumableHashes | None = None,
    ) -> LocalPartWriter:
        """Start an attempt at part ``number``; see :meth:`ArtifactStore.open_part`. A ``head``
        is written in front of the part, so that the part's file can become the file (see the
        module's docstring)."""
        if number < 1:
            raise InvalidInputError(f"part numbers start at 1, not {number}", number=number)
        return LocalPartWriter(self._parts_directory(key), number, self._space, head or b"", hashes)

    def list_parts(self, key: str) -> list[PartInfo]:
        """Return the committed parts of ``key`` in ascending number."""
        directory = self._parts_directory(key)
        if not directory.is_dir():
            return []
        infos = []
        for path in sorted(directory.glob("*.part")):
            trailer = _read_trailer(path)
            infos.append(
                PartInfo(
                    int(path.name.split(".")[0]),
                    trailer.size_bytes,
                    trailer.sha256.hex(),
                    trailer.md5.hex(),
                )
            )
        return infos

    def read_part(self, key: str, number: int) -> Iterator[bytes]:
        """Yield the committed bytes of part ``number``; ArtifactNotFoundError when absent."""
        path = self._parts_directory(key) / _part_name(number)
        file = _open_for_reading(path, f"{key} part {number}")
        trailer = _read_trailer(path)
        return _read_open_file(file, trailer.head_bytes, trailer.head_bytes + trailer.size_bytes)

    def assemble(self, key: str, numbers: Sequence[int], head: bytes = b"") -> None:
        """Append ``head`` and the parts ``numbers`` (the first parts of the file, in its order)
        to the staging file now, each removed once the journal records it; see
        :meth:`ArtifactStore.assemble`. Does nothing once the parts are gone."""
        directory = self._parts_directory(key)
        with assembly_lock(directory) as held:
            if held and not self.exists(key):
                self._append_parts(key, directory, numbers, head)

    def complete(
        self, key: str, numbers: Sequence[int], head: bytes = b"", tail: bytes = b""
    ) -> int:
        """Publish head + parts + tail as ``key`` atomically; see :meth:`ArtifactStore.complete`.

        The parts are moved into the staging file one after another (continuing where
        :meth:`assemble` or a completion that died part-way got), each removed once a journal
        records it, so publishing needs room for one part more than the parts take, not for a
        second copy of the whole file (``local_assembly``).
        """
        directory = self._parts_directory(key)
        if not directory.is_dir() and self.exists(key):
            return self.size(key)  # completed before (maybe by a run that died just after)
        with self._space.translated():
            directory.mkdir(parents=True, exist_ok=True)
        with assembly_lock(directory) as held:
            if not held:  # removed meanwhile: published by another completer, or deleted
                return self.size(key)
            journal = read_journal(directory / ASSEMBLY_JOURNAL)
            if (
                journal is not None
                and journal.appended == len(numbers)
                and self.exists(key)
                and not self._staging_path(key).exists()
            ):  # published; only the clean-up was left
                self._remove_parts(directory)
                return self.size(key)
            if journal is None and self.exists(key) and not any(directory.glob("*.part")):
                self._remove_parts(directory)
                return self.size(key)  # completed before
            journal = self._append_parts(key, directory, numbers, head)
            staging = self.open_staging(key, journal.size_bytes)
            try:
                self._space.ensure_room(len(tail))
                staging.write(tail)
                staging.sync()
            finally:
                staging.close()
            size_bytes = self.publish(key)
            self._remove_parts(directory)
        self._remove_if_empty(directory.parent)
        return size_bytes

    def _append_parts(
        self, key: str, directory: Path, numbers: Sequence[int], head: bytes
    ) -> Journal:
        """Append to the staging file (begun with ``head``) those of ``numbers`` the journal does
        not list yet; return the journal after them. Holds the parts' lock."""
        journal_path = directory / ASSEMBLY_JOURNAL
        journal = read_journal(journal_path)
        done = 0 if journal is None else min(journal.appended, len(numbers))
        if journal is not None and journal.numbers[:done] != list(numbers)[:done]:
            journal = None  # another completion's journal: its parts are gone, start afresh
        if journal is None:
            self._check_parts(key, directory, numbers)
            journal = self._adopt_first(key, directory, numbers, head)
        if journal is None:
            self._space.ensure_room(len(head))
            staging = self.open_staging(key)
            journal = Journal(list(numbers), appended=0, size_bytes=len(head))
            try:
                staging.write(head)
                staging.sync()
            finally:
                staging.close()
            write_journal(journal_path, journal)
        elif journal.adopted and not self._staging_path(key).exists():
            self._rename_adopted(key, directory, journal)  # a run died before the rename
        if journal.appended >= len(numbers):
            return journal
        journal = Journal(list(numbers), journal.appended, journal.size_bytes, journal.adopted)
        self._check_parts(key, directory, numbers[journal.appended :])
        staging = self.open_staging(key, journal.size_bytes)
        try:
            for number in numbers[journal.appended :]:
                path = directory / _part_name(number)
                trailer = _read_trailer(path)  # a head in front (not adopted) is left out
                size_bytes = trailer.size_bytes
                self._space.ensure_room(size_bytes)
                with self._space.translated():
                    copy_into(staging.file, path, size_bytes, trailer.head_bytes)
                staging.sync()
                journal = Journal(
                    journal.numbers,
                    journal.appended + 1,
                    journal.size_bytes + size_bytes,
                    journal.adopted,
                )
                write_journal(journal_path, journal)
                path.unlink()
        finally:
            staging.close()
        return journal

    def _adopt_first(
        self, key: str, directory: Path, numbers: Sequence[int], head: bytes
    ) -> Journal | None:
        """Make the first part's file the staging file when it holds ``head`` in front of the
        part: record that in the journal, then rename it (the trailer is cut off when the
        staging file is next opened at the journal's size). None when it does not."""
        if not numbers:
            return None
        path = directory / _part_name(numbers[0])
        trailer = _read_trailer(path)
        if not _starts_with(path, head, trailer.head_bytes):
            return None
        journal = Journal(
            list(numbers), appended=1, size_bytes=len(head) + trailer.size_bytes, adopted=True
        )
        write_journal(directory / ASSEMBLY_JOURNAL, journal)
        self._rename_adopted(key, directory, journal)
        return journal

    def _rename_adopted(self, key: str, directory: Path, journal: Journal) -> None:
        """Rename the adopted first part's file to the staging file."""
        staging = self._staging_path(key)
        with self._space.translated():
            staging.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(directory / _part_name(journal.numbers[0]), staging)
            except FileNotFoundError as error:
                raise ArtifactNotFoundError(
                    f"the first part of {key!r} is gone", key=key, parts=journal.numbers[:1]
                ) from error
            sync_directory(staging.parent)
            sync_directory(directory)

    def _check_parts(self, key: str, directory: Path, numbers: Sequence[int]) -> None:
        missing = [number for number in numbers if not (directory / _part_name(number)).is_file()]
        if missing:
            raise ArtifactNotFoundError(
                f"parts {missing} of {key!r} are not committed", key=key, parts=missing
            )

    def abort_parts(self, key: str) -> None:
        """Remove every part of ``key`` (committed or being written), after any assembling."""
        directory = self._parts_directory(key)
        with assembly_lock(directory):
            self._remove_parts(directory)
        self._remove_if_empty(directory.parent)

    @staticmethod
    def _remove_parts(directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)

    def link(self, key: str, *, filename: str, expires_at: datetime) -> str | None:
        """None: local artifacts are downloaded through logsluice's own signed links."""
        _check_key(key)
        return None

    def delete(self, key: str) -> None:
        self.abort_parts(key)
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
