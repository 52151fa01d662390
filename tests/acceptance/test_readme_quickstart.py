"""The README's quickstart, run as written against a real ``logsluice serve``.

Every ``$ `` line of the Quickstart section's console blocks runs in one bash session (``set -e``)
in a fresh directory that has the project's ``.venv`` (so ``. .venv/bin/activate`` works as
written). Two things differ from a user's terminal, outside the commands: ``make install`` is
already done (only what follows its ``&&`` runs), and the server listens on a free port, which
``LOGSLUICE_PORT`` tells ``serve`` and ``LOGSLUICE_SERVER`` the client commands. Then the files
the quickstart made are opened as a user would: pandas, DuckDB and the ``csv`` module.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pandas as pd
import pytest
import zstandard

from tests.acceptance.conftest import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
VENV = Path(sys.executable).parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def quickstart_commands() -> list[str]:
    """Return the ``$`` command lines of the README's Quickstart section, continuations joined."""
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.DOTALL):
        pending = ""
        for line in block.splitlines():
            if line.startswith("$ "):
                pending = line[2:]
            elif pending:
                pending += "\n" + line
            if pending and not pending.endswith("\\"):
                commands.append(pending)
                pending = ""
    return commands


def _environment(port: int) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LOGSLUICE_", "VIRTUAL_ENV"))
    }
    environment["PATH"] = "/usr/bin:/bin"
    return environment | {
        "LOGSLUICE_PORT": str(port),
        "LOGSLUICE_SERVER": f"http://127.0.0.1:{port}",
    }


def _start_server(
    command: str, directory: Path, environment: dict[str, str]
) -> subprocess.Popen[str]:
    line = command.split("#", 1)[0]
    arguments = shlex.split(line)
    assert arguments[0] == "logsluice", line
    process = subprocess.Popen(
        [str(VENV / "bin" / "logsluice"), *arguments[1:]],
        cwd=directory,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = environment["LOGSLUICE_SERVER"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "logsluice serve exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("logsluice serve did not start")


def test_the_readme_quickstart_runs_as_written(tmp_path: Path) -> None:
    commands = quickstart_commands()
    serve = next(command for command in commands if command.startswith("logsluice serve"))
    assert commands[0].startswith("make install && ")
    (tmp_path / ".venv").symlink_to(VENV)
    environment = _environment(free_port())
    script = "\n".join(
        ["set -e", commands[0].removeprefix("make install && ")]
        + [command for command in commands[1:] if command != serve]
    )
    server = _start_server(serve, tmp_path, environment)
    try:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=800,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "warning:" not in result.stderr  # nothing past retention, no ignored option
    _check_the_exports(tmp_path)


def _check_the_exports(directory: Path) -> None:
    lines = (
        zstandard.ZstdDecompressor()
        .stream_reader(io.BytesIO((directory / "errors.jsonl.zst").read_bytes()))
        .read()
        .splitlines()
    )
    records = [json.loads(line) for line in lines]
    assert records
    assert {record["level"] for record in records} == {"ERROR"}
    assert isinstance(records[0]["http"], dict)
    assert isinstance(records[0]["http"]["status"], int)
    assert isinstance(records[0]["tags"], list)
    frame = pd.read_parquet(directory / "errors.parquet")
    assert len(frame) > 0
    assert all(row["status"] >= 500 for row in frame["http"])
    statuses = duckdb.sql(
        f"select min(http.status), count(*) from '{directory / 'errors.parquet'}'"
    ).fetchone()
    assert statuses is not None
    assert statuses[0] >= 500
    assert statuses[1] == len(frame)
    failed = pd.read_csv(directory / "failed-requests.csv")
    assert len(failed) > 0
    assert (failed["status"] >= 500).all()
    assert {"time_local", "request", "http_user_agent"} <= set(failed.columns)
