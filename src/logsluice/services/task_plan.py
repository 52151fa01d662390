"""Planning a task's slices and pinning its columns, stable across every run of the task.

Slices already checkpointed keep their ranges; only the rest of the range (after the last
checkpoint in output order) is planned again from a histogram of the task's query, so a resumed run
continues exactly where the last one stopped. A source that can count the rows per bucket without
reading them (a lake, from its catalog: ``PlanningHistogram``) answers the histogram when it can.
A task whose counted rows fit one slice is one slice, planned without the histogram
(:func:`fits_one_slice`). A ``SEARCH | SQL`` query is one
slice: its SQL (aggregations, its own ORDER BY) sees the whole range at once. The columns are
pinned by the first run (stored beside the artifact) and every batch is made to fit them, so
records ingested while a task runs cannot change the file's header or Parquet schema half-way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc

from logsluice.domain.errors import ArtifactNotFoundError, ExportSchemaChangedError
from logsluice.domain.export import Order
from logsluice.domain.tasks import SliceCheckpoint, Task
from logsluice.domain.timerange import TimeRange
from logsluice.pipeline.protocols import PublishedArtifacts
from logsluice.pipeline.slices import Slice, plan_slices
from logsluice.ports import HistogramBucket, PlanningHistogram, RecordReader, RecordsQuery
from logsluice.services.query import choose_bucket
from logsluice.services.task_files import columns_key
from logsluice.services.task_queries import records_query_for

PLANNING_BUCKETS = 2000


@dataclass(frozen=True)
class TaskPlan:
    """Every slice of the task in output order and the rows the whole task should write."""

    slices: list[Slice]
    expected_rows: int | None


def plan_task(
    task: Task,
    source: RecordReader,
    checkpoints: Sequence[SliceCheckpoint],
    *,
    rows_per_slice: int,
) -> TaskPlan:
    """Return the task's slices: the checkpointed ones as they were, then the rest planned anew."""
    done = [Slice(item.slice_index, item.time_range) for item in checkpoints]
    done_rows = sum(item.rows for item in checkpoints)
    remaining = _remaining_range(task, checkpoints)
    if remaining is None:
        return TaskPlan(done, _capped(done_rows, task.spec.limit))
    request = records_query_for(source, task.project, task.spec, time_range=remaining)
    if request.query.has_sql:
        return TaskPlan([*done, Slice(len(done), remaining)], task.estimate_rows)
    if not checkpoints and fits_one_slice(task, rows_per_slice):
        return TaskPlan([Slice(0, remaining)], task.estimate_rows)
    bucket = choose_bucket(remaining, PLANNING_BUCKETS)
    histogram = planning_histogram(source, request, bucket)
    planned = plan_slices(
        remaining,
        task.spec.order,
        target_rows_per_slice=rows_per_slice,
        histogram=histogram,
        bucket_width=bucket,
        boundaries=(
            source.planning_boundaries(request) if isinstance(source, PlanningHistogram) else ()
        ),
    )
    slices = [*done, *(Slice(len(done) + item.index, item.time_range) for item in planned)]
    expected = done_rows + sum(item.count for item in histogram)
    return TaskPlan(slices, _capped(expected, task.spec.limit))


def planning_histogram(
    source: RecordReader, request: RecordsQuery, bucket: timedelta
) -> list[HistogramBucket]:
    """Return the histogram a plan is cut from: the source's own without reading the records (a
    lake's catalog) when it can tell, else the records' histogram."""
    if isinstance(source, PlanningHistogram):
        counted = source.planning_histogram(request, bucket)
        if counted is not None:
            return counted
    return source.histogram(request, bucket)


def fits_one_slice(task: Task, rows_per_slice: int) -> bool:
    """True when the task's rows, counted when it was created (its estimate: a ``count`` over the
    same query, capped by its limit), fit one slice: it is planned as one slice without reading
    the histogram, a second pass over the range (on a lake in an object store, every file's time
    column fetched again). Rows that arrive after the count only make that slice longer."""
    return task.estimate_rows is not None and task.estimate_rows <= rows_per_slice


def _capped(rows: int, limit: int | None) -> int:
    return rows if limit is None else min(rows, limit)


def _remaining_range(task: Task, checkpoints: Sequence[SliceCheckpoint]) -> TimeRange | None:
    whole = task.spec.time_range
    if not checkpoints:
        return whole
    if task.spec.order is Order.ASC:
        start, end = max(item.time_range.end for item in checkpoints), whole.end
    else:
        start, end = whole.start, min(item.time_range.start for item in checkpoints)
    return TimeRange(start, end) if start < end else None


def pinned_schema(
    task: Task, source: RecordReader, artifact_store: PublishedArtifacts
) -> pa.Schema:
    """Return the task's columns: those its first run stored, else the query's (stored now)."""
    key = columns_key(task)
    try:
        stored = b"".join(artifact_store.read(key))
    except ArtifactNotFoundError:
        request = records_query_for(source, task.project, task.spec, limit=0)
        with source.stream(request, 1) as reader:
            schema = reader.schema
        artifact_store.put(key, schema.serialize().to_pybytes())
        return schema
    return pa.ipc.read_schema(pa.py_buffer(stored))


def conformed(reader: pa.RecordBatchReader, schema: pa.Schema) -> pa.RecordBatchReader:
    """Return ``reader``'s rows with exactly ``schema``'s columns (missing ones null).

    The batches raise ExportSchemaChangedError when a column's values no longer fit its type.
    """
    if reader.schema.equals(schema):
        return reader
    return pa.RecordBatchReader.from_batches(schema, _conformed_batches(reader, schema))


def _conformed_batches(reader: pa.RecordBatchReader, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    with reader:
        for batch in reader:
            yield pa.RecordBatch.from_arrays(
                [_column(batch, field) for field in schema], schema=schema
            )


def _column(batch: pa.RecordBatch, field: pa.Field) -> pa.Array:
    index = batch.schema.get_field_index(field.name)
    if index < 0:
        return pa.nulls(batch.num_rows, field.type)
    column = batch.column(index)
    if column.type.equals(field.type):
        return column
    try:
        return pc.cast(column, field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ExportSchemaChangedError(
            f"column {field.name!r} changed from {field.type} to {column.type} while the task ran",
            column=field.name,
        ) from error
