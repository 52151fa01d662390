"""Cutting a byte stream into blocks of whole lines, about a given number of lines each.

Blocks are cut at the last newline of what was read (for CSV: the last newline outside quotes),
and the read size follows the average line length seen so far, so Python never walks the lines
one by one. Each block comes with the number of its first line and its line count.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

_FIRST_GUESS_BYTES_PER_LINE = 256


def line_blocks(
    stream: IO[bytes], chunk_records: int, *, quoted: bool = False
) -> Iterator[tuple[int, int, bytes]]:
    """Yield (first line number, line count, block) of whole lines, ~``chunk_records`` each.

    With ``quoted`` a block never ends inside a double-quoted CSV value.
    """
    first_line, pending, bytes_per_line = 1, b"", _FIRST_GUESS_BYTES_PER_LINE
    while True:
        wanted_bytes = max(chunk_records * bytes_per_line - len(pending), len(pending), 1)
        data = read_exactly(stream, wanted_bytes)
        buffer = pending + data
        cut = _cut_point(buffer, quoted) if data else len(buffer)
        if data and cut == 0:
            pending = buffer  # no complete line yet: a line longer than one read
            continue
        block, pending = buffer[:cut], buffer[cut:]
        line_count = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        if block and not block.isspace():
            yield first_line, line_count, block
        first_line += line_count
        bytes_per_line = max(1, len(block) // max(1, line_count))
        if not data:
            return


def _cut_point(buffer: bytes, quoted: bool) -> int:
    cut = buffer.rfind(b"\n") + 1
    while quoted and cut and buffer.count(b'"', 0, cut) % 2:
        cut = buffer.rfind(b"\n", 0, cut - 1) + 1
    return cut


def read_exactly(stream: IO[bytes], size_bytes: int) -> bytes:
    """Read ``size_bytes`` bytes, fewer only at the end of the stream."""
    parts: list[bytes] = []
    remaining = size_bytes
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)
