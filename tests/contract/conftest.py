"""Fixtures of the log-store contract suite: one entry per LogStore implementation.

``LOG_STORES`` maps an implementation's id to a factory that opens a fresh, empty store under a
test's temporary directory; a ClickHouse store joins by adding its entry (and skipping, or failing
under ``CI=true``, when its server is missing). The DuckLake stores (a local lake, and PostgreSQL +
S3) are opened once per session and emptied between tests (``conftest_lake.py``). SQL-store
fixtures live in ``conftest_sql.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logsluice.adapters.duckdb import DuckDBLogStore
from logsluice.ports import LogStore
from tests.contract.conftest_lake import LAKE_FIXTURES, reset_lake


def _duckdb_log_store(directory: Path) -> LogStore:
    return DuckDBLogStore(
        directory / "logs.duckdb", memory_limit_bytes=256 * 1024 * 1024, threads=2
    )


LOG_STORES: dict[str, Callable[[Path], LogStore]] = {"duckdb": _duckdb_log_store}


@pytest.fixture(
    params=[
        *sorted(LOG_STORES),
        "lake-local",
        pytest.param("lake-postgresql-s3", marks=pytest.mark.postgresql),
    ]
)
def log_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    """An empty log store of each implementation: a fresh file store, closed after the test, or
    one of the session's lakes (``conftest_lake.py``), emptied after the test."""
    if request.param in LAKE_FIXTURES:
        lake: LogStore = request.getfixturevalue(LAKE_FIXTURES[request.param])
        reset_lake(lake)  # type: ignore[arg-type]
        yield lake
        reset_lake(lake)  # type: ignore[arg-type]
        return
    store = LOG_STORES[request.param](tmp_path)
    yield store
    store.close()
