"""Planning a download task on a lake: the histogram of the records against the catalog's.

Fills a lake on PostgreSQL + an S3 server (``lake_servers``: moto) with the dataset of
``bench/export.py`` (``--records`` over about one day, appended sorted by time,
``export_lake.APPEND_ROWS`` records at a time, as ``bench/export.py --lake s3`` fills it), then
times, alternately and ``--repeats`` times each, the two answers a task's planning can get for a
plain ``*`` over the export bench's task range (two days) with the planner's bucket:
``DuckLakeLogStore.histogram`` (a query over every data file's time column) and
``DuckLakeLogStore.planning_histogram`` (the catalog's row counts and time min/max). Prints each
side's times; both must count every record.

    .venv/bin/python bench/lake_planning.py --records 2000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import export
import export_lake
import lake_servers
import pyarrow as pa

from logsluice.adapters.duckdb.lake_store import DuckLakeLogStore
from logsluice.domain.catalog import Logstore
from logsluice.domain.timerange import TimeRange
from logsluice.ports import HistogramBucket, RecordsQuery
from logsluice.services.query import choose_bucket
from logsluice.services.task_plan import PLANNING_BUCKETS


def fill(store: DuckLakeLogStore, records: int, threads: int) -> None:
    """Create the bench's logstore and append its records sorted by time, as the export bench."""
    store.create_logstore(
        Logstore(export.PROJECT, export.LOGSTORE, 7, export.TIME_FIELD, export.BASE_TIME)
    )
    table = f'lake."{export.PROJECT}"."{export.LOGSTORE}"'
    with store._cursor() as cursor:
        for name, type_sql in export.FIELD_TYPES.items():
            cursor.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {type_sql}')
    for batch in export_lake.sorted_records(records, threads):
        store.append(export.PROJECT, export.LOGSTORE, pa.Table.from_batches([batch]))


def timed(work: Callable[[], list[HistogramBucket] | None]) -> tuple[float, int]:
    started = time.perf_counter()
    buckets = work()
    seconds = time.perf_counter() - started
    if buckets is None:
        raise SystemExit("the catalog could not answer the histogram")
    return seconds, sum(item.count for item in buckets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--postgresql-url", default="postgresql://postgres@127.0.0.1:5432")
    arguments = parser.parse_args()
    with lake_servers.lake_servers(
        arguments.postgresql_url, export.OUT / "lake-servers"
    ) as servers:
        url = servers.lake_url(f"planning-{arguments.records}")
        store = DuckLakeLogStore(url, environment=servers.environment(), threads=arguments.threads)
        try:
            fill(store, arguments.records, arguments.threads)
            time_range = TimeRange(export.BASE_TIME, export.BASE_TIME + 2 * export.SPAN)
            request = RecordsQuery(
                export.PROJECT, export.LOGSTORE, store.parse_query("*"), time_range
            )
            bucket = choose_bucket(time_range, PLANNING_BUCKETS)
            sides: dict[str, list[float]] = {"records": [], "catalog": []}
            for _ in range(arguments.repeats):
                for name, work in (
                    ("records", lambda: store.histogram(request, bucket)),
                    ("catalog", lambda: store.planning_histogram(request, bucket)),
                ):
                    seconds, total = timed(work)
                    if total != arguments.records:
                        raise SystemExit(f"{name} counted {total:,} of {arguments.records:,}")
                    sides[name].append(seconds)
            files = len(store.data_files(export.PROJECT, export.LOGSTORE))
        finally:
            store.close()
    print(f"{arguments.records:,} records in {files} data files, bucket {bucket}")
    for name, seconds in sides.items():
        listed = ", ".join(f"{value:.3f}" for value in seconds)
        print(f"{name:>8}: median {statistics.median(seconds):.3f} s ({listed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
