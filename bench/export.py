"""Export benchmark: a download task through ``logsluice serve`` against DuckDB's own ``COPY``.

``--mode task`` (the default) measures logsluice as users run it. For each ``--records`` size:

1. Load. The synthetic dataset (``SELECT_SQL``: time ``ts`` spread over one day, level, host,
   service, trace_id, status, latency_ms, message) goes into a logsluice data directory under
   ``bench/out/task-<records>/``: ``logsluice serve`` is started, project ``bench`` and logstore
   ``logs`` (time field ``ts``) are created through the native API, serve is stopped, and the
   logstore's DuckDB table ``"bench"."logs"`` in ``logs.duckdb`` is filled directly with one
   ``INSERT … SELECT … ORDER BY ts`` in the logsluice layout (fields added with logsluice's types,
   ``logstream`` left at its default ''). Ingesting through the API would take far longer and is
   measured by ``bench/ingest.py``; the table is what ingest would have produced, sorted by time.
   The directory is reused by later runs of the same size (``--rebuild`` to start over).
2. logsluice. For each format (csv+zstd, jsonl+zstd, parquet with its internal zstd) serve is
   started afresh (``--workers`` download workers, default 1;
   ``LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES``, ``LOGSLUICE_DUCKDB_CACHE_LIMIT_BYTES`` and
   ``LOGSLUICE_DUCKDB_THREADS`` from ``--memory-limit-bytes``, ``--cache-limit-bytes`` and
   ``--threads``), a download
   task ``{"logstore": "logs", "query": "*", from, to, format, compression}`` is created with
   ``POST /api/v1/projects/bench/download-tasks`` and polled every 50 ms until SUCCEEDED. The time
   is create → SUCCEEDED seen by the client; the peak RSS is the serve process's VmHWM read right
   after, so each format's peak is its own. The task is then deleted (with its file) and serve
   stopped.
3. Baseline, same run, serve stopped: a subprocess opens the same DuckDB file read-only (same
   ``--threads``, DuckDB's default memory limit, time zone UTC) and runs ``COPY (SELECT <the
   logstore's columns, as the task exports them> FROM "bench"."logs" ORDER BY ts) TO … (same format
   and compression)``; wall time and its VmHWM are reported.

Both outputs' rows are counted from the files (newline count of the decompressed CSV/JSON Lines,
Parquet metadata) and must equal the records loaded; any failure exits with status 1.

``--lake local|s3`` runs the task mode on a DuckLake instead (``bench/export_lake.py``): the task
on the lake against ``COPY`` from the same lake (and, ``local``, against the file store's task).

``--mode pipeline`` is the older in-process comparison: the export pipeline (slices, Arrow
batches, encoder, compressor, artifact writer) run directly over a plain DuckDB table, each side in
its own subprocess.

    .venv/bin/python bench/export.py --records 1000000,10000000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import serving

OUT = Path(__file__).resolve().parent / "out"
FORMATS = ("csv", "jsonl", "parquet")
COPY_OPTIONS = {
    "csv": "FORMAT csv, HEADER, COMPRESSION zstd",
    "jsonl": "FORMAT json, COMPRESSION zstd",
    "parquet": "FORMAT parquet, COMPRESSION zstd",
}
EXTENSIONS = {"csv": "csv.zst", "jsonl": "jsonl.zst", "parquet": "parquet"}
BASE_TIME = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = timedelta(days=1)
PROJECT, LOGSTORE, TIME_FIELD = "bench", "logs", "ts"
LOADED_MARKER = "loaded-records"
POLL_SECONDS = 0.05
TASK_TIMEOUT_SECONDS = 6 * 3600
MEBIBYTE = 2**20

SELECT_SQL = """
SELECT
    TIMESTAMPTZ '2026-03-01 00:00:00+00'
        + to_microseconds(CAST(i * {step_us} + random() * {jitter_us} AS BIGINT)) AS ts,
    ['INFO', 'INFO', 'INFO', 'WARN', 'ERROR', 'DEBUG'][1 + (i % 6)] AS level,
    'host-' || lpad(CAST(i % 64 AS VARCHAR), 2, '0') AS host,
    ['api', 'auth', 'billing', 'search', 'worker'][1 + (i % 5)] AS service,
    md5(CAST(i AS VARCHAR)) AS trace_id,
    [200, 200, 200, 201, 204, 301, 400, 404, 500, 503][1 + CAST(random() * 9 AS INT)] AS status,
    round(random() * 1500, 3) AS latency_ms,
    ['GET', 'POST', 'PUT', 'DELETE'][1 + (i % 4)] || ' /api/v1/'
        || ['orders', 'users', 'invoices', 'sessions'][1 + (i % 4)] || '/'
        || CAST(CAST(random() * 1e6 AS INT) AS VARCHAR) || ' completed status='
        || CAST(i % 600 AS VARCHAR) || ' user=' || substr(md5(CAST(i * 7 AS VARCHAR)), 1, 12)
        || ' region=eu-west-1 msg="' || substr(md5(CAST(i * 13 AS VARCHAR)), 1, 24)
        || ' upstream latency within budget"' AS message
