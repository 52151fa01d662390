"""Bench: ``logsluice serve`` killed with SIGKILL during ingests — what a 200 and a retry give.

Usage::

    .venv/bin/python bench/reliability/ingest_kills.py [--rows 2000000] [--chunk-records 50000]
        [--kills 5] [--requests 200] [--seed 1] [--work-dir DIR]

Two parts, each on a real ``serve`` over one data directory, restarted after every kill:

- ``cli``: ``logsluice ingest`` of a JSON Lines file of ``--rows`` records with distinct ids; the
  server is killed at ``--kills`` random moments while the command runs, and after each restart
  the same command is run again, until one run completes. Then the rows and distinct ids are
  counted: with the chunk keys (ADR 0022) each id is stored exactly once.
- ``http``: ``--requests`` batches of 100 records, each sent with its own ``Idempotency-Key``;
  the server is killed right after a random 200, restarted, and every batch is sent again with its
  key. Every batch answered 200 before a kill must be there after it (a 200 is durable), and the
  re-sent batches must be replayed, not stored twice.

The figures in ``docs/reliability.md`` ("Kill during ingest") come from this script.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from restarts import ServerPool, kill
from serving import (
    LOGSLUICE,
    BenchError,
    RunningServer,
    call,
    create_logstore,
    describe_run,
    server_environment,
)

PROJECT = "kills"
LOGSTORE = "events"
LOGSTORE_URL = f"/api/v1/projects/{PROJECT}/logstores/{LOGSTORE}"
WHOLE_RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
COUNTS = "* | SELECT count(*) AS n, count(DISTINCT id) AS d"
BATCH_RECORDS = 100


def _record(index: int) -> bytes:
    second = index % (30 * 86_400)
    day, rest = divmod(second, 86_400)
    moment = f"2026-03-{day + 1:02d}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}Z"
    return orjson.dumps({"timestamp": moment, "id": index, "level": "INFO", "n": index % 97})


def _counts(server: RunningServer) -> tuple[int, int]:
    with server.client() as client:
        body = {"query": COUNTS, **WHOLE_RANGE}
        result = call(client, "POST", f"{LOGSTORE_URL}/query", json=body)
    rows, distinct = result["rows"][0]
    return int(rows), int(distinct)


POOL = ServerPool()


def _start(data_dir: Path) -> RunningServer:
    return POOL.start(data_dir)


def _stored(server: RunningServer) -> int:
    """Rows stored so far (0 before the first chunk has given the logstore its fields)."""
    try:
        return _counts(server)[0]
    except BenchError:
        return 0


def _ingest_command(path: Path, chunk_records: int) -> list[str]:
    return [
        str(LOGSLUICE),
        "ingest",
        "--project",
        PROJECT,
        "--logstore",
        LOGSTORE,
        "--chunk-records",
        str(chunk_records),
        "--json",
        str(path),
    ]


def _run_cli(server: RunningServer, command: list[str]) -> subprocess.Popen[bytes]:
    environment = server_environment(server.token, {}) | {
        "LOGSLUICE_SERVER": server.url,
        "LOGSLUICE_TOKEN": server.token,
    }
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environment
    )


def cli_part(work: Path, rows: int, chunk_records: int, kills: int, rng: random.Random) -> None:
    records = work / "records.jsonl"
    with records.open("wb") as output:
        for index in range(rows):
            output.write(_record(index) + b"\n")
    data_dir = work / "cli-data"
    server = _start(data_dir)
    with server.client() as client:
        create_logstore(client, PROJECT, LOGSTORE, "timestamp")
    command = _ingest_command(records, chunk_records)
    started = time.monotonic()
    killed = 0
    runs = 0
    while True:
        runs += 1
        ingest = _run_cli(server, command)
        if killed < kills:
            stored = _stored(server)
            target = rng.randrange(stored + chunk_records, max(rows, stored + 2 * chunk_records))
            while ingest.poll() is None and stored < target:
                time.sleep(0.2)
                stored = _stored(server)
            if ingest.poll() is None:
                kill(server)
                killed += 1
                ingest.wait()
                print(f"  kill {killed}: serve killed with {stored:,} rows stored; restarting")
                server = _start(data_dir)
                continue
        ingest.wait()
        if ingest.returncode == 0:
            summary = orjson.loads(ingest.stdout.read() if ingest.stdout else b"{}")
            break
        print(f"  run {runs} ended with {ingest.returncode}; again")
    elapsed = time.monotonic() - started
    stored_rows, distinct = _counts(server)
    server.stop()
    print(
        f"cli: {rows:,} records in chunks of {chunk_records:,}, serve killed {killed} times, "
        f"{runs} runs of the same command, {elapsed:.1f} s in all: {stored_rows:,} rows, "
        f"{distinct:,} distinct ids; last run reported accepted {summary.get('accepted', 0):,}"
    )


def _batch(index: int) -> bytes:
    first = 10_000_000 + index * BATCH_RECORDS
    return b"".join(_record(first + offset) + b"\n" for offset in range(BATCH_RECORDS))


def _send(client: httpx.Client, index: int) -> httpx.Response:
    return client.post(
        f"{LOGSTORE_URL}/records",
        content=_batch(index),
        headers={"Content-Type": "application/x-ndjson", "Idempotency-Key": f"batch-{index}"},
    )


def http_part(work: Path, requests: int, rng: random.Random) -> None:
    data_dir = work / "http-data"
    server = _start(data_dir)
    with server.client() as client:
        create_logstore(client, PROJECT, LOGSTORE, "timestamp")
    kill_after = rng.randrange(requests // 4, requests)
    answered: list[int] = []
    with server.client() as client:
        for index in range(requests):
            if _send(client, index).status_code == 200:
                answered.append(index)
            if index == kill_after:
                kill(server)
                break
    server = _start(data_dir)
    durable = _counts(server)[0] == len(answered) * BATCH_RECORDS
    replayed = 0
    with server.client() as client:
        for index in range(requests):
            response = _send(client, index)
            replayed += response.headers.get("Idempotent-Replayed") == "true"
    stored_rows, distinct = _counts(server)
    server.stop()
    print(
        f"http: {len(answered)} batches answered 200 before the kill, all of them stored after "
        f"the restart: {durable}; all {requests} sent again with their keys: {replayed} replayed, "
        f"{requests - replayed} stored; {stored_rows:,} rows, {distinct:,} distinct ids "
        f"(expected {requests * BATCH_RECORDS:,})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-records", type=int, default=50_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", type=Path)
    arguments = parser.parse_args()
    print(describe_run())
    rng = random.Random(arguments.seed)
    work = arguments.work_dir or Path(tempfile.mkdtemp(prefix="logsluice-kills-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        http_part(work, arguments.requests, rng)
        cli_part(work, arguments.rows, arguments.chunk_records, arguments.kills, rng)
    finally:
        POOL.stop_all()  # a failed run must not leave a server behind


if __name__ == "__main__":
    main()
