"""How a long-running logsluice process asks glibc's allocator to keep its memory.

glibc gives each new thread its own malloc arena (up to eight per core), and memory freed in an
arena is kept for reuse by that arena. A server whose export threads come and go (read-ahead,
encoders, output, per slice) and whose work moves between threads therefore holds freed buffers
in many arenas at once: measured, a 10 M-row export's serve peaked at 932 MiB with the default
arenas against 627 MiB with two, at the same speed (``docs/benchmarks.md``). So ``serve`` and
``worker`` cap the arenas at two (``mallopt(M_ARENA_MAX)``) when they start, unless the
operator set ``MALLOC_ARENA_MAX`` (glibc read it already) or the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_ARENA_MAX = -8  # glibc's malloc.h
DEFAULT_ARENAS = 2


def limit_malloc_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas``; return whether the cap was set by this call."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(arenas)))