FROM range({records}) AS t(i)
"""
BUILD_SQL = "CREATE TABLE records AS" + SELECT_SQL
# The dataset's fields as logsluice stores them (its field types: BIGINT, DOUBLE, VARCHAR).
FIELD_TYPES = {
    "level": "VARCHAR",
    "host": "VARCHAR",
    "service": "VARCHAR",
    "trace_id": "VARCHAR",
    "status": "BIGINT",
    "latency_ms": "DOUBLE",
    "message": "VARCHAR",
}


def select_sql(records: int) -> str:
    """Return the SELECT yielding ``records`` synthetic records over one day from BASE_TIME."""
    step_us = SPAN // timedelta(microseconds=1) // records
    return SELECT_SQL.format(records=records, step_us=step_us, jitter_us=step_us * 50)


# --- the task mode: through logsluice serve ----------------------------------------------------


@dataclass
class Side:
    """One side's measurement of one format: rows in its file, wall seconds, peak RSS."""

    rows: int
    seconds: float
    peak_rss_bytes: int
    output_bytes: int
    columns: list[str]
    idle_rss_bytes: int = 0
    cpu_seconds: float = 0.0


def server_settings(arguments: argparse.Namespace) -> dict[str, str]:
    """Return the ``LOGSLUICE_*`` settings serve runs with in this bench."""
    return {
        "LOGSLUICE_WORKERS": str(arguments.workers),
        "LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES": str(arguments.memory_limit_bytes),
        "LOGSLUICE_DUCKDB_CACHE_LIMIT_BYTES": str(arguments.cache_limit_bytes),
        "LOGSLUICE_DUCKDB_THREADS": str(arguments.threads),
        "LOGSLUICE_LOG_LEVEL": "warning",
        **getattr(arguments, "extra_settings", {}),
    }


def prepare_data_dir(records: int, arguments: argparse.Namespace) -> Path:
    """Return a logsluice data directory holding ``records`` records, loading it if needed."""
    root = OUT / f"task-{records}"
    data_dir = root / "data"
    marker = root / LOADED_MARKER
    if not arguments.rebuild and marker.exists() and marker.read_text().strip() == str(records):
        print(f"reusing {data_dir} ({records:,} records)")
        return data_dir
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    with (
        serving.running_server(data_dir, server_settings(arguments)) as server,
        server.client() as c,
    ):
        serving.create_logstore(c, PROJECT, LOGSTORE, TIME_FIELD)
    load_records(data_dir / "logs.duckdb", records, arguments.threads)
    marker.write_text(str(records))
    print(f"loaded {records:,} records into {data_dir} in {time.perf_counter() - started:.1f} s")
    return data_dir


def load_records(database: Path, records: int, threads: int) -> None:
    """Fill the logstore's table directly: its fields with logsluice's types, rows by time."""
    import duckdb

    table = f'"{PROJECT}"."{LOGSTORE}"'
    connection = duckdb.connect(str(database), config={"threads": threads})
    try:
        for name, type_sql in FIELD_TYPES.items():
            connection.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {type_sql}')
        columns = ", ".join(f'"{name}"' for name in (TIME_FIELD, *FIELD_TYPES))
        casts = ", ".join(f'CAST("{name}" AS {type_sql})' for name, type_sql in FIELD_TYPES.items())
        connection.execute(
            f'INSERT INTO {table} ({columns}) SELECT "{TIME_FIELD}", {casts} '
            f'FROM ({select_sql(records)}) ORDER BY "{TIME_FIELD}"'
        )
        connection.execute("CHECKPOINT")
    finally:
        connection.close()


