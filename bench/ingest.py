"""Ingest speed: logsluice's ingest paths against DuckDB's own ``read_json`` load of the same file.

Generates a JSON Lines file of N records (realistic mixed fields, a few type clashes) in
``bench/out/``, then in one run measures records/s for each path and its time relative to the
baseline (a):

(a) DuckDB ``read_json`` into a table of a fresh DuckDB file (the baseline);
(b) logsluice in-process: ``decode_file`` + ``DuckDBLogStore.append`` into a fresh DuckDB file;
(b2) the same into a fresh local DuckLake (``DuckLakeLogStore``: DuckDB catalog, data directory);
(c1) the file path a user takes: ``logsluice ingest --project bench --logstore web FILE`` (the
     real CLI, ``--json`` so its result can be read; zstd-compressed requests of
     ``--chunk-records`` records) against a real ``logsluice serve``;
(c2) raw HTTP: the file POSTed with httpx to ``…/logstores/web/records`` in uncompressed JSON
     Lines chunks of ``--chunk-records`` records, against a real ``logsluice serve``.

``--lake`` measures instead two ``serve`` nodes ingesting into one DuckLake on PostgreSQL + S3
against one node (``bench/ingest_lake.py``), each sent its records by ``logsluice ingest`` (or
``--lake-client httpx``, or the CLI's own requests made before the clock starts with
``--lake-client prepared``), with the CPU seconds of every process (``--s3-server`` picks moto or
rclone).

For (c1) and (c2) serve is started on a free port with a fresh data directory, the project and
logstore are created through the native API, and only the ingest itself is timed; the records the
logstore then holds (its logstream counts) must equal the file's, and serve's peak RSS (VmHWM) is
shown. Every path gets the same DuckDB ``--threads`` and memory limit (serve through
``LOGSLUICE_DUCKDB_THREADS`` and ``LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES``). Any path that fails or
stores a different number of records makes the run exit with status 1.

    .venv/bin/python bench/ingest.py --records 2000000
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import orjson
import serving

from logsluice.adapters.duckdb import DuckDBLogStore
from logsluice.cli.record_files import JSON_LINES_TYPE, RecordFile
from logsluice.domain.catalog import Logstore
from logsluice.pipeline.decode import decode_file
from logsluice.ports import LogStore

OUT_DIR = Path(__file__).parent / "out"
PROJECT, LOGSTORE, TIME_FIELD = "bench", "web", "timestamp"
MEBIBYTE = 1024 * 1024
LEVELS = ("DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR")
SERVICES = ("api", "auth", "billing", "search", "worker")
PATHS = ("/v1/items", "/v1/users/42", "/healthz", "/v1/search?q=shoes", "/v1/cart")
WORDS = [
    "request",
    "served",
    "user",
    "cache",
    "miss",
    "upstream",
    "timeout",
    "retry",
    "payload",
    "accepted",
    "queue",
    "flush",
]
CLASH_EVERY = 400_000  # a handful of records whose `status` is text, not a number


@dataclass
class Measured:
    """What one path did: records stored, seconds taken, and serve's peak RSS when it ran one."""

    records: int
    seconds: float
    peak_rss_bytes: int | None = None


Measurement = Callable[[Path, Path, argparse.Namespace], Measured]


