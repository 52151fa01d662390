"""The published OpenAPI document against the server, as an outside tester checks it: schemathesis
with every check, a fixed seed and bounded examples, against a real server holding data.

Schemathesis runs as its command line (``st run``), the way a tester would, with the repository's
``schemathesis.toml`` (ADR 0021) and the admin token. The server is the real app under uvicorn on
127.0.0.1 with a project, a logstore with records, and finished and queued tasks; half the runs
send the names of these, so the generated requests reach real resources, and half leave every
parameter to generation.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn

from logsluice.bootstrap import Server
from tests.integration.conftest import ServerFactory

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
REPOSITORY = Path(__file__).resolve().parents[2]
SEED = 20261206
MAX_EXAMPLES = 6


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_server(make_server: ServerFactory) -> Iterator[tuple[Server, str]]:
    """The app served by uvicorn on 127.0.0.1; yields it and its base URL."""
    server = make_server()
    port = _free_port()
    http_server = uvicorn.Server(
        uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=http_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not http_server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield server, f"http://127.0.0.1:{port}"
    http_server.should_exit = True
    thread.join(timeout=20)


def _load_data(base_url: str, token: str) -> tuple[str, str]:
    """Create project web, logstore app with 200 records and two tasks; return the id of the
    first once it succeeded, and the token of a download link to its file."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as admin:
        assert admin.post("/api/v1/projects", json={"name": "web"}).status_code == 201
        logstores = "/api/v1/projects/web/logstores"
        assert admin.post(logstores, json={"name": "app"}).status_code == 201
        records = [
            {"timestamp": 1772409600 + second, "status": 200 + second % 5, "message": "hello"}
            for second in range(200)
        ]
        body = b"\n".join(orjson.dumps(record) for record in records)
        assert admin.post(f"{logstores}/app/records", content=body).json()["accepted"] == 200
        task_ids = []
        for name in ("finished", "second"):
            spec = {"name": name, "logstore": "app", "from": 1772409600, "to": 1772409900}
            response = admin.post("/api/v1/projects/web/download-tasks", json=spec)
            assert response.status_code == 201, response.text
            task_ids.append(response.json()["id"])
        task_url = f"/api/v1/projects/web/download-tasks/{task_ids[0]}"
        deadline = time.monotonic() + 60
        while admin.get(task_url).json()["status"] != "SUCCEEDED":
            assert time.monotonic() < deadline, "the task did not finish"
            time.sleep(0.1)
        link = admin.get(f"{task_url}/link").json()["url"]
    return task_ids[0], link.rsplit("/", 1)[1]


def _run_schemathesis(
    config_file: Path, base_url: str, token: str
) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config_file),
        "--no-color",
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        "30",
    ]
    environment = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false"}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=240,
        env=environment,
        cwd=config_file.parent,  # its cache (.schemathesis/) stays out of the repository
        check=False,
    )


@pytest.mark.parametrize("with_known_names", [True, False], ids=["known-names", "generated"])
def test_schemathesis_finds_no_failure(
    live_server: tuple[Server, str], tmp_path: Path, with_known_names: bool
) -> None:
    server, base_url = live_server
    assert server.admin_token is not None
    token = server.admin_token.value
    task_id, link_token = _load_data(base_url, token)
    config = (REPOSITORY / "schemathesis.toml").read_text()
    if with_known_names:
        config = (
            "[parameters]\n"
            f'project = "web"\nlogstore = "app"\ntask_id = "{task_id}"\ntoken = "{link_token}"\n\n'
            + config
        )
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config)

    result = _run_schemathesis(config_file, base_url, token)

    report = result.stdout[-20_000:] + result.stderr[-5_000:]
    assert result.returncode == 0, report
    assert "No issues found" in result.stdout or "passed" in result.stdout, report
