"""A real ``logsluice serve`` killed with SIGKILL in the middle of a multi-chunk ``logsluice
ingest``, restarted, and the same command run again: every record is stored exactly once (issue 12
item 9).

Before idempotency keys the re-run stored the chunks committed before the kill a second time
(2,917,504 rows for 2,000,000 ids). Each chunk now carries a key derived from its position and
bytes, recorded with its records in one transaction (ADR 0022).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.acceptance.conftest import RunningServer, start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROWS = 300_000
CHUNK_RECORDS = 10_000
PROJECT_URL = "/api/v1/projects/rerun"
LOGSTORE_URL = f"{PROJECT_URL}/logstores/events"
WHOLE_DAY = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}
COUNTS = "* | SELECT count(*) AS n, count(DISTINCT id) AS d"


def _write_records(path: Path) -> None:
    with path.open("wb") as records:
        for index in range(ROWS):
            second = index % 86_400
            moment = f"2026-03-01T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
            records.write(orjson.dumps({"timestamp": moment, "id": index, "n": index % 7}) + b"\n")


def _counts(server: RunningServer) -> tuple[int, int]:
    with server.admin() as admin:
        response = admin.post(f"{LOGSTORE_URL}/query", json={"query": COUNTS, **WHOLE_DAY})
    assert response.status_code == 200, response.text
    rows, distinct = response.json()["rows"][0]
    return int(rows), int(distinct)


def _stored(server: RunningServer) -> int:
    try:
        return _counts(server)[0]
    except (httpx.TransportError, AssertionError):
        return 0


def _ingest_arguments(path: Path) -> list[str]:
    return [
        "ingest",
        "--project",
        "rerun",
        "--logstore",
        "events",
        "--chunk-records",
        str(CHUNK_RECORDS),
        "--json",
        str(path),
    ]


def test_a_rerun_after_a_kill_stores_every_record_once(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    _write_records(records)
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    token = (data_dir / "admin-token").read_text().strip()
    with server.admin() as admin:
        assert admin.post("/api/v1/projects", json={"name": "rerun"}).status_code == 201
        response = admin.post(f"{PROJECT_URL}/logstores", json={"name": "events"})
        assert response.status_code == 201

    ingest = server.start_cli(*_ingest_arguments(records), LOGSLUICE_TOKEN=token)
    deadline = time.monotonic() + 300
    while _stored(server) < 3 * CHUNK_RECORDS and time.monotonic() < deadline:
        assert ingest.poll() is None, "the ingest ended before the server could be killed"
        time.sleep(0.05)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    ingest.wait(120)
    assert ingest.returncode != 0  # it lost its server mid-way

    restarted = start_server(data_dir)
    try:
        stored_before = _counts(restarted)
        assert 3 * CHUNK_RECORDS <= stored_before[0] < ROWS
        assert stored_before[0] == stored_before[1]  # whole chunks: each id at most once

        rerun = restarted.cli(*_ingest_arguments(records), token=token)
        assert rerun.returncode == 0, rerun.stderr
        summary = orjson.loads(rerun.stdout)
        assert (summary["accepted"], summary["rejected"]) == (ROWS, 0)

        assert _counts(restarted) == (ROWS, ROWS)  # each distinct id exactly once
        again = restarted.cli(*_ingest_arguments(records), token=token)
        assert again.returncode == 0, again.stderr
        assert _counts(restarted) == (ROWS, ROWS)  # a third run stores nothing either
    finally:
        stop_server(restarted)
