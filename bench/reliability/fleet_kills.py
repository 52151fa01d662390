"""Bench: a worker fleet exporting into a bucket while its workers are killed with SIGKILL.

Usage::

    .venv/bin/python bench/reliability/fleet_kills.py [--records 2000000]
        [--formats csv,jsonl,parquet] [--kill-every 3] [--workers 3] [--rows-per-slice 100000]
        [--s3 moto|rclone] [--restart-s3] [--s3-down 10] [--seed 1] [--work-dir DIR]

The scale-out deployment of ``docs/deploy.md``, started as a new user would: a fresh PostgreSQL
database (``--postgresql-url``, default the local ``postgresql://postgres@127.0.0.1:5432``;
dropped at the end) as the task store, an S3 server started here (``moto_server``, or ``rclone
serve s3`` over a directory with ``--s3 rclone``) as ``LOGSLUICE_ARTIFACT_STORE_URL=s3://bucket/
artifacts?endpoint=…``, one ``logsluice serve --no-workers`` holding the embedded DuckDB log
store, and ``--workers`` ``logsluice worker --server URL`` processes with data directories of
their own, reading records from the serving node.

The log store is filled with ``--records`` synthetic records (``bench/export.py``'s dataset,
each with a distinct ``trace_id``) written straight into its DuckDB table while serve is
stopped. For each of ``--formats`` (csv and jsonl compressed with zstd, Parquet with its internal
zstd) one download task exporting every record is created; while it runs, a random worker is
killed with SIGKILL every ``--kill-every`` seconds and started again at once. With
``--restart-s3`` (``--s3 rclone`` only: rclone keeps its objects in a directory, moto in memory)
the S3 server is also killed once, when half the rows are written, kept down ``--s3-down``
seconds and started again on the same port and directory.

Then the task must reach SUCCEEDED; its object is downloaded from the bucket (boto3),
decompressed and read by DuckDB: its rows and its distinct ``trace_id`` values must equal
``--records``; its sha256 must equal the manifest's (the API's and the ``manifest.json`` beside
it). The task is deleted through the API, after which no object under its prefix and no
unfinished multipart upload may remain. The slices' claims are read from the task store
(``task_slices.attempts``) before the delete: claims beyond one per slice are slices run again
after a kill in the task's last attempt (a task claimed again requeues its unfinished slices
with their claims reset). Any disagreement exits with status 1.

The lease is 3 s and the janitor runs every second, so a killed worker's slices are claimed
again soon; ``LOGSLUICE_TASK_MAX_ATTEMPTS`` and ``LOGSLUICE_TASK_SLICE_ATTEMPTS`` are raised
(a kill costs the task an attempt when it lands while the task's planning or publishing runs,
and the slice it lands on a slice attempt; with the defaults, 5 and 3, a long storm may end the
task ``attempts_exhausted``, as designed). The figures in ``docs/reliability.md`` ("SIGKILL of
workers in a fleet") come from this script.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import export
import lake_servers
from fleet import BUCKET, PREFIX, Fleet, S3Server, create_database, drop_database
from restarts import file_sha256, rows_and_ids
from serving import BenchError, call, create_logstore, describe_run, server_environment

TASKS_URL = f"/api/v1/projects/{export.PROJECT}/download-tasks"
POSTGRESQL_URL = "postgresql://postgres@127.0.0.1:5432"
LEASE_SECONDS = 3
JANITOR_SECONDS = 1
POLL_SECONDS = 0.1
CLEANUP_SECONDS = 60
FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")


@dataclass
class Outcome:
    """One format's export through the kill storm, and what its file and the bucket showed."""

    export_format: str
    kills: int = 0
    s3_outages: int = 0
    seconds: float = 0.0
    attempts: int = 0
    slices: int = 0
    claims: int = 0
    rows: int = 0
    distinct: int = 0
    sha_ok: bool = False
    clean: bool = False
    notes: list[str] = field(default_factory=list)

    def passed(self, records: int) -> bool:
        return self.rows == self.distinct == records and self.sha_ok and self.clean


