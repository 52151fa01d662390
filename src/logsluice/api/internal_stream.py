"""Running the internal record endpoints so that a client that goes away interrupts the query.

A ``logsluice worker`` reads records through this node; when its task is cancelled it shuts the
connection. A plain endpoint would not notice until its query produced something, and a ``| SQL``
aggregation may produce nothing for minutes. So each internal endpoint runs its work on a thread
while it listens for ``http.disconnect``; a disconnect cancels the work's
:class:`~logsluice.domain.cancellation.Cancellation`, which interrupts the DuckDB query at once.
These are the only ``async`` endpoints besides streaming responses: they exist to wait on two
things at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import anyio
import anyio.to_thread
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from logsluice.domain.cancellation import Cancellation
from logsluice.domain.errors import LogsluiceError

_Result = TypeVar("_Result")


class _Watch:
    """Cancels the work when the client disconnects before the work has finished."""

    def __init__(self, cancellation: Cancellation) -> None:
        self.cancellation = cancellation
        self.finished = False

    async def listen(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self.finished:  # a client closing after the last byte interrupted nothing
            self.cancellation.cancel()


async def run_until_disconnected(
    request: Request, work: Callable[[Cancellation], _Result]
) -> _Result:
    """Run ``work(cancellation)`` on a worker thread; a client disconnect cancels it."""
    return await run_until_disconnected_with(request, Cancellation(), work)


async def run_until_disconnected_with(
    request: Request, cancellation: Cancellation, work: Callable[[Cancellation], _Result]
) -> _Result:
    """Run ``work(cancellation)`` on a worker thread; a client disconnect cancels it."""
    failure: Exception | None = None
    watch = _Watch(cancellation)
    async with anyio.create_task_group() as group:
        group.start_soon(watch.listen, request.receive)
        try:
            result = await anyio.to_thread.run_sync(work, cancellation)
            watch.finished = True
        except Exception as error:  # noqa: BLE001 - raised below, outside the task group
            failure = error  # (inside, anyio would wrap it in an ExceptionGroup)
        finally:
            group.cancel_scope.cancel()
    _log_if_interrupted(cancellation)
    if failure is not None:
        raise failure
    return result


def _log_if_interrupted(cancellation: Cancellation) -> None:
    """Say that a query was interrupted, once the thread that ran it has returned."""
    if cancellation.cancelled:
        structlog.get_logger().info("records.interrupted")


class InterruptibleStreamingResponse(Response):
    """Streams the chunks of a blocking iterator; a client disconnect cancels it.

    The iterator is advanced on worker threads. When the client goes away, the cancellation
    interrupts the query the iterator is blocked in, which ends it (and closes its reader).
    """

    def __init__(
        self, chunks: Iterator[bytes], cancellation: Cancellation, media_type: str
    ) -> None:
        # no body: the length is unknown, so no Content-Length (chunked, as StreamingResponse)
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers()
        self._chunks = chunks
        self._cancellation = cancellation
        self._watch = _Watch(cancellation)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self._watch.listen, receive)
            try:
                await self._pump(send)
            except Exception as error:  # noqa: BLE001 - raised below, outside the task group
                failure = error
            finally:
                group.cancel_scope.cancel()
        _log_if_interrupted(self._cancellation)
        if failure is not None:
            raise failure

    async def _pump(self, send: Send) -> None:
        try:
            while (chunk := await anyio.to_thread.run_sync(next, self._chunks, None)) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self._watch.finished = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            self._cancellation.cancel()  # the client went away while we sent
        except LogsluiceError:
            if not self._cancellation.cancelled:
                raise  # the query failed on its own: the client sees the stream break off