def task_body(export_format: str) -> dict[str, Any]:
    """Return the create body of the download task exporting everything in ``export_format``."""
    return {
        "logstore": LOGSTORE,
        "query": "*",
        "from": BASE_TIME.isoformat(),
        "to": (BASE_TIME + 2 * SPAN).isoformat(),
        "format": export_format,
        "compression": "zstd",
    }


def wait_for_task(client: Any, task_id: str) -> dict[str, Any]:
    """Poll the task until it finishes; return it. Raises BenchError unless it SUCCEEDED."""
    path = f"/api/v1/projects/{PROJECT}/download-tasks/{task_id}"
    deadline = time.monotonic() + TASK_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        task: dict[str, Any] = serving.call(client, "GET", path)
        if task["status"] == "SUCCEEDED":
            return task
        if task["status"] in {"FAILED", "CANCELLED", "EXPIRED"}:
            raise serving.BenchError(f"task {task_id} ended {task['status']}: {task['error']}")
        time.sleep(POLL_SECONDS)
    raise serving.BenchError(f"task {task_id} did not finish in {TASK_TIMEOUT_SECONDS} s")


def measure_task(data_dir: Path, export_format: str, arguments: argparse.Namespace) -> Side:
    """Run one download task through a fresh ``logsluice serve``; count its file; delete it."""
    with serving.running_server(data_dir, server_settings(arguments)) as server:
        idle_rss_bytes = server.rss_bytes()
        with server.client() as client:
            started, cpu_started = time.perf_counter(), server.cpu_seconds()
            created = serving.call(
                client,
                "POST",
                f"/api/v1/projects/{PROJECT}/download-tasks",
                json=task_body(export_format),
            )
            task = wait_for_task(client, created["id"])
            seconds = time.perf_counter() - started
            cpu_seconds = server.cpu_seconds() - cpu_started
            peak_rss_bytes = server.peak_rss_bytes()
            artifact = data_dir / "artifacts" / PROJECT / task["id"] / task["file_name"]
            rows = count_rows(artifact, export_format)
            if rows != task["rows_written"]:
                raise serving.BenchError(
                    f"{artifact} holds {rows} rows, the task says {task['rows_written']}"
                )
            output_bytes = artifact.stat().st_size
            columns = read_columns(artifact, export_format)
            serving.call(
                client, "DELETE", f"/api/v1/projects/{PROJECT}/download-tasks/{task['id']}"
            )
    return Side(rows, seconds, peak_rss_bytes, output_bytes, columns, idle_rss_bytes, cpu_seconds)


def exported_columns(data_dir: Path, arguments: argparse.Namespace) -> list[str]:
    """Return the logstore's fields in the order a ``*`` task exports them (time first)."""
    settings = server_settings(arguments)
    with serving.running_server(data_dir, settings) as server, server.client() as client:
        logstore = serving.call(client, "GET", f"/api/v1/projects/{PROJECT}/logstores/{LOGSTORE}")
    return [field["name"] for field in logstore["fields"]]


def measure_copy(
    data_dir: Path, export_format: str, columns: list[str], arguments: argparse.Namespace
) -> Side:
    """Run DuckDB's ``COPY … TO`` over the same file in a subprocess; count its file."""
    output = OUT / f"copy-{arguments.records_now}.{EXTENSIONS[export_format]}"
    output.unlink(missing_ok=True)
    select = ", ".join(f'"{name}"' for name in columns)
    query = f'SELECT {select} FROM "{PROJECT}"."{LOGSTORE}" ORDER BY "{TIME_FIELD}"'
    command = [
        sys.executable,
        __file__,
        "--child=copy-task",
        f"--database={data_dir / 'logs.duckdb'}",
        f"--output={output}",
        f"--format={export_format}",
        f"--threads={arguments.threads}",
        f"--copy-query={query}",
    ]
    report = run_child_process(command)
    rows = count_rows(output, export_format)
    exported = read_columns(output, export_format)
    output.unlink(missing_ok=True)
    if rows != report["rows"]:
        raise serving.BenchError(f"COPY says {report['rows']} rows, its file holds {rows}")
    # the child's own time (connect + COPY), not its Python start: the baseline's best case
    seconds = report["seconds"]
    return Side(
        rows,
        seconds,
        report["peak_rss_bytes"],
        report["output_bytes"],
        exported,
        cpu_seconds=report["cpu_seconds"],
    )


