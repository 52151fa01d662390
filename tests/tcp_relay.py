"""A TCP relay to a real server that a test can cut, as a network partition would.

It forwards bytes both ways unchanged. :meth:`CuttableRelay.cut` closes every connection through
it and refuses new ones (each is closed as soon as it is accepted) until :meth:`restore`.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class CuttableRelay:
    """Relays 127.0.0.1:<port> to 127.0.0.1:``upstream_port``; cut and restored at will."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._cut = False
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Close every relayed connection and refuse new ones until restored."""
        with self._lock:
            self._cut = True
            sockets, self._sockets = self._sockets, []
        for item in sockets:
            with suppress(OSError):
                item.shutdown(socket.SHUT_RDWR)
            item.close()

    def restore(self) -> None:
        """Relay new connections again."""
        with self._lock:
            self._cut = False

    def close(self) -> None:
        """Stop listening and drop every connection."""
        self._closing = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._cut
            if refused:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with suppress(OSError):
        while chunk := source.recv(65536):
            target.sendall(chunk)
    with suppress(OSError):
        target.shutdown(socket.SHUT_WR)
