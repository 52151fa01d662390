"""A TCP relay between a client and a real server that can hold HTTP POST requests.

It forwards bytes both ways unchanged; while ``hold_posts`` is set, a chunk from the client that
starts a ``POST`` waits (``post_arrived`` is set) until :meth:`release` — so a test can act while
a request is in flight, with the real server behind it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class HoldingRelay:
    """Relays 127.0.0.1:<port> to ``upstream_port``; holds POSTs until released."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.hold_posts = threading.Event()
        self.post_arrived = threading.Event()
        self._released = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self._closing = True
        self._released.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if from_client and chunk.startswith(b"POST ") and self.hold_posts.is_set():
                    self.post_arrived.set()
                    self._released.wait()
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


@contextmanager
def holding_relay(upstream_port: int) -> Iterator[HoldingRelay]:
    relay = HoldingRelay(upstream_port)
    try:
        yield relay
    finally:
        relay.close()
