"""The time-order check that lets a slice be read in storage order instead of sorted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from logsluice.pipeline.time_order import OutOfTimeOrderError, in_time_order

START = datetime(2026, 3, 1, tzinfo=UTC)


def batch(*offsets_seconds: int | None) -> pa.RecordBatch:
    times = [
        None if offset is None else START + timedelta(seconds=offset) for offset in offsets_seconds
    ]
    return pa.record_batch(
        {
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "n": pa.array(range(len(times)), pa.int64()),
        }
    )


def test_batches_in_time_order_pass_unchanged_equal_times_included() -> None:
    batches = [batch(0, 1, 1, 2), batch(), batch(2, 2, 5), batch(9)]
    assert list(in_time_order(batches)) == batches


@pytest.mark.parametrize(
    ("batches", "reason"),
    [
        ([batch(0, 2, 1)], "steps back in time"),
        ([batch(0, 5), batch(4, 6)], "starts before the previous one ended"),
        ([batch(0, 5), batch(), batch(4)], "starts before the previous one ended"),
        ([batch(0, None, 3)], "no time"),
    ],
)
def test_the_first_step_back_in_time_or_missing_time_raises(
    batches: list[pa.RecordBatch], reason: str
) -> None:
    passed: list[pa.RecordBatch] = []
    with pytest.raises(OutOfTimeOrderError, match=reason):
        passed.extend(in_time_order(batches))
    assert passed == batches[: len(passed)]  # every batch before the faulty one went through
    assert len(passed) < len(batches)


def test_the_time_column_can_be_chosen() -> None:
    swapped = batch(3, 2, 1).select(["n", "ts"])
    assert list(in_time_order([swapped], column=0)) == [swapped]
    with pytest.raises(OutOfTimeOrderError):
        list(in_time_order([swapped], column=1))
