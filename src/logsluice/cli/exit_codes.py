"""The exit codes of the ``logsluice`` client commands, one meaning each (``docs/cli.md``).

Scripts tell "the server said no" from "the server is down" from "the task failed" from "the user
pressed Ctrl-C" by these numbers alone.
"""

from __future__ import annotations

SUCCESS = 0
REFUSED = 1  # the server refused the request (a 4xx answer); its message is printed
USAGE = 2  # a bad option or argument (click's own code)
UNAVAILABLE = 3  # the server could not be reached, or failed (a 5xx answer)
RECORDS_REJECTED = 4  # ingest stored some records and rejected others
TASK_FAILED = 5  # the download task ended FAILED, CANCELLED or EXPIRED
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), the shells' convention


def of_status(status: int) -> int:
    """Return the exit code of a refused request: ``status`` 0 means no answer at all."""
    if status == 0 or status >= 500:
        return UNAVAILABLE
    return REFUSED
