"""Reading turns: a pool of N workers runs 2N threads of which at most N claim or read at once, and
a slice's reader says when it has read everything (the moment its turn is given back)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.export import ReadAhead
from logsluice.pipeline.slices import Slice
from logsluice.services.worker import ReadingTurns

START = datetime(2026, 3, 1, tzinfo=UTC)
SLICE = Slice(0, TimeRange(START, START + timedelta(hours=1)))
SCHEMA = pa.schema([("n", pa.int64())])


def test_at_most_count_turns_are_held_at_once_and_a_turn_given_back_twice_counts_once() -> None:
    turns = ReadingTurns(2)
    shutdown = threading.Event()
    first, second = turns.take(shutdown), turns.take(shutdown)
    assert first is not None
    assert second is not None
    taken: list[object] = []
    waiting = threading.Thread(target=lambda: taken.append(turns.take(shutdown)))
    waiting.start()
    time.sleep(0.3)
    assert taken == []  # both turns are held
    first.give_back()
    first.give_back()  # a second give-back of the same turn frees nothing more
    waiting.join(timeout=5)
    assert len(taken) == 1
    assert taken[0] is not None
    late: list[object] = []
    blocked = threading.Thread(target=lambda: late.append(turns.take(shutdown)))
    blocked.start()
    time.sleep(0.3)
    assert late == []  # still two held: second and the one just taken
    shutdown.set()
    blocked.join(timeout=5)
    assert late == [None]  # a stopped pool takes no turn


def _reader(batches: int, fail: bool = False) -> pa.RecordBatchReader:
    def generate() -> Iterator[pa.RecordBatch]:
        for index in range(batches):
            yield pa.record_batch([pa.array([index], pa.int64())], schema=SCHEMA)
        if fail:
            raise RuntimeError("the store went away")

    return pa.RecordBatchReader.from_batches(SCHEMA, generate())


@pytest.mark.parametrize("fail", [False, True])
def test_the_read_ahead_says_once_when_its_reader_is_done_before_the_last_batch_is_taken(
    fail: bool,
) -> None:
    done = threading.Event()
    calls: list[int] = []

    def on_read() -> None:
        calls.append(1)
        done.set()

    ahead = ReadAhead(lambda item: _reader(3, fail), SLICE, depth=8, on_read=on_read)
    try:
        # with room for every batch, the reader finishes before the consumer takes one
        assert done.wait(5)
        taken: list[int] = []
        with pytest.raises(RuntimeError) if fail else contextlib.nullcontext():
            taken.extend(batch.num_rows for batch in ahead)
        assert taken == [1, 1, 1]
    finally:
        ahead.close()
    assert calls == [1]
