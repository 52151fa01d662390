"""Frame-wise compressors: none, gzip, zstd and lz4, cutting their output into concatenable frames.

Every slice ends a frame (a gzip member, a zstd frame, an lz4 frame), so a resumed export appends
new frames after the last checkpoint and standard tools (``gzip -d``, ``zstd -d``, ``lz4 -d``)
decode the concatenation as one stream. zstd runs with worker threads (``threads=-1``) so
compression proceeds off the GIL beside encoding.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import lz4.frame
import zstandard

from logsluice.domain.errors import InvalidInputError
from logsluice.domain.export import Compression
from logsluice.pipeline.protocols import Chunk, Compressor

_GZIP_WINDOW_BITS = 31  # 16 + 15: a gzip header and trailer around a deflate stream
DEFAULT_LEVELS = {Compression.GZIP: 1, Compression.ZSTD: 1, Compression.LZ4: 0}
_LEVEL_RANGES = {Compression.GZIP: (1, 6), Compression.ZSTD: (1, 3), Compression.LZ4: (0, 12)}


class NoCompressor:
    """Passes bytes through unchanged."""

    file_suffix = ""

    def compress(self, data: Chunk) -> Chunk:
        return data

    def end_frame(self) -> Chunk:
        return b""


class GzipCompressor:
    """Writes one gzip member per frame (``zlib`` releases the GIL on large inputs)."""

    file_suffix = ".gz"

    def __init__(self, level: int = 1) -> None:
        self._level = level
        self._member: Any = None

    def compress(self, data: Chunk) -> Chunk:
        if self._member is None:
            self._member = zlib.compressobj(self._level, zlib.DEFLATED, _GZIP_WINDOW_BITS)
        return self._member.compress(data)  # type: ignore[no-any-return]

    def end_frame(self) -> Chunk:
        if self._member is None:
            return b""
        tail: bytes = self._member.flush(zlib.Z_FINISH)
        self._member = None
        return tail


class ZstdCompressor:
    """Writes one zstd frame per frame with multi-threaded compression (``threads=-1``)."""

    file_suffix = ".zst"

    def __init__(self, level: int = 1) -> None:
        self._compressor = zstandard.ZstdCompressor(level=level, threads=-1)
        self._frame: Any = None

    def compress(self, data: Chunk) -> Chunk:
        if self._frame is None:
            self._frame = self._compressor.compressobj()
        return self._frame.compress(data)  # type: ignore[no-any-return]

    def end_frame(self) -> Chunk:
        if self._frame is None:
            return b""
        tail: bytes = self._frame.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)
        self._frame = None
        return tail


class Lz4Compressor:
    """Writes one lz4 frame (with a content checksum) per frame."""

    file_suffix = ".lz4"

    def __init__(self, level: int = 0) -> None:
        self._level = level
        self._frame: Any = None

    def compress(self, data: Chunk) -> Chunk:
        if self._frame is None:
            self._frame = lz4.frame.LZ4FrameCompressor(
                compression_level=self._level, content_checksum=True
            )
            return self._frame.begin() + self._frame.compress(data)  # type: ignore[no-any-return]
        return self._frame.compress(data)  # type: ignore[no-any-return]

    def end_frame(self) -> Chunk:
        if self._frame is None:
            return b""
        tail: bytes = self._frame.flush()
        self._frame = None
        return tail


def build_compressor(compression: Compression, level: int | None = None) -> Compressor:
    """Return a compressor for ``compression`` at ``level`` (its default when None).

    Raises InvalidInputError when the level is outside the codec's allowed range (gzip 1–6,
    zstd 1–3, lz4 0–12).
    """
    if compression is Compression.NONE:
        return NoCompressor()
    chosen = DEFAULT_LEVELS[compression] if level is None else level
    lowest, highest = _LEVEL_RANGES[compression]
    if not lowest <= chosen <= highest:
        raise InvalidInputError(
            f"{compression} level must be between {lowest} and {highest}, not {chosen}",
            compression=str(compression),
            level=chosen,
        )
    factories: dict[Compression, Callable[[int], Compressor]] = {
        Compression.GZIP: GzipCompressor,
        Compression.ZSTD: ZstdCompressor,
        Compression.LZ4: Lz4Compressor,
    }
    return factories[compression](chosen)
