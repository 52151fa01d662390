"""``logsluice demo-data --write-files DIR``: the sample files the README's quickstart ingests.

Written without a server, from the same seeded generators as ``demo-data``, over whole days ending
now (so they stay inside a 30-day retention):

* ``app-YYYY-MM-DD.jsonl.zst`` — one file per day of application logs in JSON Lines, nested
  (``http.status``, ``http.latency_ms``, ``user.id``, a ``tags`` list), zstd-compressed;
* ``access.csv.gz`` — web access logs as nginx writes them into CSV: ``time_local`` in nginx's
  ``06/Nov/2026:00:04:20 +0000``, ``request``, ``status``, ``body_bytes_sent``, ``request_time``;
* ``cdn.parquet`` — CDN logs with typed columns (the time as a UTC timestamp).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import zstandard

from logsluice.cli.record_files import records_as_jsonl
from logsluice.services.demo_data import DemoDataSpec, generate_demo_records

NGINX_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S +0000"


def demo_range(end: datetime, days: int) -> tuple[datetime, datetime]:
    """Return ``[midnight UTC of the first of ``days`` days, end)``; the last day is ``end``'s."""
    first_day = end.astimezone(UTC).date() - timedelta(days=days - 1)
    return datetime.combine(first_day, time(0), tzinfo=UTC), end


def write_demo_files(directory: Path, spec: DemoDataSpec) -> list[Path]:
    """Write the sample files of ``spec`` into ``directory`` (created); return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = _write_app_days(directory, spec)
    written.append(_write_access_csv(directory / "access.csv.gz", spec))
    written.append(_write_cdn_parquet(directory / "cdn.parquet", spec))
    return written


def _write_app_days(directory: Path, spec: DemoDataSpec) -> list[Path]:
    paths: list[Path] = []
    compressor = zstandard.ZstdCompressor(level=6)
    for day, table in _by_day(pa.concat_tables(generate_demo_records("app", spec))):
        path = directory / f"app-{day}.jsonl.zst"
        path.write_bytes(compressor.compress(records_as_jsonl(table.to_pylist())))
        paths.append(path)
    return paths


def _by_day(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    days = pc.strftime(table.column("timestamp"), format="%Y-%m-%d")
    for day in pc.unique(days).to_pylist():
        yield day, table.filter(pc.equal(days, day))


def _write_access_csv(path: Path, spec: DemoDataSpec) -> Path:
    access = pa.concat_tables(generate_demo_records("access", spec))
    request = pc.binary_join_element_wise(
        access.column("method"), access.column("path"), "HTTP/1.1", " "
    )
    nginx = pa.table(
        {
            "time_local": pc.strftime(
                _whole_seconds(access.column("timestamp")), NGINX_TIME_FORMAT
            ),
            "remote_addr": access.column("client_ip"),
            "request": request,
            "status": access.column("status"),
            "body_bytes_sent": access.column("bytes"),
            "request_time": pc.round(pc.divide(access.column("latency_ms"), 1000.0), 3),
            "http_user_agent": access.column("user_agent"),
        }
    )
    with gzip.open(path, "wb") as file:
        pa_csv.write_csv(nginx, file)
    return path


def _whole_seconds(times: pa.ChunkedArray) -> pa.ChunkedArray:
    """nginx logs whole seconds (Arrow's %S would print the fraction of a finer timestamp)."""
    return pc.cast(times, pa.timestamp("s", "UTC"), safe=False)


def _write_cdn_parquet(path: Path, spec: DemoDataSpec) -> Path:
    pq.write_table(pa.concat_tables(generate_demo_records("cdn", spec)), path)
    return path