def count_rows(path: Path, export_format: str) -> int:
    """Count the rows of an exported file: Parquet metadata, else lines (minus a CSV header)."""
    if export_format == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    lines = 0
    with open_text(path) as reader:
        while block := reader.read(16 * MEBIBYTE):
            lines += block.count(b"\n")
    return lines - 1 if export_format == "csv" else lines


def open_text(path: Path) -> Any:
    """Open a zstd-compressed export as a binary stream of its decompressed bytes."""
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(
        path.open("rb"), read_across_frames=True, closefd=True
    )


def read_columns(path: Path, export_format: str) -> list[str]:
    """Return an exported file's column names: Parquet schema, CSV header, first JSON object."""
    if export_format == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    with open_text(path) as reader:
        first_line = reader.read(MEBIBYTE).split(b"\n", 1)[0]
    if export_format == "csv":
        return next(csv.reader([first_line.decode()]))
    return list(json.loads(first_line))


def run_task_mode(arguments: argparse.Namespace) -> bool:
    """Measure every size and format; print the table; return whether everything passed."""
    print(
        f"task mode: workers={arguments.workers} threads={arguments.threads} "
        f"LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES={arguments.memory_limit_bytes} "
        f"LOGSLUICE_DUCKDB_CACHE_LIMIT_BYTES={arguments.cache_limit_bytes} "
        f"(COPY: DuckDB's default memory limit, same threads)"
    )
    rows_out: list[str] = []
    passed = True
    print(TASK_HEADER)
    for records in arguments.records:
        arguments.records_now = records
        try:
            data_dir = prepare_data_dir(records, arguments)
            columns = exported_columns(data_dir, arguments)
        except (serving.BenchError, OSError) as error:
            rows_out.append(f"{records:>12,} FAILED to prepare: {error}")
            print(rows_out[-1], flush=True)
            passed = False
            continue
        print(f"columns: {', '.join(columns)}")
        for export_format in arguments.formats:
            line, ok = measure_format(records, data_dir, export_format, columns, arguments)
            passed &= ok
            rows_out.append(line)
            print(line, flush=True)
    print_task_table(rows_out)
    return passed


def measure_format(
    records: int,
    data_dir: Path,
    export_format: str,
    columns: list[str],
    arguments: argparse.Namespace,
) -> tuple[str, bool]:
    """Measure one format on both sides; return the table line and whether it passed."""
    label = f"{records:>12,} {export_format:<8}"
    try:
        ours = measure_task(data_dir, export_format, arguments)
        copy = measure_copy(data_dir, export_format, columns, arguments)
    except (serving.BenchError, subprocess.CalledProcessError, OSError) as error:
        return f"{label} FAILED: {error}", False
    same = ours.rows == copy.rows == records and ours.columns == copy.columns
    line = (
        f"{label} {ours.rows:>12,} {copy.seconds:>8.2f} {copy.peak_rss_bytes / MEBIBYTE:>8.0f} "
        f"{ours.seconds:>8.2f} {ours.peak_rss_bytes / MEBIBYTE:>8.0f} "
        f"{ours.seconds / copy.seconds:>7.2f} {ours.peak_rss_bytes / copy.peak_rss_bytes:>7.2f}"
        f" {ours.idle_rss_bytes / MEBIBYTE:>8.0f}"
        f" {ours.output_bytes / MEBIBYTE:>8.1f} {copy.output_bytes / MEBIBYTE:>8.1f}"
        f" {copy.cpu_seconds:>7.2f} {ours.cpu_seconds:>7.2f}"
        f" {ours.cpu_seconds / copy.cpu_seconds:>6.2f}"
    )
    if ours.rows != copy.rows or ours.rows != records:
        line += f"  ROW MISMATCH: logsluice {ours.rows:,}, COPY {copy.rows:,}, loaded {records:,}"
    if ours.columns != copy.columns:
        line += f"  COLUMN MISMATCH: logsluice {ours.columns}, COPY {copy.columns}"
    return line, same


