"""Slices read in storage order: taken when the log store keeps records sorted by time (each append
is stored sorted, compaction sorts the whole table), checked, and read again sorted when the check
fails; the file's rows are the same either way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from logsluice.bootstrap import Server
from tests.integration.api_checks import authorized_client
from tests.integration.conftest import ServerFactory
from tests.integration.tasks_support import (
    append,
    decompress,
    download,
    generate_records,
    get,
    load,
    query_rows,
    read_rows,
    run_queued,
)
from tests.integration.tasks_support import create as create_task

RECORDS = generate_records(1200, seed=23)


@pytest.fixture
def server(make_server: ServerFactory) -> Server:
    return make_server(task_rows_per_slice=200, task_batch_rows=50, workers=0)


@pytest.fixture
def client(server: Server) -> Iterator[TestClient]:
    with authorized_client(server) as test_client:
        # two ingests over the same six hours: each is stored sorted, the table is not
        load(test_client, RECORDS[:600])
        append(test_client, RECORDS[600:])
        yield test_client


@pytest.fixture
def sorts(server: Server) -> Iterator[list[bool]]:
    """The ``sort`` flag of every slice read the runner asks the log store for."""
    source = server.container.runner.source
    stream = source.stream
    seen: list[bool] = []

    def spying(request: Any, batch_rows: int) -> Any:
        if request.limit != 0:  # a limit of 0 is the column probe, not a slice
            seen.append(request.sort)
        return stream(request, batch_rows)

    source.stream = spying  # type: ignore[method-assign]
    yield seen
    del source.stream


def export_rows(
    client: TestClient, server: Server, export_format: str, order: str = "asc"
) -> list[list[str]]:
    task = create_task(client, query="*", format=export_format, compression="zstd", order=order)
    assert run_queued(server) == 1
    assert get(client, task["id"])["status"] == "SUCCEEDED"
    outer = "none" if export_format == "parquet" else "zstd"
    columns, rows = read_rows(decompress(download(client, task["id"]), outer), export_format)
    expected_columns, expected_rows = query_rows(client, "*", order=order)
    assert columns == expected_columns
    assert Counter(map(tuple, rows)) == Counter(map(tuple, expected_rows))
    times = [row[0] for row in rows]
    assert times == sorted(times, reverse=order == "desc")
    return rows


@pytest.mark.parametrize("export_format", ["csv", "jsonl", "parquet"])
def test_unsorted_storage_is_detected_and_the_slices_are_sorted(
    client: TestClient, server: Server, sorts: list[bool], export_format: str
) -> None:
    export_rows(client, server, export_format)
    first_sorted = sorts.index(True)
    assert first_sorted > 0  # tried in storage order first
    assert not any(sorts[:first_sorted])
    assert all(sorts[first_sorted:])  # then every slice sorted, the failed one again


def test_records_stored_in_time_order_are_read_in_storage_order_every_slice(
    server: Server, sorts: list[bool]
) -> None:
    with authorized_client(server) as client:
        load(client, RECORDS)  # one append, which the store keeps sorted by time
        sorted_rows = export_rows(client, server, "csv")
        assert len(sorts) >= 5
        assert not any(sorts)
    assert len(sorted_rows) == len(RECORDS)


def test_newest_first_is_always_sorted(
    client: TestClient, server: Server, sorts: list[bool]
) -> None:
    export_rows(client, server, "csv", order="desc")
    assert sorts
    assert all(sorts)
