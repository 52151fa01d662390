"""A sliced task's counters, summed from its slices at each slice heartbeat and ending.

Rows and bytes written are the sums over every slice (running ones too); ``slices_done`` counts
the finished ones. The progress shown is the largest of the share of finished slices, the
worker's own estimate and the rows written against the rows the task will write, held below
``RUNNING_PERCENT_CEILING`` while the task runs and never lowered.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, case, func, select

from logsluice.adapters.sql.metadata import task_slices
from logsluice.adapters.sql.task_updates import FINISHED_VALUES
from logsluice.domain.tasks import Task

RUNNING_PERCENT_CEILING = 99.9


def task_counters(connection: Connection, task: Task, progress: float | None) -> dict[str, Any]:
    """Return the task's columns ``rows_written``, ``bytes_written``, ``slices_done`` and
    ``progress`` as its slices now stand (``progress``: the worker's estimate, or None)."""
    sums = _slice_sums(connection, task.id)
    share = 100.0 * int(sums.finished) / max(int(sums.total), 1)
    percent = min(
        max(share, progress or 0.0, _rows_percent(task, int(sums.rows))),
        RUNNING_PERCENT_CEILING,
    )
    return {
        "rows_written": int(sums.rows),
        "bytes_written": int(sums.size_bytes),
        "slices_done": int(sums.finished),
        "progress": max(task.progress, round(percent, 1)),
    }


def _slice_sums(connection: Connection, task_id: str) -> Row[Any]:
    finished = task_slices.c.status.in_(FINISHED_VALUES)
    return connection.execute(
        select(
            func.coalesce(func.sum(task_slices.c.rows), 0).label("rows"),
            func.coalesce(func.sum(task_slices.c.size_bytes), 0).label("size_bytes"),
            func.count().label("total"),
            func.coalesce(func.sum(case((finished, 1), else_=0)), 0).label("finished"),
        ).where(task_slices.c.task_id == task_id)
    ).one()


def _rows_percent(task: Task, rows: int) -> float:
    """The rows written by every slice (running ones too) as a share of the rows the task will
    write (its estimate, capped by its limit); 0 while no estimate is known."""
    expected = task.estimate_rows
    if task.spec.limit is not None and expected is not None:
        expected = min(expected, task.spec.limit)
    if not expected:
        return 0.0
    return 100.0 * rows / expected
