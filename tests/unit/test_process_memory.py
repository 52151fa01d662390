"""serve and worker cap glibc's malloc arenas (logsluice.process_memory)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# Threads that each allocate and keep small blocks (from their arena, not mmap), then glibc's
# own report of its arenas (malloc_stats writes one "Arena N:" block per arena to stderr).
_PROGRAM = textwrap.dedent(
    """
    import ctypes, sys, threading
    from logsluice.process_memory import limit_malloc_arenas
    if sys.argv[1] == "limit":
        print(limit_malloc_arenas())
    kept = []
    def allocate():
        kept.append([bytearray(4096) for _ in range(200)])
    started = threading.Barrier(12)
    def allocate_together():
        started.wait()
        allocate()
    threads = [threading.Thread(target=allocate_together) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.stdout.flush()
    ctypes.CDLL(None).malloc_stats()
    """
)


def _arenas(mode: str, environment: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, mode],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    arenas = sum(line.startswith("Arena ") for line in done.stderr.splitlines())
    return done.stdout.strip(), arenas


@pytest.fixture
def environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "MALLOC_ARENA_MAX"}


def test_the_cap_keeps_a_threaded_process_to_two_arenas(environment: dict[str, str]) -> None:
    printed, arenas = _arenas("limit", environment)
    assert printed == "True"
    assert 1 <= arenas <= 2
    _, uncapped = _arenas("none", environment)
    assert uncapped > 2  # the same threads without the cap: one arena each, about


def test_an_operators_malloc_arena_max_is_left_alone(environment: dict[str, str]) -> None:
    printed, arenas = _arenas("limit", environment | {"MALLOC_ARENA_MAX": "4"})
    assert printed == "False"
    assert 2 < arenas <= 4