def slice_claims(database_url: str, task_id: str) -> tuple[int, int]:
    """Return the task's slices and how often they were claimed, from the task store."""
    import psycopg

    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*), coalesce(sum(attempts), 0) FROM task_slices WHERE task_id = %s",
            [task_id],
        ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _task(client: Any, task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = call(client, "GET", f"{TASKS_URL}/{task_id}")
    return task


def _storm(
    fleet: Fleet,
    s3: S3Server,
    client: Any,
    task_id: str,
    arguments: argparse.Namespace,
    outcome: Outcome,
) -> dict[str, Any]:
    """Kill a random worker every ``--kill-every`` seconds until the task finishes; kill the S3
    server once half the rows are written if asked; return the finished task."""
    rng = random.Random(arguments.seed)
    next_kill = time.monotonic() + arguments.kill_every
    s3_due = arguments.restart_s3
    while True:
        task = _task(client, task_id)
        if task["status"] in FINISHED:
            return task
        if s3_due and task["rows_written"] >= arguments.records // 2:
            s3_due = False
            s3.kill()
            outcome.s3_outages += 1
            print(f"  S3 server killed at {task['rows_written']:,} rows", flush=True)
            time.sleep(arguments.s3_down)
            s3.start()
            print(f"  S3 server started again after {arguments.s3_down} s", flush=True)
            next_kill = time.monotonic() + arguments.kill_every
        if time.monotonic() >= next_kill:
            name = rng.choice(sorted(fleet.workers))
            fleet.kill_worker(name)
            fleet.start_worker(name)
            outcome.kills += 1
            print(
                f"  kill {outcome.kills}: {name}; attempt {task['attempts']}, {task['status']}, "
                f"{task['rows_written']:,} rows, {task['slices_done']}/{task['slices_total']} "
                "slices done",
                flush=True,
            )
            next_kill += arguments.kill_every
        time.sleep(POLL_SECONDS)


def _bucket_is_clean(s3: S3Server, task_prefix: str) -> tuple[bool, str]:
    """Wait until no object under ``task_prefix`` and no unfinished upload in the bucket remain."""
    bucket = s3.client()
    deadline = time.monotonic() + CLEANUP_SECONDS
    while True:
        objects = bucket.list_objects_v2(Bucket=BUCKET, Prefix=task_prefix).get("KeyCount", 0)
        uploads = bucket.list_multipart_uploads(Bucket=BUCKET).get("Uploads") or []
        if (objects == 0 and not uploads) or time.monotonic() > deadline:
            clean = objects == 0 and not uploads
            return clean, f"{objects} objects, {len(uploads)} unfinished uploads left"
        time.sleep(0.5)


def run_format(
    fleet: Fleet,
    s3: S3Server,
    database_url: str,
    export_format: str,
    arguments: argparse.Namespace,
) -> Outcome:
    """Export everything in ``export_format`` through the kill storm; check the object."""
    outcome = Outcome(export_format)
    server = fleet.server
    if server is None:
        raise BenchError("no serving node")
    print(f"{export_format}:", flush=True)
    started = time.monotonic()
    with server.client() as client:
        task_id = call(client, "POST", TASKS_URL, json=export.task_body(export_format))["id"]
        task = _storm(fleet, s3, client, task_id, arguments, outcome)
        outcome.seconds = time.monotonic() - started
        outcome.attempts = int(task["attempts"])
        outcome.slices, outcome.claims = slice_claims(database_url, task_id)
        if task["status"] != "SUCCEEDED":
            outcome.notes.append(f"task ended {task['status']}: {task['error']}")
            return outcome
        manifest = call(client, "GET", f"{TASKS_URL}/{task_id}/manifest")
        task_prefix = f"{PREFIX}/{export.PROJECT}/{task_id}/"
        local = fleet.work / task["file_name"]
        bucket = s3.client()
        bucket.download_file(BUCKET, task_prefix + task["file_name"], str(local))
        beside = bucket.get_object(Bucket=BUCKET, Key=task_prefix + "manifest.json")
        beside_sha = json.loads(beside["Body"].read())["sha256"]
        outcome.rows, outcome.distinct = rows_and_ids(local, export_format)
        outcome.sha_ok = file_sha256(local) == manifest["sha256"] == beside_sha
        local.unlink()
        call(client, "DELETE", f"{TASKS_URL}/{task_id}")
    outcome.clean, left = _bucket_is_clean(s3, task_prefix)
    if not outcome.clean:
        outcome.notes.append(f"after delete: {left}")
    return outcome


def _print_table(outcomes: list[Outcome], records: int) -> bool:
    print(
        "| format | rows in file | distinct trace_id | kills | S3 outages | time | task attempts "
        "| slices | slice claims (last attempt) | sha256 = manifest | clean after delete | passed |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |")
    good = True
    for item in outcomes:
        label = item.export_format + ("" if item.export_format == "parquet" else "+zstd")
        passed = item.passed(records)
        print(
            f"| {label} | {item.rows:,} | {item.distinct:,} | {item.kills} | {item.s3_outages} | "
            f"{item.seconds:.0f} s | {item.attempts} | {item.slices} | {item.claims} | "
            f"{item.sha_ok} | {item.clean} | {passed} |"
        )
        for note in item.notes:
            print(f"  {item.export_format}: {note}")
        good = good and passed
    print(f"every row exactly once, the manifest's sha256, nothing left after delete: {good}")
    return good


def parse_arguments() -> argparse.Namespace:
    """Return the command line's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--formats", default="csv,jsonl,parquet", help="comma-separated")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rows-per-slice", type=int, default=100_000)
    parser.add_argument("--s3", choices=lake_servers.S3_SERVERS, default="moto")
    parser.add_argument(
        "--restart-s3", action="store_true", help="kill the S3 server once mid-export (rclone)"
    )
    parser.add_argument("--s3-down", type=float, default=10.0, help="seconds the S3 server is down")
    parser.add_argument("--postgresql-url", default=POSTGRESQL_URL)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", type=Path)
    arguments = parser.parse_args()
    if arguments.restart_s3 and arguments.s3 != "rclone":
        parser.error("--restart-s3 needs --s3 rclone (moto keeps its objects in memory)")
    return arguments


def node_environment(
    arguments: argparse.Namespace, s3: S3Server, database_url: str, token: str
) -> dict[str, str]:
    """Return the environment every node of the fleet shares."""
    from cryptography.fernet import Fernet

    settings = {
        "LOGSLUICE_DATABASE_URL": database_url,
        "LOGSLUICE_ARTIFACT_STORE_URL": s3.store_url(),
        "LOGSLUICE_LINK_SECRET": secrets.token_hex(32),
        "LOGSLUICE_ACCESS_KEY_CIPHER_KEY": Fernet.generate_key().decode(),
        "LOGSLUICE_TASK_LEASE": str(LEASE_SECONDS),
        "LOGSLUICE_JANITOR_INTERVAL": str(JANITOR_SECONDS),
        "LOGSLUICE_TASK_MAX_ATTEMPTS": "1000",
        "LOGSLUICE_TASK_SLICE_ATTEMPTS": "1000",
        "LOGSLUICE_TASK_ROWS_PER_SLICE": str(arguments.rows_per_slice),
        "LOGSLUICE_OUTAGE_RETRY_MAX_DELAY": "2",
        "LOGSLUICE_DISK_RESERVE_BYTES": "0",
        "LOGSLUICE_LOG_LEVEL": "warning",
    }
    environment: dict[str, str] = server_environment(token, settings) | s3.environment()
    return environment


def _load(fleet: Fleet, records: int) -> None:
    server = fleet.serve()
    with server.client() as client:
        create_logstore(client, export.PROJECT, export.LOGSTORE, export.TIME_FIELD)
    server.stop()
    started = time.monotonic()
    export.load_records(server.data_dir / "logs.duckdb", records, threads=1)
    print(f"loaded {records:,} records in {time.monotonic() - started:.1f} s", flush=True)


def main() -> int:
    arguments = parse_arguments()
    print(describe_run())
    work = arguments.work_dir or Path(tempfile.mkdtemp(prefix="logsluice-fleet-kills-"))
    print(f"work directory (logs of every process): {work}")
    s3 = S3Server(arguments.s3, work / "s3")
    database = create_database(arguments.postgresql_url)
    database_url = f"{arguments.postgresql_url}/{database}"
    token = secrets.token_urlsafe(24)
    fleet = Fleet(work, node_environment(arguments, s3, database_url, token), token)
    outcomes: list[Outcome] = []
    try:
        s3.start()
        s3.create_bucket()
        _load(fleet, arguments.records)
        fleet.serve("--no-workers")
        for index in range(arguments.workers):
            fleet.start_worker(f"worker-{index + 1}")
        for export_format in arguments.formats.split(","):
            outcomes.append(run_format(fleet, s3, database_url, export_format, arguments))
    finally:
        fleet.stop_all()  # a failed run must not leave a process behind
        s3.kill()
        drop_database(arguments.postgresql_url, database)
    return 0 if _print_table(outcomes, arguments.records) else 1


if __name__ == "__main__":
    sys.exit(main())
