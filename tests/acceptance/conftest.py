"""Fixtures of the acceptance tier: a real ``logsluice serve`` process and the real CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.integration.tasks_support import generate_records

LOGSLUICE = str(Path(sys.executable).parent / "logsluice")
# Generous: only a failing start waits this long, and a loaded machine starts serve slowly.
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    url: str
    data_dir: Path

    def read_printed_line(self) -> str:
        """Return the next line ``serve`` printed on stdout (the token, on a first start)."""
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def environment(self, token: str | None = None, **extra: str) -> dict[str, str]:
        """The environment of a CLI run against this server (no other LOGSLUICE_* variable)."""
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("LOGSLUICE_")
        }
        environment |= {"LOGSLUICE_SERVER": self.url, "LOGSLUICE_DATA_DIR": str(self.data_dir)}
        if token is not None:
            environment["LOGSLUICE_TOKEN"] = token
        return environment | extra

    def cli(
        self, *arguments: str, token: str | None = None, input_text: str | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """Run the real ``logsluice`` CLI against this server (``extra``: more variables)."""
        return subprocess.run(
            [LOGSLUICE, *arguments],
            capture_output=True,
            text=True,
            env=self.environment(token, **extra),
            timeout=120,
            input=input_text,
        )

    def start_cli(self, *arguments: str, **extra: str) -> subprocess.Popen[str]:
        """Start the real CLI in the background, its output piped."""
        return subprocess.Popen(
            [LOGSLUICE, *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environment(**extra),
        )

    def admin(self) -> httpx.Client:
        """An HTTP client of the native API with the admin token of this server's data dir."""
        token = (self.data_dir / "admin-token").read_text().strip()
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )


def start_server(
    data_dir: Path, *extra: str, environment: dict[str, str] | None = None
) -> RunningServer:
    """Start ``logsluice serve`` on a free port and wait until /healthz answers.

    ``environment`` adds ``LOGSLUICE_*`` settings; the caller's own are left out.
    """
    port = free_port()
    inherited = {
        key: value for key, value in os.environ.items() if not key.startswith("LOGSLUICE_")
    }
    environment = {**inherited, **(environment or {})}
    process = subprocess.Popen(
        [LOGSLUICE, "serve", "--port", str(port), "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"logsluice serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("logsluice serve did not answer /healthz in time")
    return RunningServer(process=process, url=url, data_dir=data_dir)


def local_lake_settings(data_dir: Path) -> dict[str, str]:
    """Settings that keep a server's records in a local DuckLake (SQLite catalog, data directory
    beside ``data_dir``): the vendor SDK tests run on the lake, the rest on the DuckDB file."""
    lake = data_dir.parent / "lake"
    url = f"ducklake:sqlite://{lake}/catalog.sqlite?data_path={lake}/data"
    return {"LOGSLUICE_LOG_STORE_URL": url}


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def running_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("server") / "data")
    yield server
    stop_server(server)


def create_access_key(
    server: RunningServer, token: str, project: str, role: str
) -> tuple[str, str]:
    """Create an access key with the real CLI; return its id and secret."""
    result = server.cli(
        "key", "create", "--project", project, "--role", role, "--json", token=token
    )
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["project"] == project
    return created["access_key_id"], created["access_key_secret"]


def load_app_records(admin: httpx.Client, project: str, count: int, *, seed: int) -> None:
    """Create ``project`` with a logstore ``app`` holding ``count`` generated records."""
    assert admin.post("/api/v1/projects", json={"name": project}).status_code == 201
    url = f"/api/v1/projects/{project}/logstores"
    assert admin.post(url, json={"name": "app"}).status_code == 201
    body = b"".join(orjson.dumps(record) + b"\n" for record in generate_records(count, seed=seed))
    assert admin.post(f"{url}/app/records", content=body).json()["accepted"] == count
