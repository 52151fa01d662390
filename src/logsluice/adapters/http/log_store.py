"""HttpLogStore: the read side of a log store (``RecordReader``) served by a logsluice node.

Worker processes use it to read records they cannot open themselves (an embedded DuckDB file is
held by the ``serve`` process; a lake is opened by every worker directly). Queries are read and
compiled with DuckDB's rules, the engine of the file it reads through. It authenticates with the
admin bearer token, sends each query as JSON and reads rows back as an Arrow IPC stream, batch by
batch, so memory stays bounded by a few batches as in the embedded case. A node that cannot be
reached or times out is StorageUnavailableError (an outage a task waits out, ADR 0024); other
transport failures become BackendUnavailableError (retryable).
A query's cancellation shuts its socket, which wakes the reading thread and makes the node
interrupt its own query (``SocketInterrupt``).
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, suppress
from datetime import timedelta
from typing import Any

import httpx
import pyarrow as pa

from logsluice.adapters.duckdb.query_language import DuckDBQueryLanguage
from logsluice.adapters.duckdb.tables import field_type_from_arrow, table_sql
from logsluice.adapters.http.wire import (
    error_from_envelope,
    parse_datetime,
    request_to_json,
)
from logsluice.domain.cancellation import Cancellation, interrupting
from logsluice.domain.catalog import Field, FieldType, LogstoreSchema
from logsluice.domain.cdn_statistics import ExportParameters
from logsluice.domain.errors import (
    BackendUnavailableError,
    LogsluiceError,
    QueryCancelledError,
    StorageUnavailableError,
)
from logsluice.ports import ColumnInfo, HistogramBucket, RecordsQuery
from logsluice.query import ParsedQuery

INTERNAL_PREFIX = "/internal/v1/records"
_BUFFER_BYTES = 1024 * 1024
_FETCH_BATCH_ROWS = 65_536
_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=30.0)


class _ResponseFile(io.RawIOBase):
    """A readable file over an HTTP response body, for Arrow's IPC reader."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            next_chunk = next(self._chunks, None)
            if next_chunk is None:
                return 0
            self._pending = next_chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class HttpLogStore:
    """Implements :class:`logsluice.ports.RecordReader` over a logsluice node's internal API."""

    def __init__(self, server_url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.server_url = server_url.rstrip("/")
        # one connection per request, so each request's socket is its own to shut on a cancel
        self._http = httpx.Client(
            base_url=self.server_url,
            headers=headers,
            timeout=_TIMEOUT,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._language = DuckDBQueryLanguage()

    def parse_query(self, text: str) -> ParsedQuery:
        """Return the query checked with DuckDB's SQL rules. Raises InvalidQueryError."""
        return self._language.parse_query(text)

    def compile_query(self, request: RecordsQuery) -> str:
        """Return the DuckDB SELECT ``request`` runs on the serving node."""
        schema = self.schema(request.project, request.logstore)
        return self._language.compile_select(
            request, schema, table_sql(request.project, request.logstore)
        )

    def statistics_query(self, parameters: ExportParameters) -> str:
        """Return the DuckDB ``* | SELECT …`` text of a Huawei CDN statistics export."""
        return self._language.statistics_query(parameters)

    def fetch(self, request: RecordsQuery) -> tuple[list[ColumnInfo], pa.Table]:
        """Return the query's columns and rows (at most ``request.limit``), read as a stream."""
        with self.stream(request, _FETCH_BATCH_ROWS) as reader:
            table = reader.read_all()
        columns = [
            ColumnInfo(name=field.name, type=str(field_type_from_arrow(field.type)))
            for field in table.schema
        ]
        return columns, table

    def schema(self, project: str, logstore: str) -> LogstoreSchema:
        """Return the logstore's fields. Raises LogstoreNotFoundError, BackendUnavailableError."""
        body = self._post("schema", {"project": project, "logstore": logstore})
        fields = tuple(Field(item["name"], FieldType(item["type"])) for item in body["fields"])
        return LogstoreSchema(time_field=body["time_field"], fields=fields)

    def count(self, request: RecordsQuery) -> int:
        """Return how many rows the query yields over its whole range."""
        body = self._post("count", {"request": request_to_json(request)}, request.cancellation)
        return int(body["count"])

    def histogram(self, request: RecordsQuery, bucket: timedelta) -> list[HistogramBucket]:
        """Return counts of matched records per ``bucket``, oldest first."""
        body = self._post(
            "histogram",
            {
                "request": request_to_json(request),
                "bucket_microseconds": bucket // timedelta(microseconds=1),
            },
            request.cancellation,
        )
        return [
            HistogramBucket(start=parse_datetime(start), count=int(count))
            for start, count in body["buckets"]
        ]

    def stream(self, request: RecordsQuery, batch_rows: int) -> pa.RecordBatchReader:
        """Return a reader over the query's rows, streamed from the server as Arrow IPC."""
        body = {"request": request_to_json(request), "batch_rows": batch_rows}
        http_request = self._http.build_request("POST", f"{INTERNAL_PREFIX}/stream", json=body)
        connection = SocketInterrupt(request.cancellation)
        held = ExitStack()
        held.enter_context(connection.held())
        try:
            response = self._send(connection.traced(http_request), stream=True, of=connection)
            held.callback(response.close)
            # BufferedReader.read(n) keeps reading until n bytes (Arrow treats short reads as EOF).
            body_file = io.BufferedReader(_ResponseFile(response.iter_raw()), _BUFFER_BYTES)
            reader = pa.ipc.open_stream(body_file)
        except (pa.ArrowInvalid, httpx.HTTPError) as error:
            held.close()
            raise connection.failure(f"bad record stream from the server: {error}") from error
        except BaseException:
            held.close()
            raise
        return pa.RecordBatchReader.from_batches(reader.schema, _batches(reader, held, connection))

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def _post(
        self, operation: str, body: dict[str, Any], cancellation: Cancellation | None = None
    ) -> Any:
        http_request = self._http.build_request("POST", f"{INTERNAL_PREFIX}/{operation}", json=body)
        connection = SocketInterrupt(cancellation)
        with connection.held():
            response = self._send(connection.traced(http_request), stream=False, of=connection)
        return response.json()

    def _send(
        self, http_request: httpx.Request, *, stream: bool, of: SocketInterrupt | None = None
    ) -> httpx.Response:
        try:
            response = self._http.send(http_request, stream=stream)
        except httpx.HTTPError as error:
            message = f"cannot reach the serving node at {self.server_url}: {error}"
            # unreachable or timed out: an outage a task waits out (ADR 0024)
            store = self.server_url if isinstance(error, httpx.TransportError) else None
            raise (of or SocketInterrupt(None)).failure(message, store=store) from error
        if response.status_code >= 400:
            response.read()
            response.close()
            raise error_from_envelope(response.status_code, _json_or_none(response))
        return response


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _batches(
    reader: pa.RecordBatchReader, held: ExitStack, connection: SocketInterrupt
) -> Iterator[pa.RecordBatch]:
    with held:
        try:
            yield from reader
        except (pa.ArrowInvalid, OSError, httpx.HTTPError) as error:
            raise connection.failure(f"the record stream broke off: {error}") from error


class SocketInterrupt:
    """Shuts one request's socket when its cancellation is cancelled.

    Shutting a socket wakes a thread blocked reading it; the serving node sees the connection
    close and interrupts its own query (``api/internal_stream.py``). The socket is found through
    httpx's trace hook, when the request's connection is made (connections are not reused).
    """

    def __init__(self, cancellation: Cancellation | None) -> None:
        self._cancellation = cancellation
        self._socket: socket.socket | None = None

    def traced(self, http_request: httpx.Request) -> httpx.Request:
        """Return ``http_request`` with the trace hook that notes its socket."""
        if self._cancellation is not None:
            http_request.extensions["trace"] = self._trace
        return http_request

    def held(self) -> AbstractContextManager[None]:
        """While the ``with`` block runs, a cancel shuts the socket."""
        return interrupting(self._cancellation, self._shut)

    def failure(self, message: str, *, store: str | None = None) -> LogsluiceError:
        """Return the error for a broken request: cancelled, the node unreachable (``store``
        names it: StorageUnavailableError), or the node unavailable."""
        if self._cancellation is not None and self._cancellation.cancelled:
            return QueryCancelledError(f"query cancelled: {message}")
        if store is not None:
            return StorageUnavailableError(message, store=f"the serving node {store}")
        return BackendUnavailableError(message)

    def _trace(self, event_name: str, info: dict[str, Any]) -> None:
        if event_name == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            found = stream.get_extra_info("socket") if stream is not None else None
            self._socket = found if isinstance(found, socket.socket) else None
            if self._cancellation is not None and self._cancellation.cancelled:
                self._shut()

    def _shut(self) -> None:
        if self._socket is not None:
            with suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
