"""Fixtures of the log-store contract suite: one entry per LogStore implementation.

``LOG_STORES`` maps an implementation's id to a factory that opens a fresh, empty store under a
test's temporary directory; a ClickHouse store joins by adding its entry (and skipping, or failing
under ``CI=true``, when its server is missing). SQL-store fixtures live in ``conftest_sql.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logsluice.adapters.duckdb import DuckDBLogStore
from logsluice.ports import LogStore


def _duckdb_log_store(directory: Path) -> LogStore:
    return DuckDBLogStore(
        directory / "logs.duckdb", memory_limit_bytes=256 * 1024 * 1024, threads=2
    )


LOG_STORES: dict[str, Callable[[Path], LogStore]] = {"duckdb": _duckdb_log_store}


@pytest.fixture(params=sorted(LOG_STORES))
def log_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogStore]:
    """A fresh, empty log store of each implementation, closed after the test."""
    store = LOG_STORES[request.param](tmp_path)
    yield store
    store.close()