TASK_HEADER = (
    f"{'records':>12} {'format':<8} {'rows':>12} {'COPY s':>8} {'COPY MB':>8} "
    f"{'ours s':>8} {'ours MB':>8} {'time ×':>7} {'RSS ×':>7} {'idle MB':>8} "
    f"{'ours out':>8} {'COPY out':>8} {'COPY cpu':>7} {'ours cpu':>7} {'cpu ×':>6}"
)


def print_task_table(lines: list[str]) -> None:
    """Print the summary table; ratios are logsluice / COPY, MB are MiB of peak RSS (VmHWM)."""
    print()
    print("ours = download task through logsluice serve: create → SUCCEEDED seen by the client,")
    print("  peak RSS = serve's VmHWM right after; idle MB = serve's RSS before the task.")
    print(
        "COPY = DuckDB COPY (SELECT … ORDER BY ts) TO in a subprocess: connect + COPY, its VmHWM."
    )
    print("time × and RSS × are ours / COPY; MB are MiB; 'out' columns are file sizes in MiB.")
    print("cpu = CPU-seconds (user + system) of the task in serve and of COPY's process.")
    print(TASK_HEADER)
    for line in lines:
        print(line)


def child_copy_task(arguments: argparse.Namespace) -> dict[str, Any]:
    """In the child: ``COPY (query) TO output`` over the logsluice DuckDB file, read-only."""
    import duckdb

    connection = duckdb.connect(
        arguments.database, read_only=True, config={"threads": arguments.threads}
    )
    connection.execute("SET TimeZone = 'UTC'")
    row = connection.execute(
        f"COPY ({arguments.copy_query}) TO '{arguments.output}' ({COPY_OPTIONS[arguments.format]})"
    ).fetchone()
    connection.close()
    return {"rows": int(row[0]) if row else -1}


# --- the pipeline mode: the export pipeline in-process ------------------------------------------


def build_database(path: Path, records: int) -> None:
    import duckdb

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    step_us = SPAN // timedelta(microseconds=1) // records
    connection = duckdb.connect(str(path))
    connection.execute(BUILD_SQL.format(records=records, step_us=step_us, jitter_us=step_us * 50))
    connection.close()


def child_copy(database: Path, export_format: str, output: Path, threads: int) -> None:
    import duckdb

    connection = duckdb.connect(str(database), read_only=True, config={"threads": threads})
    connection.execute(
        f"COPY (SELECT * FROM records ORDER BY ts) TO '{output}' ({COPY_OPTIONS[export_format]})"
    )


def child_logsluice(
    database: Path, export_format: str, output: Path, arguments: argparse.Namespace
) -> int:
    import duckdb

    from logsluice.adapters.artifacts import LocalArtifactStore
    from logsluice.adapters.artifacts.encoders import build_encoder
    from logsluice.domain.export import Compression, ExportFormat, Order
    from logsluice.domain.timerange import TimeRange
    from logsluice.pipeline.compressors import build_compressor
    from logsluice.pipeline.export import export_slices
    from logsluice.pipeline.slices import Slice, plan_slices

    config = {"threads": arguments.threads, "memory_limit": arguments.memory_limit}
    connection = duckdb.connect(str(database), read_only=True, config=config)
    histogram = connection.sql(
        "SELECT epoch_us(time_bucket(INTERVAL 1 MINUTE, ts)) AS start, count(*) AS count "
        "FROM records GROUP BY ALL"
    ).fetchall()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    buckets = [_Bucket(epoch + timedelta(microseconds=us), count) for us, count in histogram]
    time_range = TimeRange(BASE_TIME, BASE_TIME + SPAN * 2)
    slices = plan_slices(
        time_range,
        Order.ASC,
        target_rows_per_slice=arguments.slice_rows,
        histogram=buckets,
        bucket_width=timedelta(minutes=1),
    )

    def open_reader(item: Slice):  # type: ignore[no-untyped-def]
        start, end = item.time_range.start.isoformat(), item.time_range.end.isoformat()
        query = (
            f"SELECT * FROM records WHERE ts >= TIMESTAMPTZ '{start}' "
            f"AND ts < TIMESTAMPTZ '{end}' ORDER BY ts"
        )
        return connection.sql(query).to_arrow_reader(arguments.batch_rows)

    parquet = export_format == "parquet"
    store = LocalArtifactStore(output.parent)
    result = export_slices(
        slices,
        open_reader,
        build_encoder(ExportFormat(export_format)),
        build_compressor(Compression.NONE if parquet else Compression.ZSTD, None if parquet else 1),
        store,
        output.name,
    )
    return result.rows


