"""A real ``serve``'s peak memory stays bounded on hostile ingest bodies (issue 12, items 1 and 3).

The bound is a correctness bound, far above what these requests need once bounded (about
+100 MiB for the wide record, +400 MiB for the bomb) and far below what they cost unbounded (a
10,000-field record grew ``serve`` to 22.9 GB; a 1 GiB zstd bomb cost +2.4 GB).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import zstandard

from tests.acceptance.conftest import RunningServer, start_server, stop_server

GIBIBYTE = 1024 * 1024 * 1024
TIME = "2026-11-05T12:00:00Z"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("memory") / "data")
    yield running
    stop_server(running)


def _status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no {field}")


def _growth_bytes(server: RunningServer, send: object) -> int:
    """Reset the server's peak (clear_refs 5), run ``send`` and return how far the peak rose."""
    pid = server.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status_bytes(pid, "VmRSS")
    assert callable(send)
    send()
    return _status_bytes(pid, "VmHWM") - before


def _logstore(server: RunningServer, name: str) -> str:
    with server.admin() as admin:
        admin.post("/api/v1/projects", json={"name": "memory"})
        response = admin.post(
            "/api/v1/projects/memory/logstores", json={"name": name, "time_field": "time"}
        )
        assert response.status_code == 201, response.text
    return f"/api/v1/projects/memory/logstores/{name}/records"


def test_a_record_of_ten_thousand_fields_leaves_memory_bounded(server: RunningServer) -> None:
    url = _logstore(server, "wide")
    record = {"time": TIME} | {f"field_{index:05d}": f"v{index}" for index in range(10_000)}
    answers = []

    def send() -> None:
        with server.admin() as admin:
            answers.append(admin.post(url, json=[record]))

    assert _growth_bytes(server, send) < GIBIBYTE
    assert answers[0].status_code == 413
    assert answers[0].json()["error"]["code"] == "too_many_fields"
    with server.admin() as admin:
        assert admin.get("/healthz").status_code == 200


def test_a_zstd_bomb_leaves_memory_bounded(server: RunningServer) -> None:
    url = _logstore(server, "bomb")
    line = b'{"time": "2026-11-05T12:00:00Z", "message": "' + b"a" * 200 + b'"}\n'
    compressor = zstandard.ZstdCompressor(level=19).compressobj()
    block = line * (1024 * 1024 // len(line))
    bomb = b"".join(compressor.compress(block) for _ in range(1024)) + compressor.flush()
    answers = []

    def send() -> None:
        with server.admin() as admin:
            answers.append(admin.post(url, content=bomb, headers={"Content-Encoding": "zstd"}))

    assert _growth_bytes(server, send) < GIBIBYTE
    assert answers[0].status_code == 413
    assert "LOGSLUICE_INGEST_MAX_DECODED_BYTES" in answers[0].json()["error"]["message"]
    assert "268,435,456 bytes" in answers[0].json()["error"]["message"]
    with server.admin() as admin:
        assert admin.get("/healthz").status_code == 200
        record = orjson.dumps({"time": TIME, "message": "after the bomb"})
        assert admin.post(url, content=record).json()["accepted"] == 1


def test_cli_ingest_of_a_deeply_nested_array_prints_a_clear_error(
    server: RunningServer, tmp_path: Path
) -> None:
    _logstore(server, "deep")
    token = (server.data_dir / "admin-token").read_text().strip()
    deep = tmp_path / "deep.json"
    deep.write_bytes(
        b'[{"time": "' + TIME.encode() + b'", "v": ' + b"[" * 1000 + b"]" * 1000 + b"}]"
    )
    result = server.cli("ingest", "-p", "memory", "-l", "deep", str(deep), token=token)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "element 1 cannot be sent: it nests too deep" in result.stderr + result.stdout
