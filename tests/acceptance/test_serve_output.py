"""``logsluice serve`` keeps answering when nobody reads its standard output.

Supervisors and test harnesses often read the token ``serve`` prints once on stdout and then leave
the pipe alone. A line written there per request (uvicorn's access log) fills the pipe after about
64 KiB and blocks the event loop: every later request hung until the client's 300 s timeout.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import start_server, stop_server

# Long request lines fill a 64 KiB pipe in a few requests if each one is written to stdout.
PADDING = "x" * 4000
REQUESTS = 60

pytestmark = pytest.mark.slow


def test_serve_answers_while_its_stdout_is_never_read(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")  # stdout is a pipe read only for the token
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for _ in range(REQUESTS):
                assert client.get("/healthz", params={"padding": PADDING}).status_code == 200
    finally:
        stop_server(server)
