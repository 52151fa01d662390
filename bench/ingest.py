"""Ingest speed: logsluice's file path against DuckDB's own ``read_json`` load of the same file.

Generates a JSON Lines file of N records (realistic mixed fields, a few type clashes), then in one
run measures records/s for each path and prints the ratio to the baseline:

(a) DuckDB ``read_json`` into a table of a fresh DuckDB file (the baseline);
(b) logsluice in-process: ``decode_file`` + ``DuckDBLogStore.append`` into a fresh DuckDB file.

Each path is one function ``(source, workdir) -> records stored``, listed in ``MEASUREMENTS``;
another path (say through the HTTP endpoint) is one more function in that list. Both sides get the
same DuckDB ``threads`` and ``memory_limit``. Usage: ``python bench/ingest.py [--records N]``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson

from logsluice.adapters.duckdb import DuckDBLogStore
from logsluice.domain.catalog import Logstore
from logsluice.pipeline.decode import decode_file

OUT_DIR = Path(__file__).parent / "out"
THREADS = 2
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024
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

Measurement = Callable[[Path, Path], int]


def generate(path: Path, records: int, seed: int = 7) -> None:
    """Write ``records`` JSON Lines records to ``path``, one per ~10 ms from 2026-03-01."""
    random_numbers = random.Random(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with path.open("wb") as file:
        lines: list[bytes] = []
        for index in range(records):
            lines.append(orjson.dumps(_record(random_numbers, start, index)))
            if len(lines) == 10_000:
                file.write(b"\n".join(lines) + b"\n")
                lines.clear()
        if lines:
            file.write(b"\n".join(lines) + b"\n")


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


def measure_duckdb_read_json(source: Path, workdir: Path) -> int:
    """(a) DuckDB's own load: ``CREATE TABLE … AS SELECT * FROM read_json(…)``."""
    connection = duckdb.connect(
        str(workdir / "baseline.duckdb"),
        config={"threads": THREADS, "memory_limit": f"{MEMORY_LIMIT_BYTES}B"},
    )
    connection.execute(
        "CREATE TABLE logs AS SELECT * FROM read_json(?, format = 'newline_delimited', "
        "sample_size = -1)",
        [str(source)],
    )
    row = connection.execute("SELECT count(*) FROM logs").fetchone()
    connection.close()
    return int(row[0]) if row else 0


def measure_logsluice_file(source: Path, workdir: Path) -> int:
    """(b) logsluice in-process: ``decode_file`` + ``DuckDBLogStore.append`` per chunk."""
    store = DuckDBLogStore(
        workdir / "logsluice.duckdb", memory_limit_bytes=MEMORY_LIMIT_BYTES, threads=THREADS
    )
    now = datetime.now(UTC)
    store.create_logstore(Logstore("bench", "web", 30, "timestamp", now))
    stored = 0
    for chunk in decode_file(
        source, time_field="timestamp", logstream=None, arrival_time=now, strict=False
    ):
        stored += store.append("bench", "web", chunk.table)
    store.close()
    return stored


MEASUREMENTS: list[tuple[str, Measurement]] = [
    ("duckdb read_json (baseline)", measure_duckdb_read_json),
    ("logsluice decode_file + append", measure_logsluice_file),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    arguments = parser.parse_args()
    OUT_DIR.mkdir(exist_ok=True)
    source = OUT_DIR / f"ingest-{arguments.records}.jsonl"
    if not source.exists():
        generate(source, arguments.records)
    print(f"{arguments.records:,} records, {source.stat().st_size / 1e6:.0f} MB of JSON Lines")
    baseline_rate = 0.0
    for name, measurement in MEASUREMENTS:
        workdir = OUT_DIR / "work"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        started = time.perf_counter()
        stored = measurement(source, workdir)
        elapsed = time.perf_counter() - started
        rate = stored / elapsed
        baseline_rate = baseline_rate or rate
        print(
            f"{name:34s} {stored:>10,} records {elapsed:7.2f} s {rate:>12,.0f} records/s  "
            f"{baseline_rate / rate:5.2f}x baseline time"
        )


if __name__ == "__main__":
    main()
