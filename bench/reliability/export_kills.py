"""Bench: `logsluice serve` killed with SIGKILL at random moments of one export, restarted.

Usage::

    .venv/bin/python bench/reliability/export_kills.py [--records 5000000] [--kills 20]
        [--formats csv] [--rows-per-slice 100000] [--seed 1] [--work-dir DIR]

``serve`` runs embedded (SQLite task store, DuckDB log store, local artifacts). The logstore is
filled with ``--records`` synthetic records (``bench/export.py``'s dataset, each with a distinct
``trace_id``) written straight into its DuckDB table. For each of ``--formats`` (compressed with
zstd) one download task exporting every record is created; ``serve`` is then killed with SIGKILL
``--kills`` times, each at a random moment, and restarted over the same data directory. The
moments are drawn as rows written, uniformly over the export and 5 % past its end (then the
kill lands once every row is written, while the file is assembled and published); the task's
``rows_written`` (the running slices included) is polled every 50 ms and the server killed when
it reaches the next moment, whatever the task is doing then. Once the kills are done the task
must reach SUCCEEDED; its file is decompressed and read by DuckDB: its rows, its distinct
``trace_id`` values and the synchronous query's count must all equal ``--records``, and the
file's sha256 must equal the manifest's. Any disagreement exits with status 1.

The lease is 3 s and the janitor runs every second so that a killed run is claimed again soon;
``LOGSLUICE_TASK_MAX_ATTEMPTS`` is raised above ``--kills``: a kill costs the task an attempt
when its own lease lapses before the restarted server picks its slices up, and with the default
5 a storm of 20 kills may end it with ``attempts_exhausted``, as designed.
The figures in ``docs/reliability.md`` ("SIGKILL during export") come from this script.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import export
from restarts import ServerPool, file_sha256, kill, rows_and_ids
from serving import RunningServer, call, create_logstore, describe_run

TASKS_URL = f"/api/v1/projects/{export.PROJECT}/download-tasks"
LEASE_SECONDS = 3
JANITOR_SECONDS = 1
POLL_SECONDS = 0.05


@dataclass
class Outcome:
    """One format's storm: the kills, what the task was doing at each, and the file's check."""

    export_format: str
    kills: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rows: int = 0
    distinct: int = 0
    query_rows: int = 0
    sha_ok: bool = False
    attempts: int = 0


def _load(pool: ServerPool, data_dir: Path, records: int) -> None:
    server = pool.start(data_dir)
    with server.client() as client:
        create_logstore(client, export.PROJECT, export.LOGSTORE, export.TIME_FIELD)
    server.stop()
    started = time.monotonic()
    export.load_records(data_dir / "logs.duckdb", records, threads=1)
    print(f"loaded {records:,} records in {time.monotonic() - started:.1f} s")


def _task(server: RunningServer, task_id: str) -> dict[str, Any]:
    with server.client() as client:
        task: dict[str, Any] = call(client, "GET", f"{TASKS_URL}/{task_id}")
    return task


def _kill_moments(arguments: argparse.Namespace) -> list[int]:
    """Rows written at which to kill: uniform over the export and a little past its end.

    A moment past the end is met once every row is written and the task still runs: while
    the file is assembled, hashed and published.
    """
    rng = random.Random(arguments.seed)
    last = arguments.records + arguments.records // 20
    return sorted(min(rng.randrange(last), arguments.records) for _ in range(arguments.kills))


def _wait_for_rows(server: RunningServer, task_id: str, rows: int) -> dict[str, Any]:
    """Poll until the task has written ``rows`` rows or is no longer RUNNING or QUEUED."""
    while True:
        task = _task(server, task_id)
        if task["rows_written"] >= rows or task["status"] not in ("RUNNING", "QUEUED"):
            return task
        time.sleep(POLL_SECONDS)


def _storm(
    pool: ServerPool, server: RunningServer, task_id: str, arguments: argparse.Namespace
) -> tuple[RunningServer, list[str]]:
    kills: list[str] = []
    for rows in _kill_moments(arguments):
        task = _wait_for_rows(server, task_id, rows)
        if task["status"] == "SUCCEEDED":
            print(f"  the task SUCCEEDED before kill {len(kills) + 1}")
            break
        kill(server)
        moment = (
            f"attempt {task['attempts']}, {task['status']}, {task['rows_written']:,} rows, "
            f"{task['slices_done']} slices done"
        )
        kills.append(moment)
        print(f"  kill {len(kills)}: {moment}", flush=True)
        server = pool.start(server.data_dir)
    return server, kills


def _query_rows(server: RunningServer) -> int:
    body = export.task_body("csv")
    query = {"query": "* | SELECT count(*) AS n", "from": body["from"], "to": body["to"]}
    url = f"/api/v1/projects/{export.PROJECT}/logstores/{export.LOGSTORE}/query"
    with server.client() as client:
        return int(call(client, "POST", url, json=query)["rows"][0][0])


def run_format(
    pool: ServerPool, server: RunningServer, export_format: str, arguments: argparse.Namespace
) -> tuple[RunningServer, Outcome]:
    """Export everything in ``export_format`` through a kill storm; check the file it ends with."""
    outcome = Outcome(export_format)
    started = time.monotonic()
    with server.client() as client:
        task_id = call(client, "POST", TASKS_URL, json=export.task_body(export_format))["id"]
    server, outcome.kills = _storm(pool, server, task_id, arguments)
    with server.client() as client:
        task = export.wait_for_task(client, task_id)
        manifest = call(client, "GET", f"{TASKS_URL}/{task_id}/manifest")
    outcome.seconds = time.monotonic() - started
    outcome.attempts = int(task["attempts"])
    artifact = server.data_dir / "artifacts" / export.PROJECT / task_id / task["file_name"]
    outcome.rows, outcome.distinct = rows_and_ids(artifact, export_format)
    outcome.sha_ok = file_sha256(artifact) == manifest["sha256"]
    outcome.query_rows = _query_rows(server)
    return server, outcome


def _print_table(outcomes: list[Outcome], records: int) -> bool:
    print(
        "| format | kills done | time | rows in file | distinct trace_id | query count | sha ok |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    good = True
    for item in outcomes:
        print(
            f"| {item.export_format}+zstd | {len(item.kills)} | {item.seconds:.0f} s | "
            f"{item.rows:,} | {item.distinct:,} | {item.query_rows:,} | {item.sha_ok} |"
        )
        exact = item.rows == item.distinct == item.query_rows == records
        good = good and exact and item.sha_ok
    print(f"every row exactly once and the manifest's sha256: {good}")
    return good


def parse_arguments() -> argparse.Namespace:
    """Return the command line's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--formats", default="csv", help="comma-separated: csv, jsonl, parquet")
    parser.add_argument("--rows-per-slice", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", type=Path)
    return parser.parse_args()


def main() -> int:
    arguments = parse_arguments()
    print(describe_run())
    work = arguments.work_dir or Path(tempfile.mkdtemp(prefix="logsluice-export-kills-"))
    settings = {
        "LOGSLUICE_TASK_LEASE": str(LEASE_SECONDS),
        "LOGSLUICE_JANITOR_INTERVAL": str(JANITOR_SECONDS),
        "LOGSLUICE_TASK_MAX_ATTEMPTS": str(arguments.kills + 5),
        "LOGSLUICE_TASK_ROWS_PER_SLICE": str(arguments.rows_per_slice),
        "LOGSLUICE_LOG_LEVEL": "warning",
    }
    pool = ServerPool(settings)
    outcomes: list[Outcome] = []
    try:
        data_dir = work / "data"
        _load(pool, data_dir, arguments.records)
        server = pool.start(data_dir)
        for export_format in arguments.formats.split(","):
            server, outcome = run_format(pool, server, export_format, arguments)
            outcomes.append(outcome)
    finally:
        pool.stop_all()  # a failed run must not leave a server behind
    return 0 if _print_table(outcomes, arguments.records) else 1


if __name__ == "__main__":
    sys.exit(main())
