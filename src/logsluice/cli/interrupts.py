"""Ctrl-C as a message rather than an exception, while the CLI waits for a download task.

Inside :class:`Interrupts` a SIGINT only counts: a request in flight carries on (Python resumes
the interrupted system call), so the CLI still learns the id of a task it was creating, and the
code that waits decides what the presses mean (the first detaches, the second cancels). The
handler takes no lock, so it cannot deadlock with the output; when stderr is not a terminal it
writes the line ``messages`` holds for the press straight to the file descriptor (a terminal shows
it in the spinner instead). The ``hard_limit``-th press raises KeyboardInterrupt, the way out of a
server that never answers.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from types import FrameType
from typing import Any

_SLEEP_STEP_SECONDS = 0.05


class Interrupts:
    """Counts Ctrl-C presses while installed (a context manager; main thread only)."""

    def __init__(self, *, hard_limit: int = 3) -> None:
        self.count = 0
        self.messages: dict[int, str] = {}
        self._hard_limit = hard_limit
        self._previous: Any = None

    def __enter__(self) -> Interrupts:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signal_number: int, frame: FrameType | None) -> None:
        self.count += 1
        message = self.messages.get(self.count)
        if message is not None and not sys.stderr.isatty():
            os.write(sys.stderr.fileno(), f"\n{message}\n".encode())
        if self.count >= self._hard_limit:
            raise KeyboardInterrupt

    def sleep(self, seconds: float, *, until_count: int = 1) -> bool:
        """Sleep up to ``seconds``; return True as soon as ``count`` reaches ``until_count``."""
        deadline = time.monotonic() + seconds
        while self.count < until_count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(remaining, _SLEEP_STEP_SECONDS))
        return True