def generate(path: Path, records: int, seed: int = 7) -> None:
    """Write ``records`` JSON Lines records to ``path``, one per ~10 ms from 2026-03-01."""
    random_numbers = random.Random(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as file:
        lines: list[bytes] = []
        for index in range(records):
            lines.append(orjson.dumps(_record(random_numbers, start, index)))
            if len(lines) == 10_000:
                file.write(b"\n".join(lines) + b"\n")
                lines.clear()
        if lines:
            file.write(b"\n".join(lines) + b"\n")
    partial.replace(path)


def clash_lines(source: Path) -> bytes:
    """Return the first of the file's records whose ``status`` is text (see ``CLASH_EVERY``),
    as a JSON Lines line; empty when the file is too short to hold one."""
    with source.open("rb") as file:
        return next(itertools.islice(file, CLASH_EVERY - 1, None), b"")


def _record(random_numbers: random.Random, start: datetime, index: int) -> dict[str, object]:
    moment = start + timedelta(milliseconds=10 * index + random_numbers.randint(0, 9))
    status: object = random_numbers.choice((200, 200, 200, 201, 304, 404, 500))
    if index % CLASH_EVERY == CLASH_EVERY - 1:
        status = "upstream_timeout"
    record: dict[str, object] = {
        "timestamp": moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "level": random_numbers.choice(LEVELS),
        "host": f"web-{random_numbers.randint(1, 40):02d}",
        "service": random_numbers.choice(SERVICES),
        "trace_id": f"{random_numbers.getrandbits(64):016x}",
        "status": status,
        "latency_ms": round(random_numbers.lognormvariate(3, 1), 3),
        "bytes": random_numbers.randint(100, 90_000),
        "path": random_numbers.choice(PATHS),
        "message": " ".join(random_numbers.choices(WORDS, k=14)),
    }
    if index % 7 == 0:
        record["user_id"] = random_numbers.randint(1, 10**6)
    return record


# --- (a) and (b): in-process -------------------------------------------------------------------


def measure_duckdb_read_json(
    source: Path, workdir: Path, arguments: argparse.Namespace
) -> Measured:
    """(a) DuckDB's own load: ``CREATE TABLE … AS SELECT * FROM read_json(…)``."""
    started = time.perf_counter()
    connection = duckdb.connect(
        str(workdir / "baseline.duckdb"),
        config={"threads": arguments.threads, "memory_limit": f"{arguments.memory_limit_bytes}B"},
    )
    connection.execute(
        "CREATE TABLE logs AS SELECT * FROM read_json(?, format = 'newline_delimited', "
        "sample_size = -1)",
        [str(source)],
    )
    row = connection.execute("SELECT count(*) FROM logs").fetchone()
    connection.close()
    return Measured(int(row[0]) if row else 0, time.perf_counter() - started)


def measure_logsluice_file(source: Path, workdir: Path, arguments: argparse.Namespace) -> Measured:
    """(b) logsluice in-process: ``decode_file`` + ``DuckDBLogStore.append`` per chunk."""
    started = time.perf_counter()
    store = DuckDBLogStore(
        workdir / "logsluice.duckdb",
        memory_limit_bytes=arguments.memory_limit_bytes,
        threads=arguments.threads,
    )
    return append_file(store, source, started)


def measure_local_lake_file(source: Path, workdir: Path, arguments: argparse.Namespace) -> Measured:
    """(b2) as (b), into a local DuckLake (DuckDB catalog file + data directory)."""
    from logsluice.adapters.duckdb.lake_store import DuckLakeLogStore

    started = time.perf_counter()
    store = DuckLakeLogStore(
        f"ducklake:{workdir}/catalog.ducklake?data_path={workdir}/lake-data",
        memory_limit_bytes=arguments.memory_limit_bytes,
        threads=arguments.threads,
    )
    return append_file(store, source, started)


def append_file(store: LogStore, source: Path, started: float) -> Measured:
    """Decode ``source`` and append each chunk to a new logstore of ``store``; close it."""
    now = datetime.now(UTC)
    store.create_logstore(Logstore(PROJECT, LOGSTORE, 30, TIME_FIELD, now))
    stored = 0
    for chunk in decode_file(
        source, time_field=TIME_FIELD, logstream=None, arrival_time=now, strict=False
    ):
        stored += store.append(PROJECT, LOGSTORE, chunk.table)
    store.close()
    return Measured(stored, time.perf_counter() - started)


# --- (c): through logsluice serve --------------------------------------------------------------


def server_settings(arguments: argparse.Namespace) -> dict[str, str]:
    """Return the ``LOGSLUICE_*`` settings serve runs with: the same DuckDB threads and memory."""
    return {
        "LOGSLUICE_DUCKDB_THREADS": str(arguments.threads),
        "LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES": str(arguments.memory_limit_bytes),
        "LOGSLUICE_LOG_LEVEL": "warning",
    }


def stored_records(server: serving.RunningServer) -> int:
    """Return how many records the bench logstore holds, from its logstream counts."""
    with server.client() as client:
        path = f"/api/v1/projects/{PROJECT}/logstores/{LOGSTORE}/logstreams"
        logstreams = serving.call(client, "GET", path)["logstreams"]
    return sum(int(item["records"]) for item in logstreams)


def measure_through_serve(
    source: Path,
    workdir: Path,
    arguments: argparse.Namespace,
    send: Callable[[serving.RunningServer, Path, argparse.Namespace], int],
) -> Measured:
    """Start serve, create the logstore, time ``send``; check what the logstore holds."""
    with serving.running_server(workdir / "data", server_settings(arguments)) as server:
        with server.client() as client:
            serving.create_logstore(client, PROJECT, LOGSTORE, TIME_FIELD)
        started = time.perf_counter()
        accepted = send(server, source, arguments)
        seconds = time.perf_counter() - started
        peak_rss_bytes = server.peak_rss_bytes()
        stored = stored_records(server)
    if stored != accepted:
        raise serving.BenchError(f"{accepted} records accepted but the logstore holds {stored}")
    return Measured(stored, seconds, peak_rss_bytes)


def send_with_cli(
    server: serving.RunningServer, source: Path, arguments: argparse.Namespace
) -> int:
    """Run ``logsluice ingest`` on the file against the server; return the records it accepted."""
    command = [
        str(serving.LOGSLUICE),
        "ingest",
        f"--project={PROJECT}",
        f"--logstore={LOGSTORE}",
        f"--chunk-records={arguments.chunk_records}",
        f"--server={server.url}",
        "--json",
        str(source),
    ]
    environment = serving.server_environment(server.token, {"LOGSLUICE_TOKEN": server.token})
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    if completed.returncode != 0:
        raise serving.BenchError(
            f"logsluice ingest exited {completed.returncode}: {completed.stderr[-2000:]}"
        )
    return int(json.loads(completed.stdout)["accepted"])


def send_with_httpx(
    server: serving.RunningServer, source: Path, arguments: argparse.Namespace
) -> int:
    """POST the file in JSON Lines chunks to the records endpoint; return the records accepted."""
    path = f"/api/v1/projects/{PROJECT}/logstores/{LOGSTORE}/records"
    headers = {"Content-Type": "application/x-ndjson"}
    accepted = 0
    with server.client() as client, source.open("rb") as file:
        while lines := list(itertools.islice(file, arguments.chunk_records)):
            result = serving.call(client, "POST", path, content=b"".join(lines), headers=headers)
            accepted += int(result["accepted"])
    return accepted


def prepare_like_cli(source: Path, arguments: argparse.Namespace) -> list[tuple[bytes, str]]:
    """Return the requests ``logsluice ingest`` sends for ``source``: each chunk's zstd body and
    ``Idempotency-Key``, made by the CLI's own functions."""
    from logsluice.cli.ingest import prepared_chunks

    chunks = prepared_chunks(RecordFile(source, "jsonl", None), arguments.chunk_records)
    return [(ready.body, ready.key) for ready in chunks]


def send_prepared(
    server: serving.RunningServer,
    requests: list[tuple[bytes, str]],
    arguments: argparse.Namespace,
) -> int:
    """POST prepared requests (``prepare_like_cli``), ``--in-flight`` at a time (the CLI sends
    one at a time); return the records accepted."""
    path = f"/api/v1/projects/{PROJECT}/logstores/{LOGSTORE}/records"

    def post(client: httpx.Client, request: tuple[bytes, str]) -> int:
        body, key = request
        headers = {
            "Content-Type": JSON_LINES_TYPE,
            "Content-Encoding": "zstd",
            "Idempotency-Key": key,
        }
        result = serving.call(
            client, "POST", path, params={"strict": "false"}, content=body, headers=headers
        )
        return int(result["accepted"])

    with server.client() as client, ThreadPoolExecutor(arguments.in_flight) as pool:
        return sum(pool.map(functools.partial(post, client), requests))


def measure_cli(source: Path, workdir: Path, arguments: argparse.Namespace) -> Measured:
    """(c1) the real CLI, ``logsluice ingest FILE``, through serve."""
    return measure_through_serve(source, workdir, arguments, send_with_cli)


def measure_httpx(source: Path, workdir: Path, arguments: argparse.Namespace) -> Measured:
    """(c2) raw HTTP: the file POSTed in chunks with httpx, through serve."""
    return measure_through_serve(source, workdir, arguments, send_with_httpx)


MEASUREMENTS: list[tuple[str, Measurement]] = [
    ("(a) duckdb read_json (baseline)", measure_duckdb_read_json),
    ("(b) decode_file + append", measure_logsluice_file),
    ("(b2) decode_file + append, local lake", measure_local_lake_file),
    ("(c1) logsluice ingest FILE (CLI)", measure_cli),
    ("(c2) POST chunks (httpx)", measure_httpx),
]


# --- running and reporting ---------------------------------------------------------------------


def run_one(
    name: str, measurement: Measurement, source: Path, arguments: argparse.Namespace
) -> Measured | None:
    """Run one path in a fresh work directory; return its result, or None when it failed."""
    workdir = OUT_DIR / "ingest-work"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        return measurement(source, workdir, arguments)
    except (serving.BenchError, duckdb.Error, OSError, ValueError, KeyError) as error:
        print(f"{name:34s} FAILED: {error}", flush=True)
        return None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report_line(name: str, measured: Measured, baseline: Measured | None) -> str:
    """Return one result line: records, seconds, records/s, time relative to the baseline."""
    rate = measured.records / measured.seconds
    ratio = f"{measured.seconds / baseline.seconds:5.2f}×" if baseline else "    –"
    peak = (
        f"  serve peak RSS {measured.peak_rss_bytes / MEBIBYTE:,.0f} MiB"
        if measured.peak_rss_bytes
        else ""
    )
    return (
        f"{name:34s} {measured.records:>12,} records {measured.seconds:8.2f} s "
        f"{rate:>12,.0f} records/s {ratio} baseline time{peak}"
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records",
        type=int,
        default=2_000_000,
        help="records in the generated JSON Lines file, bench/out/ingest-<records>.jsonl, "
        "which later runs of the same size reuse (default 2000000)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="DuckDB threads of every path (serve: LOGSLUICE_DUCKDB_THREADS) (default 2)",
    )
    parser.add_argument(
        "--memory-limit-bytes",
        type=int,
        default=1024 * MEBIBYTE,
        help="DuckDB memory limit of every path (serve: LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES) "
        "(default 1073741824)",
    )
    parser.add_argument(
        "--chunk-records",
        type=int,
        default=50_000,
        help="records per request for (c1), (c2) and --lake (logsluice ingest --chunk-records; "
        "the CLI's own default is 131072) (default 50000)",
    )
    parser.add_argument(
        "--lake",
        action="store_true",
        help="measure two serve nodes ingesting halves into one DuckLake on PostgreSQL + S3 "
        "against one node ingesting the whole file (bench/ingest_lake.py) instead of the paths",
    )
    parser.add_argument(
        "--warmup-records",
        type=int,
        default=1000,
        help="--lake: records sent to each node before the clock starts (0: none)",
    )
    parser.add_argument(
        "--postgresql-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="--lake: the PostgreSQL server whose fresh databases catalog the lakes "
        "(default postgresql://postgres@127.0.0.1:5432)",
    )
    parser.add_argument(
        "--s3-server",
        choices=("moto", "rclone"),
        default="moto",
        help="--lake: the S3-compatible server of the data path: moto (one Python process) or "
        "rclone serve s3 (Go, multi-threaded, checks SigV4) (default moto)",
    )
    parser.add_argument(
        "--lake-client",
        choices=("cli", "httpx", "prepared"),
        default="cli",
        help="--lake: how each node is sent its records: the real CLI (logsluice ingest: zstd, "
        "an Idempotency-Key per chunk), uncompressed httpx POSTs without keys, or the CLI's "
        "requests made before the clock starts and POSTed by httpx (default cli)",
    )
    parser.add_argument(
        "--clashes-timed",
        action="store_true",
        help="--lake: leave the file's text `status` records inside the timed part, so the "
        "widening they cause is timed (default: the first warm-up holds one, as a lake that "
        "ingests for days widened that column long ago)",
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=1,
        help="--lake-client prepared: requests each node is sent at once (default 1, as the CLI)",
    )
    parser.add_argument(
        "--pin-nodes",
        action="store_true",
        help="--lake: pin node i to core i, as nodes on one-core hosts of their own (default: "
        "the nodes share every core)",
    )
    parser.add_argument(
        "--paths",
        default="a,b,b2,c1,c2",
        help="comma-separated paths to run, of a, b, b2, c1, c2; a is the baseline the ratio is "
        "taken to (default all)",
    )
    return parser.parse_args()


def main() -> int:
    arguments = parse_arguments()
    print(serving.describe_run(), flush=True)
    OUT_DIR.mkdir(exist_ok=True)
    source = OUT_DIR / f"ingest-{arguments.records}.jsonl"
    if not source.exists():
        generate(source, arguments.records)
    print(
        f"{arguments.records:,} records, {source.stat().st_size / 1e6:.0f} MB of JSON Lines "
        f"({source}); threads={arguments.threads} memory_limit={arguments.memory_limit_bytes} B "
        f"chunk_records={arguments.chunk_records:,}",
        flush=True,
    )
    if arguments.lake:
        import ingest_lake

        settings = server_settings(arguments)
        settle = b"" if arguments.clashes_timed else clash_lines(source)
        if arguments.lake_client == "prepared":
            send: ingest_lake.Send = send_prepared
            prepare: ingest_lake.Prepare = prepare_like_cli
        else:
            send = send_with_cli if arguments.lake_client == "cli" else send_with_httpx
            prepare = ingest_lake.as_is
        met = ingest_lake.run_lake(source, arguments, settings, send, prepare, settle)
        return 0 if met else 1
    chosen = {part.strip() for part in arguments.paths.split(",")}
    baseline: Measured | None = None
    passed = True
    for name, measurement in MEASUREMENTS:
        if name[1:].split(")")[0] not in chosen:
            continue
        measured = run_one(name, measurement, source, arguments)
        if measured is None:
            passed = False
            continue
        baseline = baseline or (measured if measurement is measure_duckdb_read_json else None)
        print(report_line(name, measured, baseline), flush=True)
        if measured.records != arguments.records:
            print(f"{name:34s} FAILED: stored {measured.records:,} of {arguments.records:,}")
            passed = False
    if not passed:
        print("FAILED: see the lines above", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
