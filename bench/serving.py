"""Bench helpers: a real ``logsluice serve`` subprocess, its peak memory, and the machine.

``start_server`` runs the installed ``logsluice serve`` (the console script next to this Python)
on a free loopback port with its own data directory and ``LOGSLUICE_ADMIN_TOKEN`` set, plus any
``LOGSLUICE_*`` settings the bench passes, and waits until ``/healthz`` answers. Its output goes to
``serve.log`` beside the data directory. ``RunningServer.peak_rss_bytes`` reads the server's VmHWM
from ``/proc/<pid>/status``; ``describe_run`` prints what the numbers were measured on.
"""

from __future__ import annotations

import functools
import os
import platform
import secrets
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import process_cpu

LOGSLUICE = Path(sys.executable).parent / "logsluice"
STARTUP_SECONDS = 60.0
STOP_SECONDS = 60.0
REQUEST_SECONDS = 600.0


class BenchError(RuntimeError):
    """A bench step failed: the server did not start, a request failed, counts disagree."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def read_status_bytes(pid: int, field: str) -> int:
    """Return a ``/proc/<pid>/status`` memory field (``VmHWM``, ``VmRSS``) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"/proc/{pid}/status has no {field}")


@dataclass
class RunningServer:
    """A ``logsluice serve`` subprocess: its URL, admin token, data directory and process."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    data_dir: Path
    log_path: Path

    def client(self) -> httpx.Client:
        """Return an httpx client for the native API, authenticated as the admin."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=REQUEST_SECONDS,
        )

    def peak_rss_bytes(self) -> int:
        """Return the server's peak resident memory so far (VmHWM)."""
        return read_status_bytes(self.process.pid, "VmHWM")

    def rss_bytes(self) -> int:
        """Return the server's resident memory now (VmRSS)."""
        return read_status_bytes(self.process.pid, "VmRSS")

    def cpu_seconds(self) -> float:
        """Return the server's CPU time so far: user + system of all its threads."""
        return process_cpu.cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """Stop the server with SIGTERM (it closes its stores), SIGKILL if it will not stop."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def server_environment(token: str, settings: Mapping[str, str]) -> dict[str, str]:
    """Return this environment without ``LOGSLUICE_*``, plus the admin token and ``settings``."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("LOGSLUICE_")
    }
    environment["LOGSLUICE_ADMIN_TOKEN"] = token
    environment |= dict(settings)
    return environment


def start_server(
    data_dir: Path, settings: Mapping[str, str] | None = None, *, core: int | None = None
) -> RunningServer:
    """Start ``logsluice serve`` on a free port over ``data_dir`` and wait for ``/healthz``.

    ``settings`` are extra ``LOGSLUICE_*`` variables; ``core`` pins the process and every thread
    it starts to that core (of the cores this process may use, modulo their number), as a node
    on a one-core host of its own. Raises BenchError when it does not come up.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    port = free_port()
    log_path = data_dir.parent / f"{data_dir.name}-serve.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(LOGSLUICE), "serve", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_environment(token, settings or {}),
            preexec_fn=None if core is None else functools.partial(pin_to_core, core),
        )
    server = RunningServer(process, f"http://127.0.0.1:{port}", token, data_dir, log_path)
    try:
        wait_until_healthy(server)
    except BaseException:
        server.stop()
        raise
    return server


def pin_to_core(core: int) -> None:
    """Pin the calling process (and the threads it starts later) to one core: ``core`` modulo the
    number of cores it may use, counted in their order."""
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[core % len(cores)]})


def wait_until_healthy(server: RunningServer) -> None:
    """Wait until ``GET /healthz`` answers 200. Raises BenchError if the process exits or hangs."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"logsluice serve exited with {server.process.returncode}: {log_tail(server)}"
            )
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise BenchError(f"logsluice serve did not answer /healthz in time: {log_tail(server)}")


def log_tail(server: RunningServer, lines: int = 5) -> str:
    """Return the last ``lines`` lines serve printed, joined, for an error message."""
    text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    return " | ".join(text.strip().splitlines()[-lines:]) or f"(nothing in {server.log_path})"


@contextmanager
def running_server(
    data_dir: Path, settings: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    """Run ``logsluice serve`` for the duration of a ``with`` block; always stop it."""
    server = start_server(data_dir, settings)
    try:
        yield server
    finally:
        server.stop()


def call(client: httpx.Client, method: str, path: str, **options: Any) -> Any:
    """Send one API request and return its JSON (None for 204). Raises BenchError on non-2xx."""
    response = client.request(method, path, **options)
    if response.status_code >= 300:
        raise BenchError(f"{method} {path} → {response.status_code}: {response.text[:500]}")
    return None if response.status_code == 204 else response.json()


def create_logstore(client: httpx.Client, project: str, logstore: str, time_field: str) -> None:
    """Create ``project`` (unless it exists) and its ``logstore`` through the native API."""
    existing = call(client, "GET", "/api/v1/projects")
    names = {item["name"] for item in existing.get("projects", [])}
    if project not in names:
        call(client, "POST", "/api/v1/projects", json={"name": project})
    call(
        client,
        "POST",
        f"/api/v1/projects/{project}/logstores",
        json={"name": logstore, "time_field": time_field, "retention_days": 3650},
    )


def total_memory_bytes() -> int:
    """Return the machine's RAM (MemTotal of ``/proc/meminfo``)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_model() -> str:
    """Return the CPU's model name, or the platform's processor string."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def describe_run() -> str:
    """Return lines naming the machine, the library versions and the exact command of this run."""
    import duckdb
    import pyarrow

    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0))
    memory_gibibytes = total_memory_bytes() / 2**30
    return "\n".join(
        (
            f"machine: {cores} cores ({usable} usable), {memory_gibibytes:.1f} GiB RAM, "
            f"{cpu_model()}, {platform.system()} {platform.release()}",
            f"versions: Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
            f"pyarrow {pyarrow.__version__}",
            "command: " + shlex.join([sys.executable, *sys.argv]),
        )
    )
