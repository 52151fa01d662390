"""``bench/export.py --lake local|s3``: a download task on a DuckLake against DuckDB ``COPY`` from
the same lake, and (``local``) against the same task on the DuckDB file store, in one run.

For each ``--records`` size: serve is started on a lake (``local``: a DuckDB catalog file and a
data directory under ``bench/out/lake-task-<records>/``, reused by later runs; ``s3``: a fresh
PostgreSQL catalog and a moto bucket from ``lake_servers``), the project and logstore are created
through the API, serve is stopped and the logstore is filled in-process with the file store's
records, sorted by time, through ``DuckLakeLogStore.append`` (``APPEND_ROWS`` records at a time),
so its files are laid out as ingest lays them out. Then per format: the download task through
serve on the lake (as ``measure_task``), and a child process that attaches the same lake and runs
``COPY (SELECT <columns> FROM lake.bench.logs ORDER BY ts) TO …`` (attach + COPY timed). With
``local`` the file store's task of ``bench/export.py`` runs too, so
the table shows lake task / COPY and lake task / file task.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import export
import lake_servers
import pyarrow as pa
import serving

APPEND_ROWS = 500_000
"""Records per append while the lake is filled (ingest appends one request's records at once)."""
LAKE_HEADER = (
    f"{'records':>12} {'format':<8} {'rows':>12} {'COPY s':>8} {'lake s':>8} {'file s':>8} "
    f"{'lake/COPY':>9} {'lake/file':>9} {'lake MB':>8} {'file MB':>8} "
    f"{'COPY cpu':>8} {'lake cpu':>8} {'file cpu':>8} {'cpu l/C':>8}"
)


@contextlib.contextmanager
def lake_location(
    records: int, arguments: argparse.Namespace
) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield the lake URL of this size and the environment that reaches it."""
    if arguments.lake == "local":
        root = export.OUT / f"lake-local-task-{records}"
        yield f"ducklake:{root}/catalog.ducklake?data_path={root}/lake-data", {}
        return
    with lake_servers.lake_servers(
        arguments.postgresql_url, export.OUT / "lake-servers"
    ) as servers:
        yield servers.lake_url(f"bench-{records}"), servers.environment()


def load_lake(
    records: int, lake_url: str, environment: dict[str, str], arguments: argparse.Namespace
) -> Path:
    """Create the logstore through serve on the lake, then fill its table in-process."""
    from logsluice.adapters.duckdb.lake_store import DuckLakeLogStore

    data_dir = export.OUT / f"lake-{arguments.lake}-task-{records}" / "data"
    marker = data_dir.parent / export.LOADED_MARKER
    loaded = f"{records} appended"  # lakes of earlier runs, filled by one INSERT, are refilled
    reusable = marker.exists() and marker.read_text() == loaded and not arguments.rebuild
    if arguments.lake == "local" and reusable:
        print(f"reusing {data_dir.parent} ({records:,} records)")
        return data_dir
    shutil.rmtree(data_dir.parent, ignore_errors=True)  # an s3 lake is new each run
    settings = export.server_settings(arguments)
    with serving.running_server(data_dir, settings) as server, server.client() as client:
        serving.create_logstore(client, export.PROJECT, export.LOGSTORE, export.TIME_FIELD)
    store = DuckLakeLogStore(lake_url, environment=environment, threads=arguments.threads)
    table = f'lake."{export.PROJECT}"."{export.LOGSTORE}"'
    try:
        with store._cursor() as cursor:
            for name, type_sql in export.FIELD_TYPES.items():
                cursor.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {type_sql}')
        for batch in sorted_records(records, arguments.threads):
            store.append(export.PROJECT, export.LOGSTORE, pa.Table.from_batches([batch]))
    finally:
        store.close()
    marker.write_text(loaded)
    return data_dir


def sorted_records(records: int, threads: int) -> Iterator[pa.RecordBatch]:
    """Yield the dataset sorted by time, with logsluice's field types, ``APPEND_ROWS`` at a time.

    The lake is filled through ``DuckLakeLogStore.append``, as ingest fills it, so its files are
    laid out as ingest lays them out: in time order. (One ``INSERT … SELECT … ORDER BY`` straight
    into the lake is not: DuckLake writes with a parallel writer that does not keep the input's
    order, duckdb/ducklake#1356, and a task would read such a lake sorted.)
    """
    connection = duckdb.connect(config={"threads": threads})
    try:
        connection.execute("SET TimeZone = 'UTC'")
        casts = ", ".join(
            f'CAST("{name}" AS {type_sql}) AS "{name}"'
            for name, type_sql in export.FIELD_TYPES.items()
        )
        reader = connection.execute(
            f'SELECT "{export.TIME_FIELD}", {casts} FROM ({export.select_sql(records)}) '
            f'ORDER BY "{export.TIME_FIELD}"'
        ).fetch_record_batch(APPEND_ROWS)
        yield from reader
    finally:
        connection.close()


def measure_copy(
    lake_url: str,
    environment: dict[str, str],
    export_format: str,
    columns: list[str],
    arguments: argparse.Namespace,
) -> export.Side:
    """Attach the lake in a child and ``COPY`` the logstore's records sorted by time."""
    output = export.OUT / f"copy-lake.{export.EXTENSIONS[export_format]}"
    output.unlink(missing_ok=True)
    select = ", ".join(f'"{name}"' for name in columns)
    query = (
        f'SELECT {select} FROM lake."{export.PROJECT}"."{export.LOGSTORE}" '
        f'ORDER BY "{export.TIME_FIELD}"'
    )
    command = [
        sys.executable,
        export.__file__,
        "--child=copy-lake",
        f"--lake-url={lake_url}",
        f"--output={output}",
        f"--format={export_format}",
        f"--threads={arguments.threads}",
        f"--copy-query={query}",
    ]
    os.environ.update(environment)
    report = export.run_child_process(command)
    rows = export.count_rows(output, export_format)
    exported = export.read_columns(output, export_format)
    output.unlink(missing_ok=True)
    return export.Side(
        rows,
        report["seconds"],
        report["peak_rss_bytes"],
        report["output_bytes"],
        exported,
        cpu_seconds=report["cpu_seconds"],
    )


def child_copy_lake(arguments: argparse.Namespace) -> dict[str, Any]:
    """In the child: attach the lake (as logsluice does) and run the COPY."""
    from logsluice.adapters.duckdb.lake_store import DuckLakeLogStore

    store = DuckLakeLogStore(
        arguments.lake_url, environment=dict(os.environ), threads=arguments.threads
    )
    try:
        with store._cursor() as cursor:
            row = cursor.execute(
                f"COPY ({arguments.copy_query}) TO '{arguments.output}' "
                f"({export.COPY_OPTIONS[arguments.format]})"
            ).fetchone()
    finally:
        store.close()
    return {"rows": int(row[0]) if row else -1}


def run_lake_mode(arguments: argparse.Namespace) -> bool:
    """Measure every size and format on the lake; print the table; return whether all passed."""
    print(f"lake mode ({arguments.lake}): threads={arguments.threads} workers={arguments.workers}")
    print(LAKE_HEADER)
    passed = True
    for records in arguments.records:
        arguments.records_now = records
        with lake_location(records, arguments) as (lake_url, environment):
            for export_format, line, ok in measure_size(records, lake_url, environment, arguments):
                passed &= ok
                print(f"{records:>12,} {export_format:<8} {line}", flush=True)
    print("lake s / file s: the download task through serve on the lake / on the DuckDB file;")
    print("COPY s: a child attaching the same lake and running COPY (attach + COPY).")
    print("MB: peak RSS (VmHWM) of serve; cpu: CPU seconds (user + system, all threads) of serve")
    print("during the task, of the COPY child for attach + COPY; cpu l/C: lake cpu / COPY cpu.")
    return passed


def measure_size(
    records: int, lake_url: str, environment: dict[str, str], arguments: argparse.Namespace
) -> Iterator[tuple[str, str, bool]]:
    """Yield (format, table line, passed) for each format of one size."""
    lake_settings = {"LOGSLUICE_LOG_STORE_URL": lake_url, **environment}
    arguments.extra_settings = lake_settings
    data_dir = load_lake(records, lake_url, environment, arguments)
    columns = export.exported_columns(data_dir, arguments)
    for export_format in arguments.formats:
        arguments.extra_settings = lake_settings
        ours = export.measure_task(data_dir, export_format, arguments)
        copy = measure_copy(lake_url, environment, export_format, columns, arguments)
        arguments.extra_settings = {}
        file_side = file_store_task(records, export_format, arguments)
        ok = ours.rows == copy.rows == records and ours.columns == copy.columns
        yield export_format, table_line(ours, copy, file_side) + ("" if ok else " MISMATCH"), ok


def file_store_task(
    records: int, export_format: str, arguments: argparse.Namespace
) -> export.Side | None:
    """With a local lake, the same task on the DuckDB file store (its data directory)."""
    if arguments.lake != "local":
        return None
    return export.measure_task(
        export.prepare_data_dir(records, arguments), export_format, arguments
    )


def table_line(ours: export.Side, copy: export.Side, file_side: export.Side | None) -> str:
    """Return the columns of LAKE_HEADER after records and format."""
    file_seconds = f"{file_side.seconds:>8.2f}" if file_side else f"{'-':>8}"
    file_ratio = f"{ours.seconds / file_side.seconds:>8.2f}x" if file_side else f"{'-':>9}"
    file_mebibytes = f"{file_side.peak_rss_bytes / export.MEBIBYTE:>8.0f}" if file_side else "-"
    file_cpu = f"{file_side.cpu_seconds:>8.2f}" if file_side else f"{'-':>8}"
    return (
        f"{ours.rows:>12,} {copy.seconds:>8.2f} {ours.seconds:>8.2f} {file_seconds} "
        f"{ours.seconds / copy.seconds:>8.2f}x {file_ratio} "
        f"{ours.peak_rss_bytes / export.MEBIBYTE:>8.0f} {file_mebibytes:>8} "
        f"{copy.cpu_seconds:>8.2f} {ours.cpu_seconds:>8.2f} {file_cpu} "
        f"{ours.cpu_seconds / copy.cpu_seconds:>7.2f}x"
    )
