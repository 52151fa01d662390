"""The running task's progress as the heartbeat stores it: live rows and bytes, never backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from logsluice.domain.tasks import SliceCheckpoint, SliceStatus
from logsluice.domain.timerange import TimeRange
from logsluice.services.runner import _Progress

START = datetime(2026, 3, 1, tzinfo=UTC)


def checkpoint(index: int, rows: int, offset_bytes: int) -> SliceCheckpoint:
    start = START + timedelta(hours=index)
    return SliceCheckpoint(
        task_id="task",
        slice_index=index,
        time_range=TimeRange(start, start + timedelta(hours=1)),
        rows=rows,
        offset_bytes=offset_bytes,
        status=SliceStatus.DONE,
        written_at=START,
    )


def test_bytes_move_between_checkpoints() -> None:
    progress = _Progress(expected_rows=300, slices_total=3)
    progress.add_rows(50)
    progress.set_bytes(4_096)
    snapshot = progress.snapshot()
    assert (snapshot.rows_written, snapshot.bytes_written) == (50, 4_096)


def test_a_retried_slice_is_not_counted_twice() -> None:
    progress = _Progress(expected_rows=300, slices_total=3)
    done = [checkpoint(0, 100, 1_000)]
    progress.checkpoint(done)
    progress.add_rows(60)  # the next slice fails after 60 rows …
    progress.set_bytes(1_600)
    progress.checkpoint(done)  # … and is tried again from the checkpoint
    progress.add_rows(10)
    snapshot = progress.snapshot()
    assert (snapshot.rows_written, snapshot.bytes_written) == (110, 1_000)


def test_rows_read_past_the_limit_are_not_shown() -> None:
    progress = _Progress(expected_rows=100, limit=100, slices_total=1)
    progress.add_rows(65_536)  # the last batch is cut at the limit
    assert progress.snapshot().rows_written == 100


def test_the_percent_is_at_least_the_finished_slices_share() -> None:
    progress = _Progress(expected_rows=3_000, slices_total=3)
    progress.checkpoint([checkpoint(0, 900, 10)])  # fewer rows than the histogram said
    assert progress.snapshot().progress == 33.3


def test_a_sql_tasks_progress_follows_its_engine_below_100() -> None:
    progress = _Progress(expected_rows=None, slices_total=1)
    assert progress.snapshot().progress == 0.0
    readings = iter([12.5, 7.0, None, 100.0])
    with progress.engine.probing(lambda: next(readings)):
        assert progress.snapshot().progress == 12.5
        assert progress.snapshot().progress == 12.5  # an engine reading never goes back
        assert progress.snapshot().progress == 12.5  # unknown: the last reading stays
        assert progress.snapshot().progress == 99.9  # done with the query, not with the file
    assert progress.snapshot().progress == 99.9
