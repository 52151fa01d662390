"""Bench helpers for the reliability scripts: servers started, killed with SIGKILL and restarted.

``ServerPool`` starts ``logsluice serve`` over a data directory (``bench/serving.py``) and keeps
every server it started, so that a run that fails still stops them all (``stop_all``); ``kill``
ends one with SIGKILL, as a crash or the kernel's OOM killer would. ``rows_and_ids`` and
``file_sha256`` check an exported file.
"""

from __future__ import annotations

import hashlib
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serving import BenchError, RunningServer, start_server


class ServerPool:
    """Every ``serve`` a bench started, with the settings they all run with."""

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.settings = dict(settings or {})
        self.started: list[RunningServer] = []

    def start(self, data_dir: Path) -> RunningServer:
        """Start ``serve`` over ``data_dir`` with the pool's settings; wait until it is healthy."""
        server = start_server(data_dir, self.settings)
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        """Stop every server still running (SIGTERM, then SIGKILL)."""
        for server in self.started:
            server.stop()


def kill(server: RunningServer) -> None:
    """End ``server`` with SIGKILL and wait for the process to be gone."""
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()


READERS = {"csv": "read_csv", "jsonl": "read_json", "parquet": "read_parquet"}


def rows_and_ids(path: Path, export_format: str) -> tuple[int, int]:
    """Return the rows and the distinct ``trace_id`` values of an exported file, read by DuckDB."""
    import duckdb

    reader = READERS[export_format]
    connection = duckdb.connect(config={"threads": 1})
    try:
        row = connection.execute(
            f"SELECT count(*), count(DISTINCT trace_id) FROM {reader}(?)", [str(path)]
        ).fetchone()
    finally:
        connection.close()
    if row is None:
        raise BenchError(f"DuckDB read nothing from {path}")
    return int(row[0]), int(row[1])


def file_sha256(path: Path) -> str:
    """Return the sha256 of a file, read 16 MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while block := reader.read(16 << 20):
            digest.update(block)
    return digest.hexdigest()
