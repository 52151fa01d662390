"""Cutting a sorted export slice into pieces, and reading the pieces one after another."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from logsluice.adapters.duckdb import sorted_pieces
from logsluice.adapters.duckdb.sorted_pieces import PieceReaders, piece_bucket, plan_pieces
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.ports import HistogramBucket

START = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = TimeRange(START, START + 24 * HOUR)


def hourly(counts: list[int]) -> list[HistogramBucket]:
    return [HistogramBucket(START + index * HOUR, count) for index, count in enumerate(counts)]


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sorted_pieces, "PIECE_ROWS", 100)


def test_a_range_within_the_piece_size_is_one_piece(small_pieces: None) -> None:
    assert plan_pieces(DAY, hourly([40, 60]), Order.ASC) == [DAY]
    assert plan_pieces(DAY, [], Order.DESC) == [DAY]


def test_pieces_cover_the_range_and_end_at_bucket_starts_before_passing_the_size(
    small_pieces: None,
) -> None:
    pieces = plan_pieces(DAY, hourly([60, 30, 20, 250, 10, 90, 5]), Order.ASC)
    assert pieces == [
        TimeRange(START, START + 2 * HOUR),  # 90
        TimeRange(START + 2 * HOUR, START + 3 * HOUR),  # 20: the next bucket alone passes
        TimeRange(START + 3 * HOUR, START + 4 * HOUR),  # 250, more than a piece: on its own
        TimeRange(START + 4 * HOUR, START + 6 * HOUR),  # 100, exactly a piece
        TimeRange(START + 6 * HOUR, DAY.end),  # 5
    ]


def test_a_descending_slice_reads_its_newest_piece_first(small_pieces: None) -> None:
    ascending = plan_pieces(DAY, hourly([80, 80, 80]), Order.ASC)
    assert len(ascending) == 3
    assert plan_pieces(DAY, hourly([80, 80, 80]), Order.DESC) == ascending[::-1]


def test_buckets_aligned_before_the_range_never_cut_outside_it(small_pieces: None) -> None:
    inside = TimeRange(START + 30 * timedelta(minutes=1), START + 3 * HOUR)
    pieces = plan_pieces(inside, hourly([90, 90, 90]), Order.ASC)
    assert pieces[0].start == inside.start
    assert pieces[-1].end == inside.end
    assert [piece.start for piece in pieces[1:]] == [START + HOUR, START + 2 * HOUR]


def test_the_counting_bucket_splits_the_range_finely_and_is_never_zero() -> None:
    assert piece_bucket(DAY) == timedelta(days=1) / sorted_pieces.PIECE_BUCKETS
    assert piece_bucket(TimeRange(START, START + timedelta(microseconds=3))) == timedelta(
        microseconds=1
    )


@pytest.fixture
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    database = duckdb.connect(":memory:", config={"threads": 2})
    database.execute("CREATE TABLE numbers AS SELECT i FROM range(1000) AS t(i)")
    yield database
    database.close()


def piece_statements(pieces: int, size: int = 100) -> list[str]:
    return [
        f"SELECT i FROM numbers WHERE i >= {p * size} AND i < {(p + 1) * size} ORDER BY i DESC"
        for p in range(pieces)
    ]


def test_the_pieces_batches_come_in_statement_order(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    readers = PieceReaders(connection, piece_statements(4), batch_rows=30)
    try:
        assert readers.open().names == ["i"]
        values = [value for batch in readers.batches() for value in batch.column(0).to_pylist()]
    finally:
        readers.close()
    assert values == [
        value for piece in range(4) for value in range(piece * 100 + 99, piece * 100 - 1, -1)
    ]


SLOW = (
    "SELECT count(*) AS n FROM numbers a, numbers b, numbers c, numbers d "
    "WHERE a.i + b.i + c.i + d.i = -1"
)


def test_an_interrupt_stops_the_sort_ahead_and_every_later_piece(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    readers = PieceReaders(connection, [piece_statements(1)[0], SLOW, SLOW], batch_rows=30)
    try:
        readers.open()
        batches = readers.batches()
        first = next(batches)
        assert first.num_rows > 0
        threading.Timer(0.2, readers.interrupt).start()
        with pytest.raises(duckdb.InterruptException):  # the cross join would run for hours
            list(batches)
    finally:
        readers.close()


def test_closing_while_a_piece_is_sorted_ahead_stops_it_and_closes_every_cursor(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    readers = PieceReaders(connection, [piece_statements(1)[0], SLOW], batch_rows=30)
    readers.open()
    readers.close()  # returns: the cross join sorted ahead was interrupted
    with pytest.raises(duckdb.InterruptException):  # and no piece opens afterwards
        readers._open(SLOW)