class _Bucket:
    def __init__(self, start: datetime, count: int) -> None:
        self.start = start
        self.count = count


def run_child(arguments: argparse.Namespace) -> None:
    """Run one side in this (child) process and print its JSON report on the last line."""
    output = Path(arguments.output)
    started, cpu_started = time.perf_counter(), own_cpu_seconds()
    rows = None
    if arguments.child == "copy-task":
        rows = child_copy_task(arguments)["rows"]
    elif arguments.child == "copy-lake":
        import export_lake

        rows = export_lake.child_copy_lake(arguments)["rows"]
    elif arguments.child == "copy":
        child_copy(Path(arguments.database), arguments.format, output, arguments.threads)
    else:
        rows = child_logsluice(Path(arguments.database), arguments.format, output, arguments)
    report = {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": own_cpu_seconds() - cpu_started,
        "peak_rss_bytes": serving.read_status_bytes(os.getpid(), "VmHWM"),
        "output_bytes": output.stat().st_size,
        "rows": rows,
    }
    print(json.dumps(report))


def own_cpu_seconds() -> float:
    """Return this process's CPU time so far: user + system of all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child_process(command: list[str]) -> dict[str, Any]:
    """Run a child of this script; return its JSON report plus ``wall_seconds`` (spawn to exit)."""
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    wall_seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise serving.BenchError(f"child {command[2]} failed: {completed.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    report["wall_seconds"] = wall_seconds
    return report


def measure_pipeline(
    side: str, export_format: str, database: Path, arguments: argparse.Namespace
) -> dict[str, Any]:
    output = OUT / f"{side}-{arguments.records_now}.{EXTENSIONS[export_format]}"
    output.unlink(missing_ok=True)
    command = [
        sys.executable,
        __file__,
        f"--child={side}",
        f"--format={export_format}",
        f"--database={database}",
        f"--output={output}",
        f"--threads={arguments.threads}",
        f"--memory-limit={arguments.memory_limit}",
        f"--batch-rows={arguments.batch_rows}",
        f"--slice-rows={arguments.slice_rows}",
    ]
    report = run_child_process(command)
    output.unlink(missing_ok=True)
    return report


def run_pipeline_mode(arguments: argparse.Namespace) -> bool:
    """The in-process comparison for every size and format; return whether everything ran."""
    print(
        f"pipeline mode: threads={arguments.threads} memory_limit={arguments.memory_limit} "
        f"slice_rows={arguments.slice_rows:,} batch_rows={arguments.batch_rows:,}"
    )
    passed = True
    for records in arguments.records:
        arguments.records_now = records
        database = OUT / f"export-{records}.duckdb"
        started = time.perf_counter()
        build_database(database, records)
        print(f"database {database} ready in {time.perf_counter() - started:.1f} s")
        print(f"{'format':<8} {'side':<10} {'wall s':>8} {'peak RSS MB':>12} {'output MB':>10}")
        for export_format in arguments.formats:
            try:
                print_pipeline_format(export_format, database, arguments)
            except (serving.BenchError, OSError) as error:
                print(f"{export_format:<8} FAILED: {error}")
                passed = False
    return passed


def print_pipeline_format(
    export_format: str, database: Path, arguments: argparse.Namespace
) -> None:
    copy = measure_pipeline("copy", export_format, database, arguments)
    ours = measure_pipeline("logsluice", export_format, database, arguments)
    for side, report in (("copy", copy), ("logsluice", ours)):
        peak_mebibytes = report["peak_rss_bytes"] / MEBIBYTE
        output_mebibytes = report["output_bytes"] / MEBIBYTE
        print(
            f"{export_format:<8} {side:<10} {report['wall_seconds']:>8.2f} "
            f"{peak_mebibytes:>12.0f} {output_mebibytes:>10.1f}"
        )
    time_ratio = ours["wall_seconds"] / copy["wall_seconds"]
    memory_ratio = ours["peak_rss_bytes"] / copy["peak_rss_bytes"]
    print(
        f"{export_format:<8} {'ratio':<10} {time_ratio:>8.2f}× {memory_ratio:>11.2f}×"
        "  (logsluice / COPY)"
    )


# --- options -----------------------------------------------------------------------------------


def record_counts(text: str) -> list[int]:
    """Parse ``--records``: one count or a comma-separated list (``1000000,10000000``)."""
    counts = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("give one or more positive record counts")
    return counts


def format_list(text: str) -> list[str]:
    """Parse ``--formats``: a comma-separated subset of csv, jsonl, parquet."""
    formats = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"formats are {', '.join(FORMATS)}; got {text!r}")
    return formats


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--mode",
        choices=("task", "pipeline"),
        default="task",
        help="task: a download task through `logsluice serve` vs COPY (default); "
        "pipeline: the export pipeline in-process vs COPY",
    )
    parser.add_argument(
        "--records",
        type=record_counts,
        default=[10_000_000],
        help="records in the dataset; a comma-separated list runs each size in turn, e.g. "
        "1000000,10000000 to see whether peak memory stays flat (default 10000000)",
    )
    parser.add_argument(
        "--formats",
        type=format_list,
        default=list(FORMATS),
        help="comma-separated formats to measure: csv (zstd), jsonl (zstd), parquet (internal "
        "zstd) (default all three)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 2,
        help="DuckDB threads on both sides: LOGSLUICE_DUCKDB_THREADS for serve, the COPY "
        "connection's threads (default: all cores)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="task mode: LOGSLUICE_WORKERS, download-task worker threads in serve (default 1; "
        "one task runs at a time here)",
    )
    parser.add_argument(
        "--memory-limit-bytes",
        type=int,
        default=384 * MEBIBYTE,
        help="task mode: LOGSLUICE_DUCKDB_MEMORY_LIMIT_BYTES of serve (default 402653184, "
        "logsluice's own default)",
    )
    parser.add_argument(
        "--cache-limit-bytes",
        type=int,
        default=64 * MEBIBYTE,
        help="task mode: LOGSLUICE_DUCKDB_CACHE_LIMIT_BYTES of serve (default 67108864, "
        "logsluice's own default)",
    )
    parser.add_argument(
        "--lake",
        choices=("local", "s3"),
        default=None,
        help="task mode on a DuckLake (bench/export_lake.py): local (DuckDB catalog + data "
        "directory; also runs the file store's task for the lake/file ratio) or s3 (PostgreSQL "
        "catalog + moto S3), against COPY from the same lake",
    )
    parser.add_argument(
        "--postgresql-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="--lake s3: the PostgreSQL server whose fresh database catalogs the lake",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="task mode: load the data directory again even if bench/out/task-<records>/ has it",
    )
    parser.add_argument(
        "--memory-limit",
        default="256MB",
        help="pipeline mode: DuckDB memory_limit of the logsluice side (default 256MB)",
    )
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=131_072,
        help="pipeline mode: rows per Arrow batch (default 131072)",
    )
    parser.add_argument(
        "--slice-rows",
        type=int,
        default=1_000_000,
        help="pipeline mode: target rows per slice (default 1000000)",
    )
    internal = parser.add_argument_group("internal (the bench runs itself as a child with these)")
    internal.add_argument(
        "--child",
        choices=("copy", "logsluice", "copy-task", "copy-lake"),
        help="run one side and report",
    )
    internal.add_argument("--lake-url", help="the child's lake (copy-lake)")
    internal.add_argument("--format", choices=FORMATS, help="the child's format")
    internal.add_argument("--database", help="the child's DuckDB file")
    internal.add_argument("--output", help="the child's output file")
    internal.add_argument("--copy-query", help="the child's COPY query (copy-task)")
    return parser.parse_args()


def main() -> int:
    arguments = parse_arguments()
    if arguments.child:
        run_child(arguments)
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    print(serving.describe_run(), flush=True)
    arguments.extra_settings = {}
    if arguments.lake:
        import export_lake

        passed = export_lake.run_lake_mode(arguments)
    else:
        run = run_task_mode if arguments.mode == "task" else run_pipeline_mode
        passed = run(arguments)
    if not passed:
        print("FAILED: see the lines above", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
