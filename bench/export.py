"""Export benchmark: DuckDB's own ``COPY … TO`` against the logsluice export pipeline, side by side.

Builds (or reuses) a DuckDB database of synthetic log records, then for csv+zstd, jsonl+zstd and
parquet runs each side in its own subprocess and reports wall time, peak RSS (the child's VmHWM)
and output size, with logsluice/COPY ratios. The logsluice side plans slices from a per-minute
histogram, streams each slice with ``con.sql(…).to_arrow_reader`` under a DuckDB
``memory_limit``, and writes through the encoder, compressor and artifact writer into a
LocalArtifactStore.

    .venv/bin/python bench/export.py --records 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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

BUILD_SQL = """
CREATE TABLE records AS
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


def build_database(path: Path, records: int) -> None:
    import duckdb

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    step_us = SPAN // timedelta(microseconds=1) // records
    connection = duckdb.connect(str(path))
    connection.execute(BUILD_SQL.format(records=records, step_us=step_us, jitter_us=step_us * 50))
    connection.close()


def peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


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
    database, output = Path(arguments.database), Path(arguments.output)
    started = time.perf_counter()
    rows = None
    if arguments.child == "copy":
        child_copy(database, arguments.format, output, arguments.threads)
    else:
        rows = child_logsluice(database, arguments.format, output, arguments)
    report = {
        "seconds": time.perf_counter() - started,
        "peak_rss_bytes": peak_rss_bytes(),
        "output_bytes": output.stat().st_size,
        "rows": rows,
    }
    print(json.dumps(report))


def measure(
    side: str, export_format: str, database: Path, arguments: argparse.Namespace
) -> dict[str, float]:
    output = OUT / f"{side}-{arguments.records}.{EXTENSIONS[export_format]}"
    output.unlink(missing_ok=True)
    command = [
        sys.executable,
        __file__,
        "--child",
        side,
        "--format",
        export_format,
        "--database",
        str(database),
        "--output",
        str(output),
        "--threads",
        str(arguments.threads),
        "--memory-limit",
        arguments.memory_limit,
        "--batch-rows",
        str(arguments.batch_rows),
        "--slice-rows",
        str(arguments.slice_rows),
    ]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
    report: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    report["wall_seconds"] = time.perf_counter() - started
    output.unlink(missing_ok=True)
    return report


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--memory-limit", default="256MB", help="DuckDB memory_limit, logsluice side"
    )
    parser.add_argument("--batch-rows", type=int, default=131_072)
    parser.add_argument("--slice-rows", type=int, default=1_000_000)
    parser.add_argument("--child", choices=("copy", "logsluice"))
    parser.add_argument("--format", choices=FORMATS)
    parser.add_argument("--database")
    parser.add_argument("--output")
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    if arguments.child:
        run_child(arguments)
        return
    database = OUT / f"export-{arguments.records}.duckdb"
    started = time.perf_counter()
    build_database(database, arguments.records)
    print(f"database {database} ready in {time.perf_counter() - started:.1f} s")
    print(
        f"records={arguments.records:,} threads={arguments.threads} "
        f"memory_limit={arguments.memory_limit} slice_rows={arguments.slice_rows:,} "
        f"batch_rows={arguments.batch_rows:,}"
    )
    header = f"{'format':<8} {'side':<10} {'wall s':>8} {'peak RSS MB':>12} {'output MB':>10}"
    print(header)
    for export_format in arguments.formats.split(","):
        copy = measure("copy", export_format, database, arguments)
        ours = measure("logsluice", export_format, database, arguments)
        for side, report in (("copy", copy), ("logsluice", ours)):
            print(
                f"{export_format:<8} {side:<10} {report['wall_seconds']:>8.2f} "
                f"{report['peak_rss_bytes'] / 2**20:>12.0f} {report['output_bytes'] / 2**20:>10.1f}"
            )
        time_ratio = ours["wall_seconds"] / copy["wall_seconds"]
        memory_ratio = ours["peak_rss_bytes"] / copy["peak_rss_bytes"]
        print(
            f"{export_format:<8} {'ratio':<10} {time_ratio:>8.2f}× {memory_ratio:>11.2f}×"
            "  (logsluice / COPY)"
        )


if __name__ == "__main__":
    main()
