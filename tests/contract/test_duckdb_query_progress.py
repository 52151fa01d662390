"""DuckDB reports how far a running ``| SQL`` query is, read from another thread (QueryProgress)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from logsluice.adapters.duckdb.log_store import DuckDBLogStore
from logsluice.adapters.duckdb.query_language import parse_duckdb_query
from logsluice.domain.catalog import Logstore
from logsluice.domain.query_progress import QueryProgress
from logsluice.domain.timerange import TimeRange
from logsluice.ports import RecordsQuery

pytestmark = pytest.mark.slow
BASE = datetime(2026, 3, 1, tzinfo=UTC)
ROWS = 4_000_000


def test_a_long_sql_query_reports_progress_between_0_and_100(tmp_path: Path) -> None:
    store = DuckDBLogStore(tmp_path / "logs.duckdb")
    store.create_logstore(Logstore("shop", "app", 30, "timestamp", BASE))
    numbers = pa.array(range(ROWS), pa.int64())
    micros = pc.add(pc.multiply(numbers, 10), int(BASE.timestamp() * 1_000_000))
    store.append(
        "shop",
        "app",
        pa.table(
            {
                "timestamp": pc.cast(micros, pa.timestamp("us", "UTC")),
                "n": numbers,
                "k": pc.bit_wise_and(numbers, 4095),
            }
        ),
    )
    query = parse_duckdb_query(
        "* | select k, median(n) as m, approx_count_distinct(n * 7919 % 100003) as d "
        "group by k order by k"
    )
    progress = QueryProgress()
    request = RecordsQuery("shop", "app", query, TimeRange(BASE, BASE + timedelta(days=1)),
                           progress=progress)  # fmt: skip
    readings: list[float] = []
    finished = threading.Event()

    def run() -> None:
        with store.stream(request, 1024) as reader:
            for _ in reader:
                pass
        finished.set()

    worker = threading.Thread(target=run)
    worker.start()
    while not finished.wait(0.02):
        percent = progress.percent()
        if percent is not None:
            readings.append(percent)
    worker.join()
    store.close()
    assert readings, "no progress was reported while the query ran"
    assert all(0 <= value <= 100 for value in readings)
    assert readings == sorted(readings)
    assert any(0 < value < 100 for value in readings), readings[:20]


def test_progress_without_a_running_query_is_unknown() -> None:
    assert QueryProgress().percent() is None
