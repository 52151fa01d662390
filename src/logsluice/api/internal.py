"""Internal endpoints that let ``logsluice worker`` processes read records through this node.

An embedded DuckDB file is open in one process only (``serve``), so worker processes ask this node
for a logstore's schema, counts, histograms and rows, the rows as an Arrow IPC stream. Only the
admin may call them. They are not part of the public API (hidden from the OpenAPI page).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from logsluice.api.context import Caller, Context
from logsluice.api.internal_stream import (
    InterruptibleStreamingResponse,
    run_until_disconnected,
    run_until_disconnected_with,
)
from logsluice.domain.cancellation import Cancellation
from logsluice.domain.export import Order
from logsluice.domain.timerange import TimeRange
from logsluice.ports import HistogramBucket, RecordReader, RecordsQuery

ARROW_STREAM_MEDIA_TYPE = "application/vnd.apache.arrow.stream"

router = APIRouter(prefix="/internal/v1/records", include_in_schema=False)


def get_records(context: Context, caller: Caller) -> RecordReader:
    """Return the node's record source after checking the caller is the admin."""
    caller.require_admin()
    records: RecordReader = context.records
    return records


Records = Annotated[RecordReader, Depends(get_records)]


class RecordsQueryBody(BaseModel):
    project: str
    logstore: str
    query: str
    start: datetime
    end: datetime
    order: Order = Order.ASC
    limit: int | None = Field(default=None, ge=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    sort: bool = True

    def to_request(
        self, records: RecordReader, cancellation: Cancellation | None = None
    ) -> RecordsQuery:
        timeout = timedelta(seconds=self.timeout_seconds) if self.timeout_seconds else None
        return RecordsQuery(
            project=self.project,
            logstore=self.logstore,
            query=records.parse_query(self.query),
            time_range=TimeRange(self.start, self.end),
            order=self.order,
            limit=self.limit,
            timeout=timeout,
            sort=self.sort,
            cancellation=cancellation,
        )


class SchemaBody(BaseModel):
    project: str
    logstore: str


class CountBody(BaseModel):
    request: RecordsQueryBody


class HistogramBody(BaseModel):
    request: RecordsQueryBody
    bucket_microseconds: int = Field(gt=0)


class StreamBody(BaseModel):
    request: RecordsQueryBody
    batch_rows: int = Field(default=65_536, ge=1, le=1_048_576)


@router.post("/schema")
def read_schema(body: SchemaBody, records: Records) -> dict[str, Any]:
    """Return the logstore's time field and fields."""
    schema = records.schema(body.project, body.logstore)
    fields = [{"name": item.name, "type": item.type.value} for item in schema.fields]
    return {"time_field": schema.time_field, "fields": fields}


@router.post("/count")
async def count_records(body: CountBody, records: Records, request: Request) -> dict[str, int]:
    """Return how many rows the query yields; the caller going away interrupts the count."""

    def count(cancellation: Cancellation) -> int:
        return records.count(body.request.to_request(records, cancellation))

    return {"count": await run_until_disconnected(request, count)}


@router.post("/histogram")
async def histogram(
    body: HistogramBody, records: Records, request: Request
) -> dict[str, list[list[Any]]]:
    """Return ``[bucket_start, count]`` pairs, oldest first; a disconnect interrupts it."""
    bucket = timedelta(microseconds=body.bucket_microseconds)

    def buckets(cancellation: Cancellation) -> list[HistogramBucket]:
        return records.histogram(body.request.to_request(records, cancellation), bucket)

    found = await run_until_disconnected(request, buckets)
    return {"buckets": [[item.start.isoformat(), item.count] for item in found]}


@router.post("/stream")
async def stream_records(
    body: StreamBody, records: Records, request: Request
) -> InterruptibleStreamingResponse:
    """Stream the query's rows as an Arrow IPC stream; a disconnect interrupts the query.

    The reader is opened before the response starts, so an error is still an error envelope.
    """

    def open_reader(cancellation: Cancellation) -> pa.RecordBatchReader:
        return records.stream(body.request.to_request(records, cancellation), body.batch_rows)

    cancellation = Cancellation()
    reader = await run_until_disconnected_with(request, cancellation, open_reader)
    return InterruptibleStreamingResponse(
        _ipc_chunks(reader), cancellation, media_type=ARROW_STREAM_MEDIA_TYPE
    )


class _Chunks:
    """A write-only sink that hands back what was written since the last take."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self._pieces.append(piece)
        return len(piece)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        taken = b"".join(self._pieces)
        self._pieces = []
        return taken


def _ipc_chunks(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    sink = _Chunks()
    with reader:
        writer = pa.ipc.new_stream(sink, reader.schema)
        yield sink.take()
        for batch in reader:
            writer.write_batch(batch)
            yield sink.take()
        writer.close()
    yield sink.take()
