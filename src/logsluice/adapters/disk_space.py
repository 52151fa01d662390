"""Free disk space: the minimum logsluice leaves free, and the reserve given up when a disk fills.

A full disk must not wedge the service (ADR 0015). Two rules, both here:

- **Minimum free.** Whatever writes bulk data — the artifact store's staging files, the DuckDB log
  store's appends, compactions and deletes — first checks that the directory's filesystem keeps
  ``LOGSLUICE_DISK_MIN_FREE_BYTES`` free after the write, and refuses with DiskFullError
  (``disk_full``) otherwise; the artifact store checks again before every chunk it writes. So an
  export or an ingest stops *before* the filesystem is full, and the control plane (the SQLite task
  store, DuckDB's WAL) still has room to record it. An ``ENOSPC``/``EDQUOT`` from the operating
  system (another program filled the disk) is the same DiskFullError.
- **Reserve.** ``<data dir>/space-reserve`` holds ``LOGSLUICE_DISK_RESERVE_BYTES`` of allocated
  blocks. When the free space of its filesystem falls below the minimum (someone else filled it),
  :meth:`SpaceReserve.keep` deletes it, so the task store can still record failures, cancels and
  deletes; when the space is back above minimum plus reserve it allocates it again.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import structlog

from logsluice.domain.errors import DiskFullError

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
RESERVE_FILE_NAME = "space-reserve"


def is_disk_full(error: BaseException) -> bool:
    """Tell whether ``error`` is the operating system saying a filesystem (or quota) is full."""
    return isinstance(error, OSError) and error.errno in _FULL_ERRNOS


class DirectorySpace:
    """The free space of the filesystem holding one directory, against a minimum to keep free."""

    def __init__(self, directory: Path | str, min_free_bytes: int) -> None:
        self.directory = Path(directory)
        self.min_free_bytes = min_free_bytes

    def free_bytes(self) -> int:
        """Return the bytes an unprivileged writer may still use on the directory's filesystem."""
        stats = os.statvfs(self.directory)
        return stats.f_bavail * stats.f_frsize

    def ensure_room(self, writing_bytes: int = 0) -> None:
        """Raise DiskFullError unless writing ``writing_bytes`` leaves the minimum free."""
        free_bytes = self.free_bytes()
        if free_bytes - writing_bytes < self.min_free_bytes:
            raise DiskFullError(
                f"the disk holding {self.directory} is full: {free_bytes:,} bytes free, "
                f"{self.min_free_bytes:,} are kept free (LOGSLUICE_DISK_MIN_FREE_BYTES)",
                path=str(self.directory),
                free_bytes=free_bytes,
                min_free_bytes=self.min_free_bytes,
            )

    def full_error(self, error: OSError) -> DiskFullError:
        """Return the DiskFullError for an ``ENOSPC`` met while writing under the directory."""
        return DiskFullError(
            f"the disk holding {self.directory} is full: {error.strerror or error}",
            path=str(self.directory),
            free_bytes=0,
            min_free_bytes=self.min_free_bytes,
        )

    @contextmanager
    def translated(self) -> Iterator[None]:
        """Turn an ``ENOSPC``/``EDQUOT`` raised in the ``with`` block into DiskFullError."""
        try:
            yield
        except OSError as error:
            if is_disk_full(error):
                raise self.full_error(error) from error
            raise


class SpaceReserve:
    """A file of allocated blocks given up when its filesystem runs low, taken back later."""

    def __init__(self, space: DirectorySpace, size_bytes: int) -> None:
        self._space = space
        self.path = space.directory / RESERVE_FILE_NAME
        self.size_bytes = size_bytes
        self._logger = structlog.get_logger().bind(job="space_reserve", path=str(self.path))

    def keep(self) -> None:
        """Release the reserve when space is below the minimum; restore it once there is room."""
        if self.size_bytes <= 0:
            return
        free_bytes = self._space.free_bytes()
        if free_bytes < self._space.min_free_bytes:
            self.release()
        elif free_bytes >= self._space.min_free_bytes + self.size_bytes:
            self.restore()

    def release(self) -> bool:
        """Delete the reserve file; return whether there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        self._logger.warning("disk.reserve_released", reserve_bytes=self.size_bytes)
        return True

    def restore(self) -> bool:
        """Allocate the reserve file when it is missing; return whether it was made now."""
        if self.size_bytes <= 0 or self._reserved():
            return False
        partial = self.path.with_suffix(".partial")
        try:
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.posix_fallocate(descriptor, 0, self.size_bytes)
            finally:
                os.close(descriptor)
            os.replace(partial, self.path)
        except OSError as error:
            with suppress(OSError):
                partial.unlink()
            self._logger.warning("disk.reserve_not_made", error=str(error))
            return False
        self._logger.info("disk.reserve_made", reserve_bytes=self.size_bytes)
        return True

    def _reserved(self) -> bool:
        try:
            return self.path.stat().st_size >= self.size_bytes
        except FileNotFoundError:
            return False
