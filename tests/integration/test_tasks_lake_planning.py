"""Download tasks on a lake are planned from its catalog: no histogram of the records is read for a
plain ``*`` task, its many slices still hold every row exactly once with the manifest's sha256,
and a filtered task is planned from the records' histogram as before. On a local lake and on a
lake cataloged in PostgreSQL with its data on an S3 server."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from tests.contract.conftest_lake import local_lake_url, new_s3_bucket, postgresql_s3_lake_url
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    TASKS_URL,
    append,
    create,
    decompress,
    download,
    generate_records,
    get,
    load,
    query_rows,
    read_rows,
    run_queued,
)
from tests.s3_server import S3Server

pytestmark = pytest.mark.timeout(300)

RECORDS = generate_records(1500)


class _CountedHistograms:
    """The log store, counting the histograms of records asked of it."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self.histograms = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def histogram(self, *args: Any, **kwargs: Any) -> Any:
        self.histograms += 1
        return self._source.histogram(*args, **kwargs)


def _postgresql_s3_url(request: pytest.FixtureRequest) -> str:
    database: Callable[[], str] = request.getfixturevalue("postgresql_database_factory")
    server: S3Server = request.getfixturevalue("s3_server")
    return postgresql_s3_lake_url(database(), new_s3_bucket(server), server)


@pytest.fixture(
    params=["lake-local", pytest.param("lake-postgresql-s3", marks=pytest.mark.postgresql)]
)
def server(request: pytest.FixtureRequest, make_server: ServerFactory, tmp_path: Path) -> Server:
    if request.param == "lake-local":
        url = local_lake_url(tmp_path / "lake")
    else:
        url = _postgresql_s3_url(request)
    return make_server(log_store_url=url, task_rows_per_slice=150, task_batch_rows=64, workers=0)


@pytest.fixture
def client(server: Server) -> Iterator[TestClient]:
    with authorized_client(server) as test_client:
        load(test_client, RECORDS[:500])  # three appends over the same six hours: three files
        append(test_client, RECORDS[500:1000])
        append(test_client, RECORDS[1000:])
        yield test_client


@pytest.fixture
def counted(server: Server) -> _CountedHistograms:
    """The server's runner reading the log store through a histogram counter."""
    runner = server.container.runner
    counted = _CountedHistograms(runner.source)
    runner.source = counted
    return counted


def test_a_lake_task_is_planned_from_the_catalog_and_exports_every_row_once(
    client: TestClient, server: Server, counted: _CountedHistograms
) -> None:
    task = create(client, query="*", compression="zstd")

    run_queued(server)

    finished = get(client, task["id"])
    assert finished["status"] == "SUCCEEDED", finished
    assert counted.histograms == 0  # planned from the catalog: no histogram of the records
    assert finished["slices_total"] >= 8
    data = download(client, task["id"])
    manifest = client.get(f"{TASKS_URL}/{task['id']}/manifest").json()
    assert hashlib.sha256(data).hexdigest() == manifest["sha256"]
    columns, rows = read_rows(decompress(data, "zstd"), "csv")
    expected_columns, expected_rows = query_rows(client, "*")
    assert columns == expected_columns
    assert Counter(map(tuple, rows)) == Counter(map(tuple, expected_rows))
    assert len(rows) == finished["rows_written"] == len(RECORDS)


def test_a_filtered_lake_task_is_planned_from_the_records(
    client: TestClient, server: Server, counted: _CountedHistograms
) -> None:
    task = create(client, query="status>=200")

    run_queued(server)

    finished = get(client, task["id"])
    assert finished["status"] == "SUCCEEDED", finished
    assert counted.histograms == 1
    assert finished["slices_total"] >= 8
    assert finished["rows_written"] == len(RECORDS)
