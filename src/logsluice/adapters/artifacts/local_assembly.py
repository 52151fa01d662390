"""How the local artifact store puts a file together from its parts: journal, copy and lock.

The parts are appended to the staging file one by one (``copy_file_range``: the kernel copies, no
bytes pass through Python), each removed once a journal (``assembly.json`` beside the parts)
records it, so putting a file together needs room for one part more than the parts take. The
journal lists the parts appended so far, so a later call — ``assemble`` while the export still
runs, or ``complete`` — continues where an earlier one got, also after a crash (the staging file
is cut back to the journal's size). One process at a time works on a key's parts: an exclusive
``flock`` on ``assembly.lock`` in the parts directory, also taken by whoever removes the parts, so
nothing is put together for a key whose parts are being deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

READ_CHUNK_BYTES = 1 << 20
COPY_CHUNK_BYTES = 1 << 30
ASSEMBLY_LOCK = "assembly.lock"


def sync_directory(path: Path) -> None:
    """Make the entries of the directory at ``path`` durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def assembly_lock(directory: Path) -> Iterator[bool]:
    """Hold the exclusive lock of the parts ``directory``; yield False (holding nothing) when
    the directory is gone, or was removed while this waited for the lock."""
    path = directory / ASSEMBLY_LOCK
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        yield False
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield path.exists()
    finally:
        os.close(descriptor)


def copy_into(target: BinaryIO, path: Path, size_bytes: int, start_bytes: int = 0) -> None:
    """Append ``size_bytes`` of the file at ``path``, from ``start_bytes`` on, to ``target``."""
    target.flush()
    with path.open("rb") as source:
        copied = 0
        try:
            while copied < size_bytes:
                count = os.copy_file_range(
                    source.fileno(),
                    target.fileno(),
                    min(COPY_CHUNK_BYTES, size_bytes - copied),
                    start_bytes + copied,
                )
                if count == 0:
                    break
                copied += count
        except OSError as error:
            if copied or error.errno not in NO_COPY_RANGE_ERRNOS:
                raise
        if copied < size_bytes:  # another file system, or no copy_file_range: copy in Python
            source.seek(start_bytes + copied)
            target.seek(0, os.SEEK_END)
            remaining = size_bytes - copied
            while remaining > 0:
                chunk = source.read(min(READ_CHUNK_BYTES, remaining))
                if not chunk:
                    break
                target.write(chunk)
                remaining -= len(chunk)


ASSEMBLY_JOURNAL = "assembly.json"


@dataclass(frozen=True, slots=True)
class Journal:
    """How far a completion got: the parts it publishes, how many are appended to the staging
    file (and removed), and the staging file's size after them."""

    numbers: list[int]
    appended: int
    size_bytes: int
    adopted: bool = False  # the first part's file became the staging file (head in front)


def read_journal(path: Path) -> Journal | None:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    return Journal(
        [int(n) for n in data["numbers"]],
        int(data["appended"]),
        int(data["size_bytes"]),
        bool(data.get("adopted", False)),
    )


def write_journal(path: Path, journal: Journal) -> None:
    """Replace the journal atomically and durably."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(
            json.dumps(
                {
                    "numbers": journal.numbers,
                    "appended": journal.appended,
                    "size_bytes": journal.size_bytes,
                    "adopted": journal.adopted,
                }
            ).encode()
        )
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    sync_directory(path.parent)


NO_COPY_RANGE_ERRNOS = frozenset({18, 22, 38, 95})  # EXDEV, EINVAL, ENOSYS, EOPNOTSUPP
